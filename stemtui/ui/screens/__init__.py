"""The app's screens: library, player, help and small dialogs."""

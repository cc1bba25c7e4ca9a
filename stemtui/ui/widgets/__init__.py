"""Widgets of the player: stem table, transport, meters, status line."""

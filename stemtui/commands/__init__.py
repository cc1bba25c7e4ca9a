"""Command implementations behind stemtui.cli's argument parsing.

Each imports heavy modules inside the function, so `stemtui --help` stays fast.
"""

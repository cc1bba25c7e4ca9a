"""stemtui: a terminal practice player for musicians."""

__version__ = "0.1.0"

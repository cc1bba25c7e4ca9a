"""UI-free core of stemtui: songs, store, mixer, engine and separation.

Nothing in this package may import textual; ``tests/unit/test_layering.py``
enforces it.
"""

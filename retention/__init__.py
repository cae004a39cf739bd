"""Retention: how long a document must be kept, and the WORM archive that enforces it."""

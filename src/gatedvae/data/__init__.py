"""Data acquisition: downloads, dSprites (rendered here or read from the official file)."""

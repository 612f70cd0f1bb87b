"""Studies over the main recipe: the beta sweep, supervision noise, faces pairing granularity."""

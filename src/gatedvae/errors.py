"""The one base of every failure a user can fix (a params value, a data file, a diverged run).

Its message names the file, key or row and what to do. A stage ends on one with that message
and exit code 2 (gatedvae.stage), never with a traceback.
"""


class StageError(Exception):
    """A known failure whose message tells the user what to fix."""

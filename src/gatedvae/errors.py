"""The one base of every failure a user can fix (a params value, a data file, a diverged run).

Its message names the file, key or row and what to do. A stage ends on one with that message
and exit code 2 (gatedvae.stage), never with a traceback.
"""


class StageError(Exception):
    """A known failure whose message tells the user what to fix."""


class InputError(StageError):
    """An input file (an earlier stage's output) is missing or unreadable; `path` names it, and
    the stage harness adds which stage makes it."""

    def __init__(self, path, problem: str):
        self.path, self.problem = str(path), problem
        super().__init__(f"{path}: {problem}")

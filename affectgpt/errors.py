"""Errors the CLI prints as one line (exit status 2) instead of a traceback."""

__all__ = ["CLIError", "PipelineError"]


class CLIError(Exception):
    """A user-facing error: bad argument, missing file, unusable model folder."""


class PipelineError(CLIError, ValueError):
    """A user-facing pipeline error: the CLI prints it as one line; Python callers may catch ValueError."""

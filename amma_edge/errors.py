"""Errors a user can act on.

Everything raised as `AmmaEdgeError` is shown by the CLI as a one-line message without a traceback, so its
text must say what is wrong and what to do about it. Programming errors stay ordinary exceptions.
"""


class AmmaEdgeError(Exception):
    """A problem with the user's input, files or environment, with a message that says how to fix it."""


class MissingDependencyError(AmmaEdgeError):
    """An optional library is needed for the requested feature but is not installed."""

    def __init__(self, package: str, feature: str, hint: str | None = None):
        message = f"{feature} needs the Python package '{package}', which is not installed: pip install {package}"
        if hint:
            message += f" ({hint})"
        super().__init__(message)
        self.package = package


class InputShapeError(AmmaEdgeError, ValueError):
    """A tensor or array handed to a model or kernel does not have the shape it expects."""

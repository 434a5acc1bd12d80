"""Logging into the host's log, which tags each line with the handler's name.

The host keeps at most 1,000 messages per invocation and cuts each at 4 KiB.
"""

from __future__ import annotations

from ._host import backend

#: The levels the host's ``log`` import accepts, lowest first.
LEVELS = ("trace", "debug", "info", "warn", "error")


def log(level: str, message: str) -> None:
    """Write ``message`` to the host's log at ``level``, one of :data:`LEVELS`."""
    if level not in LEVELS:
        raise ValueError(f"invalid log level {level!r}; expected one of {', '.join(LEVELS)}")
    backend().log(level, str(message))


def trace(message: str) -> None:
    """Write ``message`` at trace level."""
    log("trace", message)


def debug(message: str) -> None:
    """Write ``message`` at debug level."""
    log("debug", message)


def info(message: str) -> None:
    """Write ``message`` at info level."""
    log("info", message)


def warn(message: str) -> None:
    """Write ``message`` at warn level."""
    log("warn", message)


def error(message: str) -> None:
    """Write ``message`` at error level."""
    log("error", message)

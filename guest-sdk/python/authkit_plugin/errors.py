"""Errors that SDK helpers raise and that handlers may raise."""

from __future__ import annotations


class Error(Exception):
    """An error that a handler reports to the host.

    The host receives only the message. Raised from an event callback, it
    makes the host discard the handler's store writes and retry the event
    later. Raised from an action callback, it makes the host return its
    fallback verdict to WorkOS. Every other exception has the same effect,
    and the SDK also logs its traceback at error level.
    """


class StoreError(Error):
    """A store call the host rejected.

    ``kind`` is the WIT ``store-error`` case: ``"invalid-key"``,
    ``"value-too-large"`` or ``"unavailable"``. ``detail`` is the host's
    message.
    """

    _PREFIXES = {
        "invalid-key": "invalid store key",
        "value-too-large": "store value too large",
        "unavailable": "store unavailable",
    }

    def __init__(self, kind: str, detail: str) -> None:
        self.kind = kind
        self.detail = detail
        super().__init__(f"{self._PREFIXES.get(kind, kind)}: {detail}")


class PayloadError(Error, ValueError):
    """A JSON document that did not parse into the expected type."""


class UserLookupError(Error):
    """A users lookup that failed in the host."""

"""The handler's private key-value store.

Keys are strings and values are bytes. Store writes made while handling one
event or action commit together with the host's record of that event or
action, or not at all: when a callback raises, the host discards every
write the callback made. The host limits key and value sizes and reports a
breach as a :class:`~authkit_plugin.StoreError` whose ``kind`` is
``"invalid-key"`` or ``"value-too-large"``.

:func:`get_json`, :func:`set_json` and :func:`list_json` store values as
compact UTF-8 JSON.
"""

from __future__ import annotations

import builtins
import json
from typing import Any, NamedTuple, Optional, Tuple, Union

from ._host import backend
from .errors import Error
from .types import dumps


class Entry(NamedTuple):
    """One stored entry."""

    key: str
    value: bytes


def get(key: str) -> Optional[bytes]:
    """Return the value stored at ``key``, or ``None`` if the key is absent."""
    return backend().store_get(key)


def set(key: str, value: Union[bytes, bytearray, memoryview]) -> None:
    """Store ``value`` at ``key``, replacing any earlier value.

    ``value`` must be bytes. Use :func:`set_json` for other values, or
    ``text.encode()`` for text.
    """
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError(
            f"store.set({key!r}, …) takes bytes, not {type(value).__name__}; "
            "use store.set_json for other values or encode text first"
        )
    backend().store_set(key, bytes(value))


def delete(key: str) -> None:
    """Delete ``key``. Deleting an absent key succeeds."""
    backend().store_delete(key)


def list(prefix: str) -> builtins.list[Entry]:
    """Return the entries whose keys start with ``prefix``, sorted by key."""
    return [Entry(key, value) for key, value in backend().store_list(prefix)]


def get_json(key: str, default: Any = None) -> Any:
    """Return the value at ``key`` parsed from JSON, or ``default`` if the
    key is absent.

    Raises :class:`~authkit_plugin.Error` naming the key when the stored
    bytes are not JSON.
    """
    value = get(key)
    if value is None:
        return default
    return _decode(key, value)


def set_json(key: str, value: Any) -> None:
    """Store ``value`` at ``key`` as compact UTF-8 JSON."""
    try:
        encoded = dumps(value)
    except (TypeError, ValueError) as error:
        raise Error(
            f"failed to serialize the value for store key `{key}` as JSON: {error}"
        ) from None
    set(key, encoded)


def list_json(prefix: str) -> builtins.list[Tuple[str, Any]]:
    """Return ``(key, parsed JSON value)`` pairs for the keys that start with
    ``prefix``, sorted by key."""
    return [(entry.key, _decode(entry.key, entry.value)) for entry in list(prefix)]


def _decode(key: str, value: bytes) -> Any:
    try:
        return json.loads(value)
    except ValueError as error:
        raise Error(
            f"store value at key `{key}` is not valid JSON: {error}; "
            "delete the key or store a value of the expected shape"
        ) from None


__all__ = ["Entry", "get", "set", "delete", "list", "get_json", "set_json", "list_json"]

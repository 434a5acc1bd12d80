"""The bridge to the host imports.

Every SDK call that reaches the host goes through the backend returned by
:func:`backend`. Inside a component that is :class:`WitBackend`, which
calls the bindings componentize-py generates into the ``wit_world``
package at build time. :mod:`authkit_plugin.testing` swaps in an in-memory
backend, so handler logic also runs under an ordinary CPython.

The bindings are imported when this module loads, not on first use:
componentize-py keeps only the imports that modules loaded during its
build-time pre-initialization use, and drops the rest from the component.
"""

from __future__ import annotations

from typing import Any, List, Optional, Tuple

from .errors import StoreError, UserLookupError
from .types import UserRecord

try:
    from componentize_py_types import Err
    from wit_world.imports import log as _log
    from wit_world.imports import settings as _settings
    from wit_world.imports import store as _store
    from wit_world.imports import types as wit_types
    from wit_world.imports import users as _users
except ImportError:
    # An ordinary CPython, where only an in-memory backend can serve calls.
    Err = None
    wit_types = None

_backend = None  # type: Any


def backend() -> Any:
    """Return the active backend, creating the WIT one on first use."""
    global _backend
    if _backend is None:
        _backend = WitBackend()
    return _backend


def set_backend(new_backend: Any) -> Any:
    """Install ``new_backend`` and return the previous one (or ``None``)."""
    global _backend
    previous = _backend
    _backend = new_backend
    return previous


_STORE_ERROR_KINDS = {
    "StoreError_InvalidKey": "invalid-key",
    "StoreError_ValueTooLarge": "value-too-large",
    "StoreError_Unavailable": "unavailable",
}


def user_record_from_wit(user: Any) -> UserRecord:
    """Convert a generated ``types.User`` into a :class:`UserRecord`."""
    return UserRecord(
        id=user.id,
        email=user.email,
        email_verified=user.email_verified,
        first_name=user.first_name,
        last_name=user.last_name,
        name=user.name,
        profile_picture_url=user.profile_picture_url,
        last_sign_in_at=user.last_sign_in_at,
        locale=user.locale,
        external_id=user.external_id,
        metadata=[(key, value) for key, value in user.metadata],
        created_at=user.created_at,
        updated_at=user.updated_at,
        raw=user.raw,
    )


class WitBackend:
    """Calls the generated bindings of the ``authkit-handler`` world."""

    def __init__(self) -> None:
        if wit_types is None:
            raise RuntimeError(
                "the authkit host imports exist only inside a component built by "
                "componentize-py; in tests, wrap the code in "
                "`with authkit_plugin.testing.MemoryHost():`"
            )
        self._err = Err
        self._log = _log
        self._settings = _settings
        self._store = _store
        self._users = _users

    def log(self, level: str, message: str) -> None:
        self._log.log(self._log.Level[level.upper()], message)

    def store_get(self, key: str) -> Optional[bytes]:
        return self._call_store(self._store.get, key)

    def store_set(self, key: str, value: bytes) -> None:
        self._call_store(self._store.set, key, value)

    def store_delete(self, key: str) -> None:
        self._call_store(self._store.delete, key)

    def store_list(self, prefix: str) -> List[Tuple[str, bytes]]:
        entries = self._call_store(self._store.list, prefix)
        return [(entry.key, bytes(entry.value)) for entry in entries]

    def settings_get(self, key: str) -> Optional[str]:
        return self._settings.get(key)

    def settings_all(self) -> List[Tuple[str, str]]:
        return [(key, value) for key, value in self._settings.all()]

    def find_user(self, by: str, value: str) -> Optional[UserRecord]:
        lookup = {
            "id": self._users.get_by_id,
            "email": self._users.get_by_email,
            "external_id": self._users.get_by_external_id,
        }[by]
        try:
            user = lookup(value)
        except self._err as error:
            raise UserLookupError(
                f"failed to look up user {by.replace('_', ' ')} `{value}`: {error.value}"
            ) from None
        return None if user is None else user_record_from_wit(user)

    def _call_store(self, function: Any, *arguments: Any) -> Any:
        try:
            return function(*arguments)
        except self._err as error:
            cause = error.value
            kind = _STORE_ERROR_KINDS.get(type(cause).__name__, type(cause).__name__)
            raise StoreError(kind, str(cause.value)) from None

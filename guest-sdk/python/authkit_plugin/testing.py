"""An in-memory stand-in for the host, to test handler logic under an
ordinary CPython.

::

    with MemoryHost(settings={"allowed_domains": "example.com"}) as host:
        MyHandler().handle_event(event)
        assert host.store["todos/user_1"] == b"..."

Inside the block every SDK call reaches this object instead of the host
imports. Unlike the host it applies writes at once and never rolls them
back, and it does not enforce the host's key and value size limits.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from . import _host
from .types import UserRecord


class MemoryHost:
    """The host imports backed by dicts: ``store``, ``settings``, ``users``
    and the ``logs`` written so far as ``(level, message)`` pairs."""

    def __init__(
        self,
        settings: Optional[Dict[str, str]] = None,
        users: Optional[List[UserRecord]] = None,
    ) -> None:
        self.store = {}  # type: Dict[str, bytes]
        self.settings = dict(settings or {})
        self.users = list(users or [])
        self.logs = []  # type: List[Tuple[str, str]]
        self._previous = None  # type: Any

    def __enter__(self) -> "MemoryHost":
        self._previous = _host.set_backend(self)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        _host.set_backend(self._previous)

    def log(self, level: str, message: str) -> None:
        self.logs.append((level, message))

    def store_get(self, key: str) -> Optional[bytes]:
        return self.store.get(key)

    def store_set(self, key: str, value: bytes) -> None:
        self.store[key] = value

    def store_delete(self, key: str) -> None:
        self.store.pop(key, None)

    def store_list(self, prefix: str) -> List[Tuple[str, bytes]]:
        return sorted((k, v) for k, v in self.store.items() if k.startswith(prefix))

    def settings_get(self, key: str) -> Optional[str]:
        return self.settings.get(key)

    def settings_all(self) -> List[Tuple[str, str]]:
        return sorted(self.settings.items())

    def find_user(self, by: str, value: str) -> Optional[UserRecord]:
        for user in self.users:
            if by == "email" and user.email.lower() == value.lower():
                return user
            if by != "email" and getattr(user, by) == value:
                return user
        return None

"""Read access to the users the host has synced from WorkOS.

Each function returns ``None`` when the host has no such user, which
includes deleted users, and raises :class:`~authkit_plugin.UserLookupError`
when the host's lookup fails.
"""

from __future__ import annotations

from typing import Optional

from ._host import backend
from .types import UserRecord


def by_id(user_id: str) -> Optional[UserRecord]:
    """Return the user with this WorkOS id (``user_…``)."""
    return backend().find_user("id", user_id)


def by_email(email: str) -> Optional[UserRecord]:
    """Return the user with this email address, compared case-insensitively."""
    return backend().find_user("email", email)


def by_external_id(external_id: str) -> Optional[UserRecord]:
    """Return the user with this external id."""
    return backend().find_user("external_id", external_id)

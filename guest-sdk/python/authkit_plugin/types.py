"""The values handlers receive and return: events, actions, verdicts and
the handler's description.

These are plain dataclasses owned by the SDK, not the classes
componentize-py generates, so handler logic runs and tests under an
ordinary CPython too. The adapter in :mod:`authkit_plugin.handler` converts
between the two.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, List, Optional, Tuple, Union

from .errors import PayloadError
from .payload import (
    Organization,
    OrganizationMembership,
    Payload,
    User,
    parse_json,
    parse_payload,
)


class ActionKind(str, Enum):
    """The kinds of AuthKit Actions a handler can decide."""

    AUTHENTICATION = "authentication"
    USER_REGISTRATION = "user-registration"


@dataclass
class PluginInfo:
    """A handler's stable name, version, event subscriptions and action kinds.

    ``name`` keys the handler's store and settings in the host, so keep it
    stable across versions. ``events`` takes exact event types
    (``user.created``), prefix patterns (``user.*``) or ``*``.
    """

    name: str
    version: str
    events: List[str] = field(default_factory=list)
    actions: List[ActionKind] = field(default_factory=list)


@dataclass(frozen=True)
class Event:
    """One WorkOS event, as the host stored it."""

    #: The event id (``event_…``), unique across deliveries.
    id: str
    #: The event type, for example ``user.created``.
    event_type: str
    #: When WorkOS created the event, as the ISO-8601 text it sent.
    created_at: str
    #: The ``data`` object exactly as received, as JSON text.
    data: str
    #: The optional ``context`` object, as JSON text.
    context: Optional[str] = None

    def payload(self) -> Payload:
        """Parse ``data`` into the class the event type implies.

        See :func:`authkit_plugin.payload.parse_payload` for the mapping.
        """
        return parse_payload(self.event_type, self.data)

    def user(self) -> User:
        """Parse ``data`` as a WorkOS user, whatever the event type."""
        return User.from_json(self.data, f"`{self.event_type}` event data")

    def data_json(self) -> Any:
        """Parse ``data`` as plain JSON."""
        return parse_json(f"`{self.event_type}` event data", self.data)

    def context_json(self) -> Any:
        """Parse ``context`` as JSON, or return ``None`` if the event has none."""
        if self.context is None:
            return None
        return parse_json(f"`{self.event_type}` event context", self.context)


@dataclass
class UserRecord:
    """A user in the host's users table, as the ``users`` lookups and the
    authentication action return it."""

    id: str
    email: str
    email_verified: bool
    first_name: Optional[str]
    last_name: Optional[str]
    name: Optional[str]
    profile_picture_url: Optional[str]
    last_sign_in_at: Optional[str]
    locale: Optional[str]
    external_id: Optional[str]
    metadata: List[Tuple[str, str]]
    created_at: str
    updated_at: str
    #: The user object as WorkOS sent it, as JSON text, unknown fields included.
    raw: str

    def workos_user(self) -> User:
        """Parse ``raw``, including fields this record does not carry."""
        return User.from_json(self.raw, "raw user record")

    def metadata_value(self, key: str) -> Optional[str]:
        """Return the metadata value for ``key``, or ``None`` if unset."""
        for name, value in self.metadata:
            if name == key:
                return value
        return None


def email_domain(email: str) -> Optional[str]:
    """Return the part of ``email`` after the last ``@``, or ``None`` if
    there is no ``@``."""
    at = email.rfind("@")
    return None if at < 0 else email[at + 1 :]


@dataclass
class UserData:
    """The details a person entered when registering."""

    email: str
    first_name: Optional[str] = None
    last_name: Optional[str] = None
    name: Optional[str] = None

    def email_domain(self) -> Optional[str]:
        """Return the part of the email address after the last ``@``."""
        return email_domain(self.email)


@dataclass
class AuthenticationContext:
    """An authentication action: a user is signing in."""

    #: The action id WorkOS sent.
    id: str
    user: UserRecord
    organization_id: Optional[str] = None
    organization_membership_id: Optional[str] = None
    ip_address: Optional[str] = None
    user_agent: Optional[str] = None
    device_fingerprint: Optional[str] = None
    issuer: Optional[str] = None
    authentication_method: Optional[str] = None
    #: The whole request body, as JSON text.
    raw: str = "{}"

    kind = ActionKind.AUTHENTICATION

    def raw_json(self) -> Any:
        """Parse the whole request body as JSON."""
        return parse_json("authentication action body", self.raw)

    def organization(self) -> Optional[Organization]:
        """Parse the body's ``organization``, or return ``None`` without one."""
        return self._raw_field("organization", Organization)

    def organization_membership(self) -> Optional[OrganizationMembership]:
        """Parse the body's ``organization_membership``, or return ``None``."""
        return self._raw_field("organization_membership", OrganizationMembership)

    def _raw_field(self, name: str, cls: Any) -> Any:
        body = self.raw_json()
        if not isinstance(body, dict):
            raise PayloadError("authentication action body is not a JSON object")
        value = body.get(name)
        if value is None:
            return None
        return cls.from_dict(value, f"authentication action `{name}`")


@dataclass
class UserRegistrationContext:
    """A user registration action: a new user is signing up."""

    #: The action id WorkOS sent.
    id: str
    user_data: UserData
    #: The id of the invitation the user registers through, if any.
    invitation_id: Optional[str] = None
    ip_address: Optional[str] = None
    user_agent: Optional[str] = None
    device_fingerprint: Optional[str] = None
    authentication_method: Optional[str] = None
    #: The whole request body, as JSON text.
    raw: str = "{}"

    kind = ActionKind.USER_REGISTRATION

    def raw_json(self) -> Any:
        """Parse the whole request body as JSON."""
        return parse_json("user registration action body", self.raw)


#: One action request: the context of the action's kind.
Action = Union[AuthenticationContext, UserRegistrationContext]


@dataclass(frozen=True)
class Allow:
    """The verdict that lets the sign-in or registration proceed."""


@dataclass(frozen=True)
class Deny:
    """The verdict that stops the sign-in or registration."""

    #: The message WorkOS shows to the user.
    message: str


Verdict = Union[Allow, Deny]


def allow() -> Allow:
    """Return the verdict that lets the action proceed."""
    return Allow()


def deny(message: str) -> Deny:
    """Return the verdict that stops the action, with the message WorkOS
    shows to the user."""
    if not isinstance(message, str):
        raise TypeError(f"deny() takes the message as str, not {type(message).__name__}")
    return Deny(message)


def dumps(value: Any) -> bytes:
    """Serialize ``value`` as compact UTF-8 JSON, as the store helpers write it."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

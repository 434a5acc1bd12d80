"""Typed WorkOS payloads, parsed from an event's ``data`` JSON.

The classes follow the WorkOS wire format: snake_case field names, ``null``
or an absent field for a missing optional value, and timestamps as the
ISO-8601 text WorkOS sent. Each class keeps the fields it does not name,
such as ``object``, in its ``extra`` dict, so a new WorkOS field never
breaks parsing.

:func:`parse_payload` picks the class from the event type:

============================  ==========================
event type                    payload
============================  ==========================
``user.*``                    :class:`User`
``session.*``                 :class:`Session`
``organization.*``            :class:`Organization`
``organization_membership.*`` :class:`OrganizationMembership`
``dsync.user.*``              :class:`DirectoryUser`
anything else                 the parsed JSON value
============================  ==========================
"""

from __future__ import annotations

import json
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, Dict, List, Optional, Type, TypeVar, Union

from .errors import PayloadError

T = TypeVar("T", bound="_WireObject")


def parse_json(source: str, text: str) -> Any:
    """Parse ``text`` as JSON, naming ``source`` in the error."""
    try:
        return json.loads(text)
    except ValueError as error:
        raise PayloadError(f"failed to parse {source} as JSON: {error}") from None


class _FieldError(Exception):
    """A field of the wrong type or a missing required field."""


def _check(value: Any, kind: str, name: str) -> Any:
    """Return ``value`` if it matches ``kind``, else raise a _FieldError."""
    expected = {
        "str": str,
        "bool": bool,
        "dict": dict,
        "list": list,
    }[kind]
    if not isinstance(value, expected):
        raise _FieldError(
            f"field `{name}` is {type(value).__name__} {value!r:.60}; expected {kind}"
        )
    return value


@dataclass
class _WireObject:
    """Shared parsing for the payload classes.

    Subclasses list each field's JSON kind in ``_KINDS``, and the nested
    payload classes in ``_NESTED``. A field without a default is required.
    """

    _KINDS = {}  # type: Dict[str, str]
    _NESTED = {}  # type: Dict[str, Any]

    @classmethod
    def from_dict(cls: Type[T], value: Any, source: str = "JSON") -> T:
        """Build an instance from a parsed JSON object.

        Raises :class:`PayloadError` naming ``source``, the class and the
        field when a required field is missing or a field has the wrong type.
        """
        try:
            return cls._from_dict(value)
        except _FieldError as error:
            raise PayloadError(
                f"failed to parse {source} as {cls.__name__}: {error}"
            ) from None

    @classmethod
    def from_json(cls: Type[T], text: str, source: str = "JSON") -> T:
        """Build an instance from JSON text, like :meth:`from_dict`."""
        return cls.from_dict(parse_json(source, text), source)

    @classmethod
    def _from_dict(cls: Type[T], value: Any) -> T:
        if not isinstance(value, dict):
            raise _FieldError(f"expected a JSON object, found {type(value).__name__}")
        arguments = {}  # type: Dict[str, Any]
        extra = dict(value)
        for item in fields(cls):
            if item.name == "extra":
                continue
            present = item.name in value and value[item.name] is not None
            extra.pop(item.name, None)
            required = item.default is MISSING and item.default_factory is MISSING
            if not present:
                if required:
                    raise _FieldError(f"field `{item.name}` is missing")
                continue
            raw = value[item.name]
            nested = cls._NESTED.get(item.name)
            if nested is None:
                arguments[item.name] = _check(raw, cls._KINDS[item.name], item.name)
            elif cls._KINDS[item.name] == "list":
                items = _check(raw, "list", item.name)
                arguments[item.name] = [_nested(nested, entry, item.name) for entry in items]
            else:
                arguments[item.name] = _nested(nested, raw, item.name)
        arguments["extra"] = extra
        return cls(**arguments)

    def to_dict(self) -> Dict[str, Any]:
        """Return the object in the WorkOS wire format, ``extra`` fields included."""
        result = dict(self.extra)
        for item in fields(self):
            if item.name == "extra":
                continue
            value = getattr(self, item.name)
            if isinstance(value, _WireObject):
                value = value.to_dict()
            elif isinstance(value, list):
                value = [v.to_dict() if isinstance(v, _WireObject) else v for v in value]
            result[item.name] = value
        return result


def _nested(cls: Any, value: Any, name: str) -> Any:
    try:
        return cls._from_dict(value)
    except _FieldError as error:
        raise _FieldError(f"in `{name}`: {error}") from None


@dataclass
class User(_WireObject):
    """A WorkOS user object (``"object": "user"``).

    Only ``id`` and ``email`` are required, because ``user.deleted`` events
    may carry a trimmed object. The other fields are ``None`` or empty when
    the payload omits them.
    """

    id: str
    email: str
    email_verified: Optional[bool] = None
    first_name: Optional[str] = None
    last_name: Optional[str] = None
    name: Optional[str] = None
    profile_picture_url: Optional[str] = None
    last_sign_in_at: Optional[str] = None
    locale: Optional[str] = None
    external_id: Optional[str] = None
    #: Metadata key-value pairs; WorkOS stores the values as strings.
    metadata: Dict[str, str] = field(default_factory=dict)
    created_at: Optional[str] = None
    updated_at: Optional[str] = None
    extra: Dict[str, Any] = field(default_factory=dict)

    _KINDS = {
        "id": "str",
        "email": "str",
        "email_verified": "bool",
        "first_name": "str",
        "last_name": "str",
        "name": "str",
        "profile_picture_url": "str",
        "last_sign_in_at": "str",
        "locale": "str",
        "external_id": "str",
        "metadata": "dict",
        "created_at": "str",
        "updated_at": "str",
    }


@dataclass
class Impersonator(_WireObject):
    """The user who impersonates another in a WorkOS session."""

    email: str
    reason: Optional[str] = None
    extra: Dict[str, Any] = field(default_factory=dict)

    _KINDS = {"email": "str", "reason": "str"}


@dataclass
class Session(_WireObject):
    """A WorkOS session object (``"object": "session"``)."""

    id: str
    user_id: str
    organization_id: Optional[str] = None
    #: For example ``active`` or ``revoked``.
    status: Optional[str] = None
    #: How the user authenticated, for example ``password``.
    auth_method: Optional[str] = None
    ip_address: Optional[str] = None
    user_agent: Optional[str] = None
    impersonator: Optional[Impersonator] = None
    expires_at: Optional[str] = None
    created_at: Optional[str] = None
    updated_at: Optional[str] = None
    extra: Dict[str, Any] = field(default_factory=dict)

    _KINDS = {
        "id": "str",
        "user_id": "str",
        "organization_id": "str",
        "status": "str",
        "auth_method": "str",
        "ip_address": "str",
        "user_agent": "str",
        "impersonator": "dict",
        "expires_at": "str",
        "created_at": "str",
        "updated_at": "str",
    }
    _NESTED = {"impersonator": Impersonator}


@dataclass
class OrganizationDomain(_WireObject):
    """A domain of a WorkOS organization (``"object": "organization_domain"``)."""

    id: str
    domain: str
    #: For example ``verified`` or ``pending``.
    state: Optional[str] = None
    verification_strategy: Optional[str] = None
    organization_id: Optional[str] = None
    created_at: Optional[str] = None
    updated_at: Optional[str] = None
    extra: Dict[str, Any] = field(default_factory=dict)

    _KINDS = {
        "id": "str",
        "domain": "str",
        "state": "str",
        "verification_strategy": "str",
        "organization_id": "str",
        "created_at": "str",
        "updated_at": "str",
    }


@dataclass
class Organization(_WireObject):
    """A WorkOS organization object (``"object": "organization"``)."""

    id: str
    name: str
    allow_profiles_outside_organization: Optional[bool] = None
    domains: List[OrganizationDomain] = field(default_factory=list)
    external_id: Optional[str] = None
    metadata: Dict[str, str] = field(default_factory=dict)
    created_at: Optional[str] = None
    updated_at: Optional[str] = None
    extra: Dict[str, Any] = field(default_factory=dict)

    _KINDS = {
        "id": "str",
        "name": "str",
        "allow_profiles_outside_organization": "bool",
        "domains": "list",
        "external_id": "str",
        "metadata": "dict",
        "created_at": "str",
        "updated_at": "str",
    }
    _NESTED = {"domains": OrganizationDomain}


@dataclass
class Role(_WireObject):
    """A role reference, as in ``"role": {"slug": "admin"}``."""

    slug: str
    extra: Dict[str, Any] = field(default_factory=dict)

    _KINDS = {"slug": "str"}


@dataclass
class OrganizationMembership(_WireObject):
    """A WorkOS organization membership (``"object": "organization_membership"``)."""

    id: str
    user_id: str
    organization_id: str
    organization_name: Optional[str] = None
    #: The member's primary role.
    role: Optional[Role] = None
    roles: List[Role] = field(default_factory=list)
    #: For example ``active`` or ``pending``.
    status: Optional[str] = None
    custom_attributes: Dict[str, Any] = field(default_factory=dict)
    created_at: Optional[str] = None
    updated_at: Optional[str] = None
    extra: Dict[str, Any] = field(default_factory=dict)

    _KINDS = {
        "id": "str",
        "user_id": "str",
        "organization_id": "str",
        "organization_name": "str",
        "role": "dict",
        "roles": "list",
        "status": "str",
        "custom_attributes": "dict",
        "created_at": "str",
        "updated_at": "str",
    }
    _NESTED = {"role": Role, "roles": Role}


@dataclass
class DirectoryUser(_WireObject):
    """A WorkOS Directory Sync user (``"object": "directory_user"``)."""

    id: str
    directory_id: str
    organization_id: Optional[str] = None
    idp_id: Optional[str] = None
    #: Directories may omit the email address.
    email: Optional[str] = None
    first_name: Optional[str] = None
    last_name: Optional[str] = None
    #: The user's state in the directory, for example ``active``.
    state: Optional[str] = None
    role: Optional[Role] = None
    custom_attributes: Dict[str, Any] = field(default_factory=dict)
    raw_attributes: Dict[str, Any] = field(default_factory=dict)
    created_at: Optional[str] = None
    updated_at: Optional[str] = None
    extra: Dict[str, Any] = field(default_factory=dict)

    _KINDS = {
        "id": "str",
        "directory_id": "str",
        "organization_id": "str",
        "idp_id": "str",
        "email": "str",
        "first_name": "str",
        "last_name": "str",
        "state": "str",
        "role": "dict",
        "custom_attributes": "dict",
        "raw_attributes": "dict",
        "created_at": "str",
        "updated_at": "str",
    }
    _NESTED = {"role": Role}


#: An event's parsed ``data``: a payload class, or plain JSON for other events.
Payload = Union[User, Session, Organization, OrganizationMembership, DirectoryUser, Any]

_PAYLOAD_CLASSES = [
    ("organization_membership.", OrganizationMembership),
    ("organization.", Organization),
    ("dsync.user.", DirectoryUser),
    ("session.", Session),
    ("user.", User),
]


def parse_payload(event_type: str, data: str) -> Payload:
    """Parse an event's ``data`` JSON into the class ``event_type`` implies.

    The mapping is in the module documentation. The error names the event
    type, the class and the field.
    """
    source = f"`{event_type}` event data"
    value = parse_json(source, data)
    for prefix, cls in _PAYLOAD_CLASSES:
        if event_type.startswith(prefix):
            return cls.from_dict(value, source)
    return value

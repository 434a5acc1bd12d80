"""Guest SDK for authkit-host handlers written in Python.

A handler is a WebAssembly component that authkit-host loads from its
plugins directory. componentize-py builds it from a module that subclasses
:class:`Handler` and exports it::

    import authkit_plugin as authkit

    class Greeter(authkit.Handler):
        def describe(self):
            return authkit.PluginInfo("greeter", "0.1.0", events=["user.created"])

        def on_user_created(self, event, user):
            authkit.log.info(f"welcome, {user.email}")

    Handler = authkit.export(Greeter)

The package hides the bindings componentize-py generates for the
``authkit:plugin/authkit-handler@0.1.0`` world behind plain dataclasses
(:mod:`.types`, :mod:`.payload`) and wrappers for the host imports:
:mod:`.log`, :mod:`.users`, :mod:`.settings` and :mod:`.store`.
:mod:`.testing` runs handler logic against an in-memory host.
"""

from . import log, settings, store, users
from .errors import Error, PayloadError, StoreError, UserLookupError
from .handler import Handler, export
from .payload import (
    DirectoryUser,
    Impersonator,
    Organization,
    OrganizationDomain,
    OrganizationMembership,
    Role,
    Session,
    User,
    parse_payload,
)
from .types import (
    Action,
    ActionKind,
    Allow,
    AuthenticationContext,
    Deny,
    Event,
    PluginInfo,
    UserData,
    UserRecord,
    UserRegistrationContext,
    Verdict,
    allow,
    deny,
)

__all__ = [
    "Action",
    "ActionKind",
    "Allow",
    "AuthenticationContext",
    "Deny",
    "DirectoryUser",
    "Error",
    "Event",
    "Handler",
    "Impersonator",
    "Organization",
    "OrganizationDomain",
    "OrganizationMembership",
    "PayloadError",
    "PluginInfo",
    "Role",
    "Session",
    "StoreError",
    "User",
    "UserData",
    "UserLookupError",
    "UserRecord",
    "UserRegistrationContext",
    "Verdict",
    "allow",
    "deny",
    "export",
    "log",
    "parse_payload",
    "settings",
    "store",
    "users",
]

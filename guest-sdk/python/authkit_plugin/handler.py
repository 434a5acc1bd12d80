"""The :class:`Handler` base class and :func:`export`, its adapter to the
bindings componentize-py generates."""

from __future__ import annotations

import inspect
import traceback
from typing import Any, Type

from . import _host, log
from .errors import Error
from .payload import User
from .types import (
    Action,
    ActionKind,
    Allow,
    AuthenticationContext,
    Deny,
    Event,
    PluginInfo,
    UserData,
    UserRegistrationContext,
    Verdict,
    allow,
)


class Handler:
    """The logic of one authkit-host handler.

    Only :meth:`describe` is required. The host delivers only the event
    types and action kinds that ``describe`` lists, and every other method
    has a default:

    - :meth:`handle_event` parses the data of ``user.created``,
      ``user.updated`` and ``user.deleted`` events and calls the matching
      ``on_user_*`` method. It passes every other event to :meth:`on_event`,
      which does nothing.
    - The ``on_user_*`` methods pass the event on to :meth:`on_event`.
    - :meth:`handle_action` calls :meth:`on_authentication` or
      :meth:`on_user_registration`, which both allow.

    The host may create a new instance of the component for each call, and
    :func:`export` creates a new handler object for each call, so keep state
    in :mod:`authkit_plugin.store`, never on ``self``.

    Raising any exception fails the call: the host discards the call's store
    writes and retries an event later, or returns its fallback verdict for
    an action. Events may arrive more than once and out of order, so make
    event handling idempotent.
    """

    def describe(self) -> PluginInfo:
        """Describe the handler. The host calls it once when loading the file."""
        raise NotImplementedError(
            f"{type(self).__name__} must override describe() to return a PluginInfo"
        )

    def handle_event(self, event: Event) -> None:
        """Handle one event. The default dispatches as the class documentation
        describes."""
        if event.event_type == "user.created":
            return self.on_user_created(event, event.user())
        if event.event_type == "user.updated":
            return self.on_user_updated(event, event.user())
        if event.event_type == "user.deleted":
            return self.on_user_deleted(event, event.user())
        return self.on_event(event)

    def on_user_created(self, event: Event, user: User) -> None:
        """Handle ``user.created``. The default calls :meth:`on_event`."""
        return self.on_event(event)

    def on_user_updated(self, event: Event, user: User) -> None:
        """Handle ``user.updated``. The default calls :meth:`on_event`."""
        return self.on_event(event)

    def on_user_deleted(self, event: Event, user: User) -> None:
        """Handle ``user.deleted``. The default calls :meth:`on_event`.

        ``user`` may carry only ``id`` and ``email``, because WorkOS may trim
        the object of a deleted user.
        """
        return self.on_event(event)

    def on_event(self, event: Event) -> None:
        """Handle an event no typed method handles. The default does nothing.
        Use ``event.payload()`` to parse the data."""
        return None

    def handle_action(self, action: Action) -> Verdict:
        """Decide one action. The default calls :meth:`on_authentication` or
        :meth:`on_user_registration`."""
        if isinstance(action, AuthenticationContext):
            return self.on_authentication(action)
        return self.on_user_registration(action)

    def on_authentication(self, context: AuthenticationContext) -> Verdict:
        """Decide whether a user may sign in. The default allows."""
        return allow()

    def on_user_registration(self, context: UserRegistrationContext) -> Verdict:
        """Decide whether a person may register. The default allows."""
        return allow()


def export(handler_class: Type[Handler]) -> type:
    """Return the class componentize-py exports as the ``handler`` interface.

    componentize-py looks for a class named ``Handler`` in the app module,
    so assign the result to that name at the end of the module::

        Handler = authkit_plugin.export(MyHandler)

    The returned class converts the generated WIT types to and from the
    SDK's, creates a new ``handler_class`` object for each call, and turns
    an exception into the ``result`` error the host expects. An exception
    that is not an :class:`~authkit_plugin.Error` is a bug rather than a
    reported failure, so its traceback also goes to the host's log at error
    level.
    """
    if not (isinstance(handler_class, type) and issubclass(handler_class, Handler)):
        raise TypeError(
            f"export() takes a subclass of authkit_plugin.Handler, not {handler_class!r}"
        )

    class Adapter:
        def describe(self) -> Any:
            types = _host.wit_types
            info = handler_class().describe()
            if not isinstance(info, PluginInfo):
                raise TypeError(
                    f"{handler_class.__name__}.describe() returned "
                    f"{type(info).__name__}; return authkit_plugin.PluginInfo(...)"
                )
            return types.PluginInfo(
                name=info.name,
                version=info.version,
                events=[str(event) for event in info.events],
                actions=[_wit_action_kind(types, kind) for kind in info.actions],
            )

        def handle_event(self, event: Any) -> None:
            sdk_event = Event(
                id=event.id,
                event_type=event.event_type,
                created_at=event.created_at,
                data=event.data,
                context=event.context,
            )
            _run(lambda: handler_class().handle_event(sdk_event))

        def handle_action(self, action: Any) -> Any:
            types = _host.wit_types
            sdk_action = _action_from_wit(action)
            verdict = _run(lambda: handler_class().handle_action(sdk_action))
            if isinstance(verdict, Allow):
                return types.Verdict_Allow()
            if isinstance(verdict, Deny):
                return types.Verdict_Deny(verdict.message)
            _fail(
                f"{handler_class.__name__} returned {type(verdict).__name__} for "
                "an action; return authkit_plugin.allow() or authkit_plugin.deny(message)"
            )

    Adapter.__name__ = Adapter.__qualname__ = f"Export[{handler_class.__name__}]"
    return Adapter


def _run(call: Any) -> Any:
    """Run a handler callback, turning an exception into an ``Err``."""
    try:
        result = call()
    except Error as error:
        _fail(str(error))
    except Exception as error:
        log.error("handler raised an exception:\n" + traceback.format_exc())
        _fail(f"{type(error).__name__}: {error}")
    # The exports are synchronous, so a coroutine would never run.
    if inspect.iscoroutine(result):
        result.close()
        _fail("the handler returned a coroutine; handler methods must not be async")
    return result


def _fail(message: str) -> Any:
    raise _host.Err(message)


def _wit_action_kind(types: Any, kind: Any) -> Any:
    try:
        kind = ActionKind(kind)
    except ValueError:
        raise ValueError(
            f"unknown action kind {kind!r}; expected one of "
            + ", ".join(repr(k.value) for k in ActionKind)
        ) from None
    if kind is ActionKind.AUTHENTICATION:
        return types.ActionKind.AUTHENTICATION
    return types.ActionKind.USER_REGISTRATION


def _action_from_wit(action: Any) -> Action:
    context = action.value
    if type(action).__name__ == "Action_Authentication":
        return AuthenticationContext(
            id=context.id,
            user=_host.user_record_from_wit(context.user),
            organization_id=context.organization_id,
            organization_membership_id=context.organization_membership_id,
            ip_address=context.ip_address,
            user_agent=context.user_agent,
            device_fingerprint=context.device_fingerprint,
            issuer=context.issuer,
            authentication_method=context.authentication_method,
            raw=context.raw,
        )
    data = context.user_data
    return UserRegistrationContext(
        id=context.id,
        user_data=UserData(
            email=data.email,
            first_name=data.first_name,
            last_name=data.last_name,
            name=data.name,
        ),
        invitation_id=context.invitation_id,
        ip_address=context.ip_address,
        user_agent=context.user_agent,
        device_fingerprint=context.device_fingerprint,
        authentication_method=context.authentication_method,
        raw=context.raw,
    )

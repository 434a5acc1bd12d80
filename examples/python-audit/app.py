"""Example handler in Python: an audit trail of sessions and memberships.

For every ``session.*`` and ``organization_membership.*`` event it stores a
JSON summary at ``audit/<event_id>`` and counts the user's audited events at
``counts/<user_id>`` as ``{"sessions": n, "memberships": m}``.

WorkOS may deliver an event more than once, so the summary doubles as the
record that the event was counted: a redelivered event whose
``audit/<event_id>`` exists changes nothing. Both writes commit together or
not at all, because the host commits a call's store writes atomically.
"""

from __future__ import annotations

from typing import Any, Dict

import authkit_plugin as authkit

NAME = "python-audit"
VERSION = "0.1.0"

#: The counter each event type prefix adds to.
CATEGORIES = {
    "session.": "sessions",
    "organization_membership.": "memberships",
}


def audit_key(event_id: str) -> str:
    return f"audit/{event_id}"


def counts_key(user_id: str) -> str:
    return f"counts/{user_id}"


def category(event_type: str) -> str:
    """Return the counter for ``event_type``; raises for types not subscribed."""
    for prefix, name in CATEGORIES.items():
        if event_type.startswith(prefix):
            return name
    raise authkit.Error(
        f"python-audit received `{event_type}`, which it does not subscribe to"
    )


def summarize(event: authkit.Event, payload: Any) -> Dict[str, Any]:
    """Build the audit record of one session or membership event."""
    summary = {
        "event_id": event.id,
        "event_type": event.event_type,
        "created_at": event.created_at,
        "user_id": payload.user_id,
        "organization_id": payload.organization_id,
        "status": payload.status,
    }
    if isinstance(payload, authkit.Session):
        summary["session_id"] = payload.id
        summary["auth_method"] = payload.auth_method
    else:
        summary["membership_id"] = payload.id
        summary["role"] = payload.role.slug if payload.role else None
    return summary


class Audit(authkit.Handler):
    def describe(self) -> authkit.PluginInfo:
        return authkit.PluginInfo(
            NAME, VERSION, events=[prefix + "*" for prefix in CATEGORIES]
        )

    def on_event(self, event: authkit.Event) -> None:
        key = audit_key(event.id)
        if authkit.store.get(key) is not None:
            authkit.log.debug(f"event {event.id} already audited")
            return

        counter = category(event.event_type)
        payload = event.payload()
        counts = authkit.store.get_json(
            counts_key(payload.user_id), {"sessions": 0, "memberships": 0}
        )
        counts[counter] = counts.get(counter, 0) + 1

        authkit.store.set_json(key, summarize(event, payload))
        authkit.store.set_json(counts_key(payload.user_id), counts)
        authkit.log.info(
            f"audited {event.event_type} for user {payload.user_id} (event {event.id})"
        )


# componentize-py exports the class named `Handler` in the app module.
Handler = authkit.export(Audit)

"""Unit tests of the audit logic against the SDK's in-memory host.

Run with ``python3 -m unittest discover -s examples/python-audit`` and the
SDK on ``PYTHONPATH``; the host end-to-end tests are in
``tests/integration/polyglot.rs``.
"""

import json
import pathlib
import unittest

import authkit_plugin as authkit
from authkit_plugin.testing import MemoryHost

import app

EVENTS = pathlib.Path(__file__).resolve().parents[1] / "events"
MARTA = "user_01JD4M7Q2S8X5K9B3N6P0R1T2V"


def sample(name: str) -> authkit.Event:
    body = json.loads((EVENTS / name).read_text())
    return authkit.Event(
        id=body["id"],
        event_type=body["event"],
        created_at=body["created_at"],
        data=json.dumps(body["data"]),
    )


class AuditTest(unittest.TestCase):
    def test_describe_subscribes_to_prefixes(self):
        info = app.Audit().describe()
        self.assertEqual(info.name, "python-audit")
        self.assertEqual(info.events, ["session.*", "organization_membership.*"])

    def test_session_event_recorded_and_counted(self):
        event = sample("02-session.created.json")
        with MemoryHost() as host:
            app.Audit().handle_event(event)
        summary = json.loads(host.store[f"audit/{event.id}"])
        self.assertEqual(summary["session_id"], "session_01JD4MA3A1B2C3D4E5F6G7H8J9")
        self.assertEqual(summary["user_id"], MARTA)
        counts = json.loads(host.store[f"counts/{MARTA}"])
        self.assertEqual(counts, {"sessions": 1, "memberships": 0})

    def test_redelivery_does_not_double_count(self):
        session = sample("02-session.created.json")
        membership = sample("05-organization_membership.created.json")
        with MemoryHost() as host:
            for event in [session, membership, session, membership]:
                app.Audit().handle_event(event)
        counts = json.loads(host.store[f"counts/{MARTA}"])
        self.assertEqual(counts, {"sessions": 1, "memberships": 1})
        summary = json.loads(host.store[f"audit/{membership.id}"])
        self.assertEqual(summary["role"], "admin")

    def test_unsubscribed_event_fails(self):
        with MemoryHost() as host:
            with self.assertRaises(authkit.Error):
                app.Audit().handle_event(sample("01-user.created.json"))
        self.assertEqual(host.store, {})


if __name__ == "__main__":
    unittest.main()

"""Unit tests of the SDK under an ordinary CPython, against MemoryHost.

Run from the repository root:
``PYTHONPATH=guest-sdk/python python3 -m unittest discover -s guest-sdk/python/tests``.
The adapter that converts the generated WIT types runs only inside a
component; tests/integration/polyglot.rs covers it.
"""

import json
import pathlib
import unittest

import authkit_plugin as authkit
from authkit_plugin.testing import MemoryHost

FIXTURES = pathlib.Path(__file__).resolve().parents[3] / "examples"


def sample_event(name):
    body = json.loads((FIXTURES / "events" / name).read_text())
    return authkit.Event(body["id"], body["event"], body["created_at"], json.dumps(body["data"]))


class PayloadTest(unittest.TestCase):
    def test_sample_events_parse_to_their_class(self):
        expected = {
            "01-user.created.json": authkit.User,
            "02-session.created.json": authkit.Session,
            "04-organization.created.json": authkit.Organization,
            "05-organization_membership.created.json": authkit.OrganizationMembership,
            "08-user.deleted.json": authkit.User,
            "09-dsync.user.created.json": authkit.DirectoryUser,
        }
        for name, cls in expected.items():
            with self.subTest(name):
                self.assertIsInstance(sample_event(name).payload(), cls)

    def test_unknown_fields_kept_in_extra(self):
        user = sample_event("01-user.created.json").payload()
        self.assertEqual(user.extra, {"object": "user"})
        self.assertEqual(user.metadata, {"plan": "team"})
        self.assertEqual(user.to_dict()["object"], "user")

    def test_nested_objects_parsed(self):
        organization = sample_event("04-organization.created.json").payload()
        self.assertEqual(organization.domains[0].domain, "kowal.example")
        membership = sample_event("05-organization_membership.created.json").payload()
        self.assertEqual(membership.role.slug, "admin")

    def test_trimmed_deleted_user_parses(self):
        user = sample_event("08-user.deleted.json").payload()
        self.assertEqual(user.email, "dev.tester@gmail.com")
        self.assertIsNone(user.email_verified)

    def test_missing_field_named_in_error(self):
        with self.assertRaises(authkit.PayloadError) as caught:
            authkit.parse_payload("session.created", '{"id": "session_1"}')
        self.assertIn("`user_id` is missing", str(caught.exception))
        self.assertIn("Session", str(caught.exception))

    def test_wrong_nested_type_named_in_error(self):
        data = '{"id": "om_1", "user_id": "u", "organization_id": "o", "role": {"slug": 1}}'
        with self.assertRaises(authkit.PayloadError) as caught:
            authkit.parse_payload("organization_membership.created", data)
        self.assertIn("in `role`: field `slug`", str(caught.exception))

    def test_invalid_json_named_in_error(self):
        with self.assertRaises(authkit.PayloadError) as caught:
            authkit.parse_payload("user.created", "{")
        self.assertIn("`user.created` event data", str(caught.exception))

    def test_other_event_returns_json(self):
        self.assertEqual(authkit.parse_payload("role.created", '{"slug": "x"}'), {"slug": "x"})


class StoreTest(unittest.TestCase):
    def test_json_round_trip(self):
        with MemoryHost() as host:
            authkit.store.set_json("k/1", {"name": "Zielińska", "n": 1})
            self.assertEqual(authkit.store.get_json("k/1"), {"name": "Zielińska", "n": 1})
            self.assertEqual(authkit.store.get_json("missing", 0), 0)
        self.assertEqual(host.store["k/1"], '{"name":"Zielińska","n":1}'.encode())

    def test_list_sorted_by_key_within_prefix(self):
        with MemoryHost():
            for key in ["b/2", "a/1", "b/1", "b0"]:
                authkit.store.set(key, key.encode())
            self.assertEqual([entry.key for entry in authkit.store.list("b/")], ["b/1", "b/2"])
            self.assertEqual(authkit.store.list_json("none/"), [])

    def test_invalid_json_names_key(self):
        with MemoryHost():
            authkit.store.set("bad", b"{")
            with self.assertRaises(authkit.Error) as caught:
                authkit.store.get_json("bad")
        self.assertIn("`bad`", str(caught.exception))

    def test_set_rejects_text(self):
        with MemoryHost():
            with self.assertRaises(TypeError):
                authkit.store.set("k", "text")

    def test_delete_absent_key_succeeds(self):
        with MemoryHost():
            authkit.store.delete("never-set")

    def test_store_error_message(self):
        error = authkit.StoreError("invalid-key", "the key is empty")
        self.assertEqual(str(error), "invalid store key: the key is empty")
        self.assertEqual(error.kind, "invalid-key")


class SettingsTest(unittest.TestCase):
    def test_get_or_parses(self):
        with MemoryHost(settings={"limit": "5", "bad": "soon"}):
            self.assertEqual(authkit.settings.get_or("limit", 1, int), 5)
            self.assertEqual(authkit.settings.get_or("absent", 1, int), 1)
            with self.assertRaises(authkit.Error) as caught:
                authkit.settings.get_or("bad", 1, int)
        self.assertIn("`soon`", str(caught.exception))
        self.assertIn("`bad`", str(caught.exception))

    def test_get_list_drops_empty_items(self):
        with MemoryHost(settings={"domains": " a.example, ,b.example "}):
            self.assertEqual(authkit.settings.get_list("domains"), ["a.example", "b.example"])
            self.assertIsNone(authkit.settings.get_list("absent"))


class HandlerTest(unittest.TestCase):
    def test_user_events_dispatched_to_typed_methods(self):
        seen = []

        class Recorder(authkit.Handler):
            def describe(self):
                return authkit.PluginInfo("recorder", "0", events=["*"])

            def on_user_created(self, event, user):
                seen.append(("created", user.id))

            def on_user_deleted(self, event, user):
                seen.append(("deleted", user.id))

            def on_event(self, event):
                seen.append(("other", event.event_type))

        for name in ["01-user.created.json", "02-session.created.json", "08-user.deleted.json"]:
            Recorder().handle_event(sample_event(name))
        self.assertEqual(
            seen,
            [
                ("created", "user_01JD4M7Q2S8X5K9B3N6P0R1T2V"),
                ("other", "session.created"),
                ("deleted", "user_01JD4MF0A9B8C7D6E5F4G3H2J1"),
            ],
        )

    def test_actions_allowed_by_default(self):
        context = authkit.UserRegistrationContext("a1", authkit.UserData("x@example.com"))
        self.assertEqual(authkit.Handler().handle_action(context), authkit.allow())

    def test_deny_carries_message(self):
        self.assertEqual(authkit.deny("no").message, "no")
        with self.assertRaises(TypeError):
            authkit.deny(None)

    def test_email_domain(self):
        self.assertEqual(authkit.UserData("a@b@example.com").email_domain(), "example.com")
        self.assertIsNone(authkit.UserData("no-at-sign").email_domain())

    def test_export_rejects_non_handler(self):
        with self.assertRaises(TypeError):
            authkit.export(object)

    def test_host_calls_outside_component_explain_fix(self):
        with self.assertRaises(RuntimeError) as caught:
            authkit.store.get("k")
        self.assertIn("MemoryHost", str(caught.exception))


if __name__ == "__main__":
    unittest.main()

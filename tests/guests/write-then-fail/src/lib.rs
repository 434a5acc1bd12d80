//! Test guest: writes to its store before failing, so host tests can check
//! that a failed event leaves no writes behind.
//!
//! Subscribes to `*`. For each event it first writes, in this order:
//!
//! - `writes/<event_id>/1`, `writes/<event_id>/2` and `writes/<event_id>/3`,
//!   each with the value `1`, `2` or `3`;
//! - `last-event`, overwritten with the event id;
//! - a delete of `delete-me`, then, when the event's `data` contains the
//!   text `create-delete-me`, a new `delete-me` with the event id as value.
//!   A host test can create the key with one successful event and check
//!   that a failing event's delete is rolled back.
//!
//! Then it returns an error when the event's `data` contains the text
//! `fail`, so the host must roll all of these writes back. Otherwise it
//! succeeds. It decides no actions.

use authkit_plugin::{Error, Event, Handler, PluginInfo, Result, store};

struct WriteThenFail;

impl Handler for WriteThenFail {
    fn describe() -> PluginInfo {
        PluginInfo::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION")).with_events(["*"])
    }

    fn handle_event(event: &Event) -> Result<()> {
        for index in 1..=3 {
            let key = format!("writes/{}/{index}", event.id);
            store::set(&key, index.to_string().as_bytes())?;
        }
        store::set("last-event", event.id.as_bytes())?;
        store::delete("delete-me")?;
        if event.data.contains("create-delete-me") {
            store::set("delete-me", event.id.as_bytes())?;
        }

        if event.data.contains("fail") {
            return Err(Error::new(format_args!(
                "write-then-fail rejects event {} after writing, because its data contains `fail`",
                event.id
            )));
        }
        Ok(())
    }
}

authkit_plugin::export_handler!(WriteThenFail);

//! Test guest: traps, so host tests can check that a trap is contained.
//!
//! - Events: subscribes to `*`. Panics, which traps the component, when the
//!   event's `data` contains the text `trap`. Otherwise it stores
//!   `seen/<event_id>` with the event type as value and succeeds.
//! - Actions: decides both kinds and panics in every one.

use authkit_plugin::{Action, ActionKind, Event, Handler, PluginInfo, Result, Verdict, store};

struct TrappingHandler;

impl Handler for TrappingHandler {
    fn describe() -> PluginInfo {
        PluginInfo::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
            .with_events(["*"])
            .with_actions([ActionKind::Authentication, ActionKind::UserRegistration])
    }

    fn handle_event(event: &Event) -> Result<()> {
        if event.data.contains("trap") {
            panic!(
                "trapping-handler traps on event {} because its data contains `trap`",
                event.id
            );
        }
        store::set(&format!("seen/{}", event.id), event.event_type.as_bytes())?;
        Ok(())
    }

    fn handle_action(action: Action) -> Result<Verdict> {
        let kind = match action {
            Action::Authentication(_) => "authentication",
            Action::UserRegistration(_) => "user-registration",
        };
        panic!("trapping-handler traps on every action, including this {kind} action");
    }
}

authkit_plugin::export_handler!(TrappingHandler);

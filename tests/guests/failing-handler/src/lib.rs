//! Test guest: returns errors, so host tests can check retries and action
//! fallbacks.
//!
//! - Events: subscribes to `*`. Returns an error when the event's `data`
//!   contains the text `fail`. Otherwise it stores `seen/<event_id>` with the
//!   event type as value and succeeds.
//! - Actions: decides both kinds and returns an error for every one.

use authkit_plugin::{
    Action, ActionKind, Error, Event, Handler, PluginInfo, Result, Verdict, store,
};

struct FailingHandler;

impl Handler for FailingHandler {
    fn describe() -> PluginInfo {
        PluginInfo::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
            .with_events(["*"])
            .with_actions([ActionKind::Authentication, ActionKind::UserRegistration])
    }

    fn handle_event(event: &Event) -> Result<()> {
        if event.data.contains("fail") {
            return Err(Error::new(format_args!(
                "failing-handler rejects event {} because its data contains `fail`",
                event.id
            )));
        }
        store::set(&format!("seen/{}", event.id), event.event_type.as_bytes())?;
        Ok(())
    }

    fn handle_action(action: Action) -> Result<Verdict> {
        let id = match &action {
            Action::Authentication(context) => &context.id,
            Action::UserRegistration(context) => &context.id,
        };
        Err(Error::new(format_args!(
            "failing-handler rejects every action, including {id}"
        )))
    }
}

authkit_plugin::export_handler!(FailingHandler);

//! The [`Handler`] trait and its adapter to the generated bindings.

use std::marker::PhantomData;

use crate::bindings::exports::authkit::plugin::handler::Guest;
use crate::{
    Action, AuthenticationContext, Event, PluginInfo, Result, User, UserRegistrationContext,
    Verdict,
};

/// The logic of one authkit-host handler.
///
/// Only [`Handler::describe`] is required. The host delivers only the event
/// types and action kinds that `describe` lists, and every other method has
/// a default:
///
/// - [`Handler::handle_event`] parses the data of `user.created`,
///   `user.updated` and `user.deleted` events and calls the matching
///   `on_user_*` method. It passes every other event to
///   [`Handler::on_event`], which succeeds and does nothing.
/// - The `on_user_*` methods pass the event on to [`Handler::on_event`].
/// - [`Handler::handle_action`] calls [`Handler::on_authentication`] or
///   [`Handler::on_user_registration`], which both allow.
///
/// The methods take no `self`, because the host may create a new instance of
/// the component for each call. Keep state in the [`store`](crate::store).
///
/// Export the implementing type with [`export_handler!`](crate::export_handler).
pub trait Handler {
    /// Describes the handler: its stable name, its version, the event types
    /// it subscribes to and the action kinds it decides. The host calls it
    /// once when it loads the component.
    fn describe() -> PluginInfo;

    /// Handles one event.
    ///
    /// An error makes the host discard the store writes of this call and
    /// retry the event later, so a handler must tolerate receiving an event
    /// again. The default dispatches as the [trait documentation](Handler)
    /// describes, and fails when the data of a `user.*` event it dispatches
    /// does not parse as a [`User`].
    fn handle_event(event: &Event) -> Result<()> {
        match event.event_type.as_str() {
            "user.created" => Self::on_user_created(event, event.user()?),
            "user.updated" => Self::on_user_updated(event, event.user()?),
            "user.deleted" => Self::on_user_deleted(event, event.user()?),
            _ => Self::on_event(event),
        }
    }

    /// Handles a `user.created` event. The default calls [`Handler::on_event`].
    fn on_user_created(event: &Event, user: User) -> Result<()> {
        let _ = user;
        Self::on_event(event)
    }

    /// Handles a `user.updated` event. The default calls [`Handler::on_event`].
    fn on_user_updated(event: &Event, user: User) -> Result<()> {
        let _ = user;
        Self::on_event(event)
    }

    /// Handles a `user.deleted` event. The default calls [`Handler::on_event`].
    ///
    /// The user may carry only `id` and `email`, because WorkOS may trim the
    /// object of a deleted user.
    fn on_user_deleted(event: &Event, user: User) -> Result<()> {
        let _ = user;
        Self::on_event(event)
    }

    /// Handles an event that no typed method handles. The default succeeds
    /// and does nothing. Use [`Event::payload`] to parse the data.
    fn on_event(event: &Event) -> Result<()> {
        let _ = event;
        Ok(())
    }

    /// Decides one action.
    ///
    /// An error makes the host return its fallback verdict to WorkOS. The
    /// default calls [`Handler::on_authentication`] or
    /// [`Handler::on_user_registration`].
    fn handle_action(action: Action) -> Result<Verdict> {
        match action {
            Action::Authentication(context) => Self::on_authentication(context),
            Action::UserRegistration(context) => Self::on_user_registration(context),
        }
    }

    /// Decides whether a user may sign in. The default allows.
    fn on_authentication(context: AuthenticationContext) -> Result<Verdict> {
        let _ = context;
        Ok(Verdict::Allow)
    }

    /// Decides whether a person may register. The default allows.
    fn on_user_registration(context: UserRegistrationContext) -> Result<Verdict> {
        let _ = context;
        Ok(Verdict::Allow)
    }
}

/// Implements the generated export trait for a [`Handler`].
/// [`export_handler!`](crate::export_handler) names it; handler code does not.
pub struct Adapter<H>(PhantomData<fn() -> H>);

impl<H: Handler> Guest for Adapter<H> {
    fn describe() -> PluginInfo {
        install_panic_hook();
        H::describe()
    }

    fn handle_event(event: Event) -> Result<(), String> {
        install_panic_hook();
        H::handle_event(&event).map_err(|error| error.to_string())
    }

    fn handle_action(action: Action) -> Result<Verdict, String> {
        install_panic_hook();
        H::handle_action(action).map_err(|error| error.to_string())
    }
}

/// Routes panic messages to the host's log before the panic traps.
///
/// A panic in a component aborts with a trap that carries no message, so
/// without this hook the reason would reach at most the component's stderr.
#[cfg(target_arch = "wasm32")]
fn install_panic_hook() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            crate::log::error(&format!("handler panicked: {info}"));
        }));
    });
}

/// Keeps the default panic hook on native targets, where the host's log
/// import does not exist.
#[cfg(not(target_arch = "wasm32"))]
fn install_panic_hook() {}

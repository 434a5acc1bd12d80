//! Guest SDK for authkit-host handlers.
//!
//! A handler is a WebAssembly component that authkit-host loads from its
//! plugins directory. The host calls it for each WorkOS event it subscribes to
//! and for each AuthKit Action it decides. This crate hides the generated
//! WIT bindings of the `authkit:plugin/authkit-handler@0.1.0` world behind:
//!
//! - the [`Handler`] trait, whose default methods dispatch events and
//!   actions to typed callbacks such as [`Handler::on_user_created`];
//! - typed WorkOS payloads in [`payload`], parsed from an event's `data`;
//! - wrappers for the host imports: [`log`] (with the [`info!`] family of
//!   macros), [`users`], [`settings`] and [`store`];
//! - the [`export_handler!`] macro, which exports a handler type from the
//!   component.
//!
//! ```no_run
//! use authkit_plugin::{Event, Handler, PluginInfo, Result, User};
//!
//! struct Greeter;
//!
//! impl Handler for Greeter {
//!     fn describe() -> PluginInfo {
//!         PluginInfo::new("greeter", env!("CARGO_PKG_VERSION")).with_events(["user.created"])
//!     }
//!
//!     fn on_user_created(_event: &Event, user: User) -> Result<()> {
//!         authkit_plugin::info!("welcome, {}", user.email);
//!         Ok(())
//!     }
//! }
//!
//! authkit_plugin::export_handler!(Greeter);
//! ```
//!
//! Build the crate as a `cdylib` for the `wasm32-wasip2` target. The output
//! is already a component, so no further conversion step is needed. The
//! crate also compiles for native targets so that payload parsing and
//! handler logic can be unit tested, but every host import panics there.
#![deny(missing_docs)]

/// Bindings generated from the WIT contract in the repository's `wit/`
/// folder. Use the re-exports at the crate root instead.
#[doc(hidden)]
#[allow(missing_docs)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "authkit-handler",
        additional_derives: [PartialEq],
        pub_export_macro: true,
        export_macro_name: "__export_authkit_handler",
        default_bindings_module: "$crate::bindings",
    });
}

mod error;
mod handler;
pub mod log;
pub mod payload;
pub mod settings;
pub mod store;
mod types;
pub mod users;

pub use bindings::authkit::plugin::types::{
    Action, ActionKind, AuthenticationContext, Event, PluginInfo, User as UserRecord, UserData,
    UserRegistrationContext, Verdict,
};
pub use error::{Error, Result};
#[doc(hidden)]
pub use handler::Adapter;
pub use handler::Handler;
pub use payload::{
    DirectoryUser, Organization, OrganizationMembership, Payload, PayloadError, Session, User,
};

/// Exports a [`Handler`] type as the component's `authkit:plugin/handler`
/// implementation.
///
/// Invoke it once, at the top level of the handler crate:
///
/// ```ignore
/// authkit_plugin::export_handler!(MyHandler);
/// ```
///
/// The handler crate does not need its own `wit-bindgen` dependency, because
/// the expansion refers only to this crate.
#[macro_export]
macro_rules! export_handler {
    ($handler:ty) => {
        const _: () = {
            type AuthkitPluginExport = $crate::Adapter<$handler>;
            $crate::bindings::__export_authkit_handler!(
                AuthkitPluginExport with_types_in $crate::bindings
            );
        };
    };
}

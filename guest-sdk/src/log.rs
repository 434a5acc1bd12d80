//! Logging into the host's log.
//!
//! The host tags each line with the handler's name. The [`trace!`],
//! [`debug!`], [`info!`], [`warn!`] and [`error!`] macros take `format!`
//! arguments; the functions here take a ready message.
//!
//! [`trace!`]: crate::trace!
//! [`debug!`]: crate::debug!
//! [`info!`]: crate::info!
//! [`warn!`]: crate::warn!
//! [`error!`]: crate::error!

pub use crate::bindings::authkit::plugin::log::Level;

/// Writes `message` to the host's log at `level`.
pub fn log(level: Level, message: &str) {
    crate::bindings::authkit::plugin::log::log(level, message);
}

/// Writes `message` at [`Level::Trace`].
pub fn trace(message: &str) {
    log(Level::Trace, message);
}

/// Writes `message` at [`Level::Debug`].
pub fn debug(message: &str) {
    log(Level::Debug, message);
}

/// Writes `message` at [`Level::Info`].
pub fn info(message: &str) {
    log(Level::Info, message);
}

/// Writes `message` at [`Level::Warn`].
pub fn warn(message: &str) {
    log(Level::Warn, message);
}

/// Writes `message` at [`Level::Error`].
pub fn error(message: &str) {
    log(Level::Error, message);
}

/// Formats its arguments like `format!` and writes them at trace level.
#[macro_export]
macro_rules! trace {
    ($($arg:tt)+) => {
        $crate::log::log($crate::log::Level::Trace, &::std::format!($($arg)+))
    };
}

/// Formats its arguments like `format!` and writes them at debug level.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)+) => {
        $crate::log::log($crate::log::Level::Debug, &::std::format!($($arg)+))
    };
}

/// Formats its arguments like `format!` and writes them at info level.
#[macro_export]
macro_rules! info {
    ($($arg:tt)+) => {
        $crate::log::log($crate::log::Level::Info, &::std::format!($($arg)+))
    };
}

/// Formats its arguments like `format!` and writes them at warn level.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)+) => {
        $crate::log::log($crate::log::Level::Warn, &::std::format!($($arg)+))
    };
}

/// Formats its arguments like `format!` and writes them at error level.
#[macro_export]
macro_rules! error {
    ($($arg:tt)+) => {
        $crate::log::log($crate::log::Level::Error, &::std::format!($($arg)+))
    };
}

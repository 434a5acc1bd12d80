use std::fmt;

use crate::payload::PayloadError;
use crate::store::StoreError;

/// The result type of handler callbacks and SDK helpers.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error that a handler returns to the host.
///
/// The host receives only the message. An error from an event callback makes
/// the host roll back the handler's store writes and retry the event later.
/// An error from an action callback makes the host return its fallback
/// verdict to WorkOS.
///
/// `?` converts store errors, JSON errors, payload errors and strings into
/// this type, and [`Error::new`] builds one from any displayable value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    message: String,
}

impl Error {
    /// Creates an error with this message.
    pub fn new(message: impl fmt::Display) -> Self {
        Self {
            message: message.to_string(),
        }
    }

    /// Returns the message that the host receives.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Prefixes the message with `context`, as in `context: message`.
    pub fn context(self, context: impl fmt::Display) -> Self {
        Self {
            message: format!("{context}: {}", self.message),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<String> for Error {
    fn from(message: String) -> Self {
        Self { message }
    }
}

impl From<&str> for Error {
    fn from(message: &str) -> Self {
        Self::new(message)
    }
}

impl From<StoreError> for Error {
    fn from(error: StoreError) -> Self {
        Self::new(crate::store::describe_error(&error))
    }
}

impl From<PayloadError> for Error {
    fn from(error: PayloadError) -> Self {
        Self::new(error)
    }
}

impl From<serde_json::Error> for Error {
    fn from(error: serde_json::Error) -> Self {
        Self::new(format_args!("invalid JSON: {error}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_prefixes_message() {
        let error = Error::from("value missing").context("reading settings");
        assert_eq!(error.message(), "reading settings: value missing");
    }

    #[test]
    fn store_error_message_names_variant() {
        let error = Error::from(StoreError::InvalidKey("key is empty".into()));
        assert_eq!(error.message(), "invalid store key: key is empty");
    }
}

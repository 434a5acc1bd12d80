//! The crate's error type.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Everything that can go wrong in authkit-host outside a single HTTP request.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A required environment variable is unset or empty.
    #[error("{variable} is not set; {hint}")]
    MissingEnv {
        /// The variable's name.
        variable: &'static str,
        /// What the variable is for and how to set it.
        hint: &'static str,
    },
    /// A setting has a value the server cannot use.
    #[error("invalid setting {setting}: {reason}")]
    InvalidSetting {
        /// The flag, variable or config key.
        setting: String,
        /// What is wrong and what is accepted.
        reason: String,
    },
    /// The TOML config file could not be read or parsed.
    #[error("cannot load config file {path}: {reason}")]
    Config {
        /// The config file.
        path: PathBuf,
        /// The read or parse failure.
        reason: String,
    },
    /// A file operation failed.
    #[error("{action} {path} failed")]
    Io {
        /// What was being done, such as "reading".
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The underlying failure.
        #[source]
        source: std::io::Error,
    },
    /// The server could not bind its listening address.
    #[error("cannot listen on {address}; is another process using the port?")]
    Bind {
        /// The requested address.
        address: SocketAddr,
        /// The underlying failure.
        #[source]
        source: std::io::Error,
    },
    /// A SQLite operation failed.
    #[error("database error while {action}")]
    Database {
        /// What was being done, such as "storing event event_01…".
        action: String,
        /// The underlying failure.
        #[source]
        source: rusqlite::Error,
    },
    /// The database schema could not be brought up to date.
    #[error("cannot migrate database {path}")]
    Migration {
        /// The database file.
        path: PathBuf,
        /// The underlying failure.
        #[source]
        source: rusqlite_migration::Error,
    },
    /// A write transaction could not begin or commit, so none of its writes
    /// took effect.
    #[error("database commit failed: {reason}; check disk space and file permissions")]
    Commit {
        /// The SQLite failure.
        reason: String,
    },
    /// Stored data does not parse, which means the database was edited by hand.
    #[error("corrupt {what}: {reason}")]
    Corrupt {
        /// What was being read.
        what: String,
        /// Why it does not parse.
        reason: String,
    },
    /// The storage writer has stopped, so nothing more can be stored.
    #[error("the storage writer has stopped; restart the server")]
    StoreClosed,
    /// Work moved to a blocking thread panicked, which is a bug.
    #[error("{task} panicked: {reason}; this is a bug, please report it with the log above")]
    Panicked {
        /// The work, such as "opening the database".
        task: &'static str,
        /// The panic message.
        reason: String,
    },
    /// An outgoing HTTP request failed.
    #[error("request to {url} failed")]
    Http {
        /// The requested URL.
        url: String,
        /// The underlying failure.
        #[source]
        source: reqwest::Error,
    },
    /// A WorkOS API request failed for good: a status that retrying cannot
    /// fix, retries used up, or a response that is not what the API sends.
    #[error("WorkOS API request {url} failed: {reason}")]
    WorkosApi {
        /// The requested URL.
        url: String,
        /// The failure and, where it helps, what to check.
        reason: String,
    },
    /// The plugin runtime could not start.
    #[error("cannot start the plugin runtime")]
    Plugin(#[source] crate::plugin::PluginError),
    /// A plugin file or its `<name>.toml` could not be loaded. The message
    /// names the file, the reason and the fix.
    #[error(transparent)]
    PluginFile(crate::plugin::PluginError),
    /// A running authkit-host server returned an error status to a
    /// command's request.
    #[error("{url} returned {status}: {message}")]
    ServerResponse {
        /// The requested URL.
        url: String,
        /// The HTTP status, such as `403 Forbidden`.
        status: reqwest::StatusCode,
        /// The server's error message, followed by what to do when the
        /// command can tell.
        message: String,
    },
    /// The HTTP server failed while serving.
    #[error("the HTTP server failed")]
    Serve(#[source] std::io::Error),
}

/// Shorthand for results whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps the failure to join a blocking task. A join fails when the task
    /// panicked or the runtime shut down first; these callers await the task
    /// inside the runtime, so in practice it is a panic.
    pub fn panicked(task: &'static str) -> impl FnOnce(tokio::task::JoinError) -> Self {
        move |error| Error::Panicked {
            task,
            reason: error.to_string(),
        }
    }

    /// Wraps a SQLite failure with what was being done.
    pub(crate) fn database(action: impl Into<String>, source: rusqlite::Error) -> Self {
        Self::Database {
            action: action.into(),
            source,
        }
    }
}

/// Returns the messages of an error and its causes, outermost first,
/// leaving out each cause whose message an earlier one already quotes, as
/// many messages in this crate quote the I/O error they wrap.
pub fn error_messages(error: &dyn std::error::Error) -> Vec<String> {
    let mut messages = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        let message = cause.to_string();
        if !messages.iter().any(|earlier| earlier.contains(&message)) {
            messages.push(message);
        }
        source = cause.source();
    }
    messages
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error whose message quotes its source, as many here do.
    #[derive(Debug, thiserror::Error)]
    #[error("cannot read plugin.wasm: {0}")]
    struct Quoting(#[source] std::io::Error);

    #[test]
    fn quoted_causes_left_out() {
        let error = Quoting(std::io::Error::other("disk on fire"));

        assert_eq!(
            error_messages(&error),
            vec!["cannot read plugin.wasm: disk on fire"]
        );
    }

    #[test]
    fn unquoted_causes_kept() {
        let error = Error::Io {
            action: "reading",
            path: PathBuf::from("plugin.wasm"),
            source: std::io::Error::other("disk on fire"),
        };

        assert_eq!(
            error_messages(&error),
            vec!["reading plugin.wasm failed", "disk on fire"]
        );
    }
}

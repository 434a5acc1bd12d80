//! The handler's private key-value store.
//!
//! Keys are strings and values are bytes. Store writes made while handling
//! one event or action commit together with the host's record of that event
//! or action, or not at all: when a callback returns an error or traps, the
//! host discards every write the callback made. The host limits key and
//! value sizes and reports a breach as [`StoreError::InvalidKey`] or
//! [`StoreError::ValueTooLarge`].
//!
//! [`get_json`], [`set_json`] and [`list_json`] store values as JSON
//! through serde.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bindings::authkit::plugin::store as imports;
use crate::{Error, Result};

pub use imports::{Entry, StoreError};

/// Returns the value stored at `key`, or `None` if the key is absent.
pub fn get(key: &str) -> Result<Option<Vec<u8>>, StoreError> {
    imports::get(key)
}

/// Stores `value` at `key`, replacing any earlier value.
pub fn set(key: &str, value: &[u8]) -> Result<(), StoreError> {
    imports::set(key, value)
}

/// Deletes `key`. Deleting an absent key succeeds.
pub fn delete(key: &str) -> Result<(), StoreError> {
    imports::delete(key)
}

/// Returns the entries whose keys start with `prefix`, sorted by key.
pub fn list(prefix: &str) -> Result<Vec<Entry>, StoreError> {
    imports::list(prefix)
}

/// Returns the value at `key` parsed from JSON, or `None` if the key is
/// absent.
///
/// The error names the key when the stored bytes are not JSON for `T`.
pub fn get_json<T: DeserializeOwned>(key: &str) -> Result<Option<T>> {
    match get(key)? {
        Some(bytes) => decode_json(key, &bytes).map(Some),
        None => Ok(None),
    }
}

/// Stores `value` at `key` as JSON, replacing any earlier value.
pub fn set_json<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<()> {
    let bytes = serde_json::to_vec(value).map_err(|error| {
        Error::new(format_args!(
            "failed to serialize the value for store key `{key}` as JSON: {error}"
        ))
    })?;
    set(key, &bytes)?;
    Ok(())
}

/// Returns the entries whose keys start with `prefix` as key and parsed JSON
/// value pairs, sorted by key.
///
/// The error names the first key whose value is not JSON for `T`.
pub fn list_json<T: DeserializeOwned>(prefix: &str) -> Result<Vec<(String, T)>> {
    list(prefix)?
        .into_iter()
        .map(|entry| {
            let value = decode_json(&entry.key, &entry.value)?;
            Ok((entry.key, value))
        })
        .collect()
}

fn decode_json<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|error| {
        Error::new(format_args!(
            "store value at key `{key}` is not valid JSON for {}: {error}; \
             delete the key or store a value of the expected shape",
            std::any::type_name::<T>()
        ))
    })
}

/// Describes a store error in words, for [`Error`] messages.
pub(crate) fn describe_error(error: &StoreError) -> String {
    match error {
        StoreError::InvalidKey(detail) => format!("invalid store key: {detail}"),
        StoreError::ValueTooLarge(detail) => format!("store value too large: {detail}"),
        StoreError::Unavailable(detail) => format!("store unavailable: {detail}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_json_error_names_key() {
        let error = decode_json::<Vec<String>>("todos/user_1", b"{\"a\":1}").unwrap_err();
        assert!(error.message().contains("`todos/user_1`"), "{error}");
        assert!(error.message().contains("delete the key"), "{error}");
    }

    #[test]
    fn decode_json_reads_value() {
        let value: Vec<String> = decode_json("k", b"[\"a\",\"b\"]").unwrap();
        assert_eq!(value, vec!["a".to_owned(), "b".to_owned()]);
    }
}

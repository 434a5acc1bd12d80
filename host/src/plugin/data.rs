//! The storage that one invocation reads and writes, and the checks the
//! host applies before a handler's store call reaches it.

use std::any::Any;
use std::collections::BTreeMap;

use crate::store::UserLookup;
use crate::user::User;

/// The maximum length of a store key, and of a `list` prefix, in bytes.
pub const MAX_KEY_BYTES: usize = 512;

/// The maximum size of a store value: 1 MiB.
pub const MAX_VALUE_BYTES: usize = 1 << 20;

/// The reason a store call failed. It maps one to one onto the WIT
/// `store-error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The key or prefix is empty or longer than [`MAX_KEY_BYTES`].
    #[error("invalid store key: {0}")]
    InvalidKey(String),
    /// The value is larger than [`MAX_VALUE_BYTES`].
    #[error("store value too large: {0}")]
    ValueTooLarge(String),
    /// The host's storage failed. The handler should fail the invocation so
    /// that the host retries it.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

/// The storage one invocation reads and writes: the handler's private
/// key-value store and the users table.
///
/// The runtime validates keys and values with [`validate_key`] and
/// [`validate_value`] before it calls these methods, so implementations can
/// rely on those limits. An implementation decides what a write means: the
/// dispatcher buffers writes in an overlay and commits them with the
/// delivery record only when the invocation succeeds.
///
/// The runtime owns the value for the length of one invocation, because a
/// wasmtime `Store` can only hold `'static` data. Hence the `Any` bound,
/// which lets [`Plugin::handle_event`](super::Plugin::handle_event) hand
/// back the caller's concrete type.
pub trait PluginData: Any + Send {
    /// Returns the value stored at `key`, or `None` if the key is absent.
    fn store_get(&mut self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Stores `value` at `key`, replacing any earlier value.
    fn store_set(&mut self, key: &str, value: Vec<u8>) -> Result<(), StoreError>;

    /// Deletes `key`. Deleting an absent key succeeds.
    fn store_delete(&mut self, key: &str) -> Result<(), StoreError>;

    /// Returns the entries whose keys start with `prefix`. The runtime sorts
    /// them by key before the handler receives them.
    fn store_list(&mut self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError>;

    /// Returns the user a lookup key names, or `None` if absent or deleted.
    /// The error text reaches the handler.
    fn find_user(&mut self, lookup: UserLookup) -> Result<Option<User>, String>;
}

/// Forwards to the boxed value, so callers that keep their storage behind a
/// trait object can pass it as is.
impl<D: PluginData + ?Sized> PluginData for Box<D> {
    fn store_get(&mut self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        (**self).store_get(key)
    }

    fn store_set(&mut self, key: &str, value: Vec<u8>) -> Result<(), StoreError> {
        (**self).store_set(key, value)
    }

    fn store_delete(&mut self, key: &str) -> Result<(), StoreError> {
        (**self).store_delete(key)
    }

    fn store_list(&mut self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        (**self).store_list(prefix)
    }

    fn find_user(&mut self, lookup: UserLookup) -> Result<Option<User>, String> {
        (**self).find_user(lookup)
    }
}

/// Checks a store key: it must be non-empty and at most [`MAX_KEY_BYTES`].
pub fn validate_key(key: &str) -> Result<(), StoreError> {
    if key.is_empty() {
        return Err(StoreError::InvalidKey(
            "the key is empty; use a non-empty key such as `todos/<user_id>`".into(),
        ));
    }
    validate_prefix(key)
}

/// Checks a `list` prefix: it may be empty, which lists every key, but it
/// must be at most [`MAX_KEY_BYTES`].
pub fn validate_prefix(prefix: &str) -> Result<(), StoreError> {
    if prefix.len() > MAX_KEY_BYTES {
        return Err(StoreError::InvalidKey(format!(
            "the key is {} bytes long (starting `{}`); the maximum is {MAX_KEY_BYTES} bytes",
            prefix.len(),
            truncate_chars(prefix, 40),
        )));
    }
    Ok(())
}

/// Checks a store value: it must be at most [`MAX_VALUE_BYTES`].
pub fn validate_value(key: &str, value: &[u8]) -> Result<(), StoreError> {
    if value.len() > MAX_VALUE_BYTES {
        return Err(StoreError::ValueTooLarge(format!(
            "the value for key `{}` is {} bytes; the maximum is {MAX_VALUE_BYTES} bytes",
            truncate_chars(key, 40),
            value.len(),
        )));
    }
    Ok(())
}

/// Returns at most `max` characters of `text`, so messages stay short.
fn truncate_chars(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((index, _)) => &text[..index],
        None => text,
    }
}

/// A [`PluginData`] kept in memory, for tests and tools. Writes apply at
/// once, with no rollback.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MemoryData {
    /// The store's entries, by key.
    pub entries: BTreeMap<String, Vec<u8>>,
    /// The users that `find_user` searches.
    pub users: Vec<User>,
}

impl MemoryData {
    /// Creates an empty store with no users.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a user that `find_user` can return.
    pub fn with_user(mut self, user: User) -> Self {
        self.users.push(user);
        self
    }

    /// Returns the value stored at `key`.
    pub fn get(&self, key: &str) -> Option<&[u8]> {
        self.entries.get(key).map(Vec::as_slice)
    }
}

impl PluginData for MemoryData {
    fn store_get(&mut self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.entries.get(key).cloned())
    }

    fn store_set(&mut self, key: &str, value: Vec<u8>) -> Result<(), StoreError> {
        self.entries.insert(key.to_owned(), value);
        Ok(())
    }

    fn store_delete(&mut self, key: &str) -> Result<(), StoreError> {
        self.entries.remove(key);
        Ok(())
    }

    fn store_list(&mut self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let entries = self
            .entries
            .range(prefix.to_owned()..)
            .take_while(|(key, _)| key.starts_with(prefix))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        Ok(entries)
    }

    /// Matches like [`Store::find_user`](crate::store::Store::find_user):
    /// emails case-insensitively, and the most recently updated user wins
    /// when several match.
    fn find_user(&mut self, lookup: UserLookup) -> Result<Option<User>, String> {
        let matches = |user: &&User| match &lookup {
            UserLookup::Id(id) => &user.id == id,
            UserLookup::Email(email) => user.email.eq_ignore_ascii_case(email),
            UserLookup::ExternalId(external_id) => {
                user.external_id.as_deref() == Some(external_id.as_str())
            }
        };
        let found = self
            .users
            .iter()
            .filter(matches)
            .max_by_key(|user| user.updated_at_instant);
        Ok(found.cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_validation() {
        assert!(validate_key("todos/user_1").is_ok());
        assert!(validate_key(&"k".repeat(MAX_KEY_BYTES)).is_ok());

        let empty = validate_key("").unwrap_err();
        assert!(matches!(empty, StoreError::InvalidKey(_)), "{empty:?}");
        assert!(empty.to_string().contains("empty"), "{empty}");

        let long = validate_key(&"k".repeat(MAX_KEY_BYTES + 1)).unwrap_err();
        assert!(matches!(long, StoreError::InvalidKey(_)), "{long:?}");
        assert!(long.to_string().contains("513 bytes"), "{long}");
    }

    #[test]
    fn prefix_validation() {
        assert!(validate_prefix("").is_ok());
        assert!(validate_prefix(&"p".repeat(MAX_KEY_BYTES + 1)).is_err());
    }

    #[test]
    fn value_validation() {
        assert!(validate_value("k", &vec![0; MAX_VALUE_BYTES]).is_ok());

        let error = validate_value("big", &vec![0; MAX_VALUE_BYTES + 1]).unwrap_err();
        assert!(matches!(error, StoreError::ValueTooLarge(_)), "{error:?}");
        assert!(error.to_string().contains("`big`"), "{error}");
    }

    #[test]
    fn long_key_message_truncated_on_char_boundary() {
        let key = "ż".repeat(MAX_KEY_BYTES);
        let error = validate_key(&key).unwrap_err();
        assert!(error.to_string().len() < 250, "{error}");
    }

    #[test]
    fn memory_data_lists_by_prefix() {
        let mut data = MemoryData::new();
        for key in ["a", "todos/1", "todos/2", "todos0", "z"] {
            data.store_set(key, key.as_bytes().to_vec()).unwrap();
        }

        let listed = data.store_list("todos/").unwrap();
        let keys: Vec<&str> = listed.iter().map(|(key, _)| key.as_str()).collect();
        assert_eq!(keys, ["todos/1", "todos/2"]);
        assert_eq!(data.store_list("").unwrap().len(), 5);
    }

    #[test]
    fn memory_data_finds_users() {
        let older = User::from_json(
            r#"{"id":"user_1","email":"Ada@Example.com","external_id":"crm-1","updated_at":"2026-01-01T00:00:00Z"}"#,
        )
        .unwrap();
        let newer = User::from_json(
            r#"{"id":"user_2","email":"ada@example.com","updated_at":"2026-02-01T00:00:00Z"}"#,
        )
        .unwrap();
        let mut data = MemoryData::new().with_user(older).with_user(newer);

        let by_email = data.find_user(UserLookup::Email("ADA@example.COM".into()));
        assert_eq!(by_email.unwrap().unwrap().id, "user_2");
        let by_external = data.find_user(UserLookup::ExternalId("crm-1".into()));
        assert_eq!(by_external.unwrap().unwrap().id, "user_1");
        let missing = data.find_user(UserLookup::Id("user_3".into()));
        assert_eq!(missing.unwrap(), None);
    }
}

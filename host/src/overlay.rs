//! The storage a handler sees during one invocation: its committed store,
//! the earlier uncommitted writes of the same batch or action, and its own
//! writes.
//!
//! Nothing reaches the database until the caller commits the writes, with
//! the delivery records or the action decision, so a handler that fails or
//! traps leaves no trace and a crash before the commit loses every write.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::runtime::Handle;

use crate::plugin::{PluginData, StoreError};
use crate::store::{Store, StoreWrite, UserLookup};
use crate::user::User;

/// Pending writes by key: `Some` sets the value, `None` deletes the key.
pub(crate) type Writes = BTreeMap<String, Option<Vec<u8>>>;

/// One invocation's view of a plugin's store.
pub(crate) struct Overlay {
    plugin: String,
    store: Arc<dyn Store>,
    runtime: Handle,
    /// Earlier uncommitted writes, such as those of earlier deliveries in
    /// the same batch.
    pub(crate) batch: Writes,
    /// Writes of the running invocation.
    pub(crate) own: Writes,
}

impl Overlay {
    /// Creates a view for one invocation on top of earlier uncommitted writes.
    /// `runtime` runs the store's async reads from the blocking thread the
    /// invocation runs on.
    pub(crate) fn new(plugin: &str, store: Arc<dyn Store>, runtime: Handle, batch: Writes) -> Self {
        Self {
            plugin: plugin.to_owned(),
            store,
            runtime,
            batch,
            own: Writes::new(),
        }
    }

    /// Ends the invocation: on success its writes join the earlier ones,
    /// otherwise they are dropped. Returns the writes to commit.
    pub(crate) fn finish(self, succeeded: bool) -> Writes {
        let mut batch = self.batch;
        if succeeded {
            batch.extend(self.own);
        }
        batch
    }

    /// Ends the invocation and returns only its own writes, leaving out the
    /// earlier ones it was created on.
    pub(crate) fn into_own_writes(self) -> Writes {
        self.own
    }

    fn pending(&self, key: &str) -> Option<&Option<Vec<u8>>> {
        self.own.get(key).or_else(|| self.batch.get(key))
    }
}

impl PluginData for Overlay {
    fn store_get(&mut self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some(pending) = self.pending(key) {
            return Ok(pending.clone());
        }
        self.runtime
            .block_on(self.store.plugin_store_get(&self.plugin, key))
            .map_err(|error| StoreError::Unavailable(error.to_string()))
    }

    fn store_set(&mut self, key: &str, value: Vec<u8>) -> Result<(), StoreError> {
        self.own.insert(key.to_owned(), Some(value));
        Ok(())
    }

    fn store_delete(&mut self, key: &str) -> Result<(), StoreError> {
        self.own.insert(key.to_owned(), None);
        Ok(())
    }

    fn store_list(&mut self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let committed = self
            .runtime
            .block_on(self.store.plugin_store_list(&self.plugin, prefix))
            .map_err(|error| StoreError::Unavailable(error.to_string()))?;

        let mut entries: BTreeMap<String, Vec<u8>> = committed.into_iter().collect();
        for layer in [&self.batch, &self.own] {
            for (key, value) in layer.range(prefix.to_owned()..) {
                if !key.starts_with(prefix) {
                    break;
                }
                match value {
                    Some(value) => entries.insert(key.clone(), value.clone()),
                    None => entries.remove(key),
                };
            }
        }
        Ok(entries.into_iter().collect())
    }

    fn find_user(&mut self, lookup: UserLookup) -> Result<Option<User>, String> {
        self.runtime
            .block_on(self.store.find_user(lookup))
            .map_err(|error| format!("user lookup failed: {error}"))
    }
}

/// Turns a batch's writes into the store's write list.
pub(crate) fn into_store_writes(writes: Writes) -> Vec<StoreWrite> {
    writes
        .into_iter()
        .map(|(key, value)| match value {
            Some(value) => StoreWrite::Set { key, value },
            None => StoreWrite::Delete { key },
        })
        .collect()
}

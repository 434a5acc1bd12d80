//! Example handler: gives every new user a default todo list.
//!
//! On `user.created` it stores a list at `todos/<user_id>`. On
//! `user.deleted` it removes the list and stores a tombstone at
//! `deleted/<user_id>`. Both steps tolerate redelivery: a second
//! `user.created` keeps the list the user may have edited, and a
//! `user.created` that arrives after the user's `user.deleted` (a retried
//! delivery can overtake a later event) creates nothing. The tombstone
//! assumes that WorkOS never reuses a user id.

use authkit_plugin::{Event, Handler, PluginInfo, Result, User, store};
use serde::{Deserialize, Serialize};

/// The list stored for one user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct TodoList {
    user_id: String,
    items: Vec<TodoItem>,
}

/// One entry of a todo list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct TodoItem {
    title: String,
    done: bool,
}

fn list_key(user_id: &str) -> String {
    format!("todos/{user_id}")
}

fn tombstone_key(user_id: &str) -> String {
    format!("deleted/{user_id}")
}

/// Builds the list a new user starts with. The first item is already done
/// when WorkOS reports the email address as verified.
fn default_list(user: &User) -> TodoList {
    let item = |title: &str, done: bool| TodoItem {
        title: title.to_owned(),
        done,
    };
    TodoList {
        user_id: user.id.clone(),
        items: vec![
            item(
                "Verify your email address",
                user.email_verified == Some(true),
            ),
            item("Complete your profile", false),
            item("Create your first project", false),
            item("Invite a teammate", false),
        ],
    }
}

struct TodoLists;

impl Handler for TodoLists {
    fn describe() -> PluginInfo {
        PluginInfo::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
            .with_events(["user.created", "user.deleted"])
    }

    fn on_user_created(event: &Event, user: User) -> Result<()> {
        if store::get(&tombstone_key(&user.id))?.is_some() {
            authkit_plugin::info!(
                "skipping todo list for user {}: user already deleted (event {})",
                user.id,
                event.id
            );
            return Ok(());
        }
        let key = list_key(&user.id);
        if store::get(&key)?.is_some() {
            authkit_plugin::debug!("todo list {key} already exists (event {})", event.id);
            return Ok(());
        }
        store::set_json(&key, &default_list(&user))?;
        authkit_plugin::info!("created todo list {key} (event {})", event.id);
        Ok(())
    }

    fn on_user_deleted(event: &Event, user: User) -> Result<()> {
        store::delete(&list_key(&user.id))?;
        store::set(&tombstone_key(&user.id), event.created_at.as_bytes())?;
        authkit_plugin::info!("removed todo list of user {} (event {})", user.id, event.id);
        Ok(())
    }
}

authkit_plugin::export_handler!(TodoLists);

#[cfg(test)]
mod tests {
    use super::*;

    fn user(email_verified: Option<bool>) -> User {
        let mut user: User =
            serde_json::from_str(r#"{"id":"user_1","email":"a@example.com"}"#).unwrap();
        user.email_verified = email_verified;
        user
    }

    #[test]
    fn default_list_belongs_to_user() {
        let list = default_list(&user(None));
        assert_eq!(list.user_id, "user_1");
        assert_eq!(list.items.len(), 4);
        assert!(list.items.iter().all(|item| !item.done));
    }

    #[test]
    fn verified_email_item_done() {
        let list = default_list(&user(Some(true)));
        assert!(list.items[0].done);
        assert!(!list.items[1].done);
    }

    #[test]
    fn keys_use_user_id() {
        assert_eq!(list_key("user_1"), "todos/user_1");
        assert_eq!(tombstone_key("user_1"), "deleted/user_1");
    }
}

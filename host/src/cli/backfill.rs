//! `authkit-host backfill`: import the users that exist in WorkOS into the
//! users table, for a deployment that starts after users signed up.
//!
//! Users are listed oldest first, a page at a time, and each page goes
//! through the same rules as `user.*` webhooks ([`Store::backfill_users`]):
//! a row only moves to a newer `updated_at`, and a deleted user stays
//! deleted. So a backfill and webhooks arriving meanwhile commute. A user the
//! page inserts also gets a stored `user.created` event, which the server's
//! dispatcher delivers to the plugins.
//!
//! The cursor of the next page is stored with each page, so a run that
//! stops part-way resumes where it stopped. A finished run removes the
//! cursor, so the next run lists every user again.

use super::import::ImportArgs;
use crate::config::Secret;
use crate::error::Result;
use crate::store::{BACKFILL_CURSOR, BackfillPage, Store};
use crate::user::User;
use crate::workos_api::WorkosClient;

/// The WorkOS API path that lists users.
const USERS_PATH: &str = "/user_management/users";
/// Users requested per page, the API's maximum.
const PAGE_SIZE: u32 = 100;

/// Flags of `authkit-host backfill`.
#[derive(Debug, Clone, clap::Args)]
pub struct BackfillArgs {
    #[command(flatten)]
    pub import: ImportArgs,

    /// Start from the first page instead of where an unfinished run stopped
    #[arg(long)]
    pub restart: bool,
}

/// The counts of a whole run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Totals {
    pages: u64,
    seen: u64,
    invalid: u64,
    applied: BackfillPage,
}

/// Imports every user and returns the summary to print.
pub async fn run(args: &BackfillArgs, api_key: Secret) -> Result<String> {
    let client = args.import.client(api_key)?;
    let store = args.import.open_store().await?;

    let result = backfill(&client, &store, args.restart).await;

    super::close_store(store).await?;
    let totals = result?;
    Ok(format!(
        "backfill finished: {} pages, {} users seen, {} inserted, {} updated, {} skipped ({} deleted), {} invalid\n",
        totals.pages,
        totals.seen,
        totals.applied.inserted,
        totals.applied.updated,
        totals.applied.skipped(),
        totals.applied.tombstoned,
        totals.invalid,
    ))
}

async fn backfill(client: &WorkosClient, store: &dyn Store, restart: bool) -> Result<Totals> {
    if restart {
        store.set_import_cursor(BACKFILL_CURSOR, None).await?;
    }
    let mut cursor = store.import_cursor(BACKFILL_CURSOR).await?;
    if let Some(cursor) = &cursor {
        tracing::info!(%cursor, "resuming the backfill where the last run stopped");
    }

    let mut totals = Totals::default();
    loop {
        let mut query = vec![("limit", PAGE_SIZE.to_string()), ("order", "asc".into())];
        if let Some(after) = &cursor {
            query.push(("after", after.clone()));
        }
        let page = client.list(USERS_PATH, &query).await?;

        let seen = page.data.len() as u64;
        let mut users = Vec::with_capacity(page.data.len());
        for raw in &page.data {
            match User::from_json(raw.get()) {
                Ok(user) => users.push(user),
                Err(reason) => {
                    // The users table cannot hold it, and stopping here
                    // would stop every later run at the same place.
                    tracing::warn!(error = %reason, "skipped a listed user that is not a valid user object");
                    totals.invalid += 1;
                }
            }
        }

        let next = page.list_metadata.after.filter(|_| seen > 0);
        let applied = store.backfill_users(users, next.clone()).await?;

        totals.pages += 1;
        totals.seen += seen;
        totals.applied.inserted += applied.inserted;
        totals.applied.updated += applied.updated;
        totals.applied.stale += applied.stale;
        totals.applied.tombstoned += applied.tombstoned;
        tracing::info!(
            page = totals.pages,
            seen,
            inserted = applied.inserted,
            updated = applied.updated,
            skipped = applied.skipped(),
            total_seen = totals.seen,
            "imported a page of users"
        );

        match next {
            Some(after) => cursor = Some(after),
            None => return Ok(totals),
        }
    }
}

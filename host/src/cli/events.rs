//! `authkit-host events`: list failed and dead deliveries, retry them, and
//! drop the queue of a plugin removed for good.
//!
//! The command opens the database directly, so it works whether or not the
//! server is running; a running server picks retried deliveries up within
//! a second.

use std::path::PathBuf;

use super::{close_store, open_store};
use crate::error::Result;
use crate::store::{DeliveryFilter, DeliveryRecord, DeliveryStatus, QueueDepth, Store};

/// The maximum number of deliveries `events list` prints.
const LIST_LIMIT: usize = 1000;

/// Flags shared by the `events` subcommands.
#[derive(Debug, Clone, clap::Args)]
pub struct EventsArgs {
    /// SQLite database file [default: ./authkit.db]
    #[arg(long, env = "AUTHKIT_DB", value_name = "FILE", global = true)]
    pub db: Option<PathBuf>,

    #[command(subcommand)]
    pub command: EventsCommand,
}

/// What to do with failed deliveries.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum EventsCommand {
    /// List deliveries that have failed at least once or are dead
    List(SelectArgs),
    /// Make failed and dead deliveries due now, with a fresh attempt budget
    Retry(SelectArgs),
    /// Delete every queued delivery of a plugin removed for good; its events
    /// stay stored, but that plugin will not handle them. Run it once the
    /// plugin has been unloaded for 60 seconds, because until then the
    /// server still queues events for it
    Drop(DropArgs),
}

/// The plugin whose queue `events drop` deletes.
#[derive(Debug, Clone, clap::Args)]
pub struct DropArgs {
    /// The plugin name
    #[arg(long)]
    pub plugin: String,
}

/// Which deliveries a subcommand applies to.
#[derive(Debug, Clone, clap::Args)]
pub struct SelectArgs {
    /// Only deliveries to this plugin
    #[arg(long)]
    pub plugin: Option<String>,
    /// Only deliveries of this event id
    #[arg(long)]
    pub event: Option<String>,
    /// Only dead deliveries
    #[arg(long)]
    pub dead: bool,
}

impl From<&SelectArgs> for DeliveryFilter {
    fn from(args: &SelectArgs) -> Self {
        Self {
            plugin: args.plugin.clone(),
            event_id: args.event.clone(),
            dead_only: args.dead,
        }
    }
}

/// Runs an `events` subcommand and returns the text to print.
pub async fn run(args: &EventsArgs) -> Result<String> {
    let store = open_store(args.db.as_deref()).await?;

    let output = match &args.command {
        EventsCommand::List(select) => {
            let records = store.failed_deliveries(select.into(), LIST_LIMIT).await?;
            let queue = store.queue_depth().await?;
            let mut text = format_records(&records);
            // The counts are per plugin, so a selection by event or of dead
            // deliveries leaves them out.
            if select.event.is_none() && !select.dead {
                text.push_str(&format_waiting(&queue, select.plugin.as_deref()));
            }
            text
        }
        EventsCommand::Drop(drop) => {
            let count = store.drop_deliveries(&drop.plugin).await?;
            format!(
                "dropped {count} queued deliveries of plugin {}\n",
                drop.plugin
            )
        }
        EventsCommand::Retry(select) => {
            let count = store.retry_deliveries(select.into()).await?;
            format!("{count} deliveries are due for another attempt\n")
        }
    };

    close_store(store).await?;
    Ok(output)
}

/// Summarizes the pending deliveries per plugin, which include the ones
/// never attempted, such as those queued for a plugin that is not loaded.
fn format_waiting(queue: &QueueDepth, plugin: Option<&str>) -> String {
    let mut text = String::new();
    for count in &queue.deliveries {
        let selected = plugin.is_none_or(|plugin| plugin == count.plugin);
        if count.status == DeliveryStatus::Pending && selected {
            text.push_str(&format!(
                "{} deliveries pending for plugin {}\n",
                count.count, count.plugin
            ));
        }
    }
    text
}

fn format_records(records: &[DeliveryRecord]) -> String {
    if records.is_empty() {
        return "no failed or dead deliveries\n".to_owned();
    }

    let mut text =
        String::from("STATUS   ATTEMPTS  PLUGIN  EVENT  TYPE  NEXT ATTEMPT  LAST ERROR\n");
    for record in records {
        let next = match record.status {
            DeliveryStatus::Pending => record.next_attempt_at.to_rfc3339(),
            DeliveryStatus::Dead => "-".to_owned(),
        };
        let error = record
            .last_error
            .as_deref()
            .unwrap_or("-")
            .replace('\n', " ");
        text.push_str(&format!(
            "{:<8} {:>8}  {}  {}  {}  {}  {}\n",
            record.status.as_str(),
            record.attempts,
            record.plugin,
            record.event_id,
            record.event_type,
            next,
            error
        ));
    }
    text
}

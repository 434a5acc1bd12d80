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
    /// server still queues events for it. It does not check whether a
    /// server has the plugin loaded
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
                "dropped {count} queued {} of plugin {}\n",
                deliveries_noun(count),
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
                "{} {} pending for plugin {}\n",
                count.count,
                deliveries_noun(count.count),
                count.plugin
            ));
        }
    }
    text
}

/// Returns "delivery" or "deliveries", to follow `count`.
fn deliveries_noun(count: u64) -> &'static str {
    if count == 1 { "delivery" } else { "deliveries" }
}

/// Formats deliveries as a table whose columns are as wide as their
/// longest value; the last error, the last column, is not padded.
fn format_records(records: &[DeliveryRecord]) -> String {
    if records.is_empty() {
        return "no failed or dead deliveries\n".to_owned();
    }

    let header = [
        "STATUS",
        "ATTEMPTS",
        "PLUGIN",
        "EVENT",
        "TYPE",
        "NEXT ATTEMPT",
        "LAST ERROR",
    ];
    let rows: Vec<[String; 7]> = records
        .iter()
        .map(|record| {
            let next = match record.status {
                DeliveryStatus::Pending => record.next_attempt_at.to_rfc3339(),
                DeliveryStatus::Dead => "-".to_owned(),
            };
            let error = record
                .last_error
                .as_deref()
                .unwrap_or("-")
                .replace('\n', " ");
            [
                record.status.as_str().to_owned(),
                record.attempts.to_string(),
                record.plugin.clone(),
                record.event_id.clone(),
                record.event_type.clone(),
                next,
                error,
            ]
        })
        .collect();

    let mut widths = header.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }

    let mut text = String::new();
    let header = header.map(str::to_owned);
    for row in std::iter::once(&header).chain(&rows) {
        let last = row.len() - 1;
        for (column, cell) in row.iter().enumerate() {
            if column == last {
                text.push_str(cell);
            } else {
                let padding = widths[column] - cell.chars().count();
                text.push_str(cell);
                text.push_str(&" ".repeat(padding + 2));
            }
        }
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timestamp::Timestamp;

    fn record(plugin: &str, event_id: &str, status: DeliveryStatus) -> DeliveryRecord {
        DeliveryRecord {
            plugin: plugin.to_owned(),
            event_id: event_id.to_owned(),
            event_type: "user.created".to_owned(),
            status,
            attempts: 3,
            next_attempt_at: Timestamp::from_unix_nanos(0),
            last_error: Some("the handler failed:\nline two".to_owned()),
        }
    }

    #[test]
    fn records_table_columns_line_up() {
        let text = format_records(&[
            record("a", "event_01", DeliveryStatus::Pending),
            record("todo-lists-long-name", "event_2", DeliveryStatus::Dead),
        ]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");

        // Each column starts at the header's offset on every line.
        for column in ["EVENT", "TYPE", "LAST ERROR"] {
            let offset = lines[0].find(column).expect("header has the column");
            for line in &lines[1..] {
                let before = &line[..offset];
                assert!(before.ends_with("  "), "{column} misaligned in {text}");
                assert_ne!(&line[offset..=offset], " ", "{column} misaligned in {text}");
            }
        }
        assert!(lines[2].ends_with("the handler failed: line two"), "{text}");
    }
}

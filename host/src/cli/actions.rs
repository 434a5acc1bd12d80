//! `authkit-host actions`: list recent Action decisions.

use std::path::PathBuf;

use super::{close_store, open_store};
use crate::error::Result;
use crate::store::{ActionDecision, Store};

/// Flags of `authkit-host actions`.
#[derive(Debug, Clone, clap::Args)]
pub struct ActionsArgs {
    /// SQLite database file [default: ./authkit.db]
    #[arg(long, env = "AUTHKIT_DB", value_name = "FILE")]
    pub db: Option<PathBuf>,

    /// How many decisions to list, newest first
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
}

/// Lists recent decisions and returns the text to print.
pub async fn run(args: &ActionsArgs) -> Result<String> {
    let store = open_store(args.db.as_deref()).await?;
    let decisions = store.recent_actions(args.limit).await?;
    close_store(store).await?;
    Ok(format_decisions(&decisions))
}

fn format_decisions(decisions: &[ActionDecision]) -> String {
    if decisions.is_empty() {
        return "no action decisions recorded\n".to_owned();
    }

    let mut text =
        String::from("DECIDED AT  KIND  VERDICT  PLUGIN  LATENCY MS  ACTION ID  REASON  MESSAGE\n");
    for decision in decisions {
        text.push_str(&format!(
            "{}  {}  {}  {}  {:.2}  {}  {}  {}\n",
            decision.decided_at.to_rfc3339(),
            decision.kind,
            if decision.allowed { "Allow" } else { "Deny" },
            decision.deciding_plugin.as_deref().unwrap_or("-"),
            decision.latency_us as f64 / 1000.0,
            decision.action_id,
            decision.reason,
            decision.error_message.as_deref().unwrap_or("-"),
        ));
    }
    text
}

//! `authkit-host plugins`: list a running server's plugins, or check one
//! component file without a server.

use std::path::PathBuf;

use reqwest::StatusCode;

use crate::config::{API_TOKEN_VAR, DEFAULT_LISTEN};
use crate::error::{Error, Result};
use crate::http::PluginsReport;
use crate::plugin::{Limits, PluginRuntime, read_plugin_config};

/// The maximum number of characters of a response body quoted in an error,
/// when the body is not the server's JSON error.
const MAX_QUOTED_BODY_CHARS: usize = 200;

/// Flags of `authkit-host plugins`.
#[derive(Debug, Clone, clap::Args)]
pub struct PluginsArgs {
    /// Base URL of the running server [default: http://127.0.0.1:8080]
    #[arg(long, env = "AUTHKIT_SERVER_URL")]
    pub url: Option<String>,

    #[command(subcommand)]
    pub command: Option<PluginsCommand>,
}

/// What to do instead of listing.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum PluginsCommand {
    /// Load a component as the server would and print its description
    Check {
        /// The .wasm file; a .toml file beside it supplies settings
        file: PathBuf,
    },
}

/// Runs the command and returns the text to print.
pub async fn run(args: &PluginsArgs) -> Result<String> {
    match &args.command {
        Some(PluginsCommand::Check { file }) => check(file.clone()).await,
        None => list(args).await,
    }
}

async fn list(args: &PluginsArgs) -> Result<String> {
    let base = args
        .url
        .clone()
        .unwrap_or_else(|| format!("http://{DEFAULT_LISTEN}"));
    super::check_server_url(&base, &format!("http://{DEFAULT_LISTEN}"))?;
    let url = format!("{}/plugins", base.trim_end_matches('/'));
    let token = std::env::var(API_TOKEN_VAR)
        .ok()
        .filter(|token| !token.is_empty())
        .ok_or(Error::MissingEnv {
            variable: API_TOKEN_VAR,
            hint: "set it to the server's users API token; /plugins needs it",
        })?;
    let http_error = |source| Error::Http {
        url: url.clone(),
        source,
    };

    let response = reqwest::Client::new()
        .get(&url)
        .bearer_auth(token)
        .send()
        .await
        .map_err(http_error)?;
    let status = response.status();
    if !status.is_success() {
        let body = response.text().await.map_err(http_error)?;
        return Err(Error::ServerResponse {
            url,
            status,
            message: error_message(status, &body),
        });
    }
    let report: PluginsReport = response.json().await.map_err(http_error)?;
    Ok(format_report(&report))
}

/// Returns the `message` of the server's JSON error body, which names the
/// cause and the fix, or its `error` code if there is no message. A body
/// that is not such JSON is quoted, cut to [`MAX_QUOTED_BODY_CHARS`], with
/// control characters escaped.
fn error_message(status: StatusCode, body: &str) -> String {
    let json: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let field = |name: &str| {
        json.as_ref()
            .and_then(|json| json.get(name))
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    };
    let mut message = match field("message").or_else(|| field("error")) {
        Some(message) => message,
        None if body.trim().is_empty() => "the response has no body".to_owned(),
        None => {
            let quoted: String = body.trim().chars().take(MAX_QUOTED_BODY_CHARS).collect();
            format!(
                "the response is not an authkit-host error: {}",
                quoted.escape_debug()
            )
        }
    };
    if status == StatusCode::UNAUTHORIZED {
        message.push_str(&format!(
            "; set {API_TOKEN_VAR} to the token the server was started with"
        ));
    }
    message
}

fn format_report(report: &PluginsReport) -> String {
    let mut text = String::new();
    if report.plugins.is_empty() {
        text.push_str("no plugins loaded\n");
    }
    for plugin in &report.plugins {
        text.push_str(&format!(
            "{} {}\n  file: {}\n  sha256: {}\n  loaded at: {}\n  events: {}\n  actions: {}\n  handled {}, failed {}, timed out {}, trapped {}\n  last error: {}\n",
            plugin.name,
            plugin.version,
            plugin.file,
            plugin.sha256,
            plugin.loaded_at,
            list_or_dash(&plugin.events),
            list_or_dash(&plugin.actions),
            plugin.handled,
            plugin.failed,
            plugin.timed_out,
            plugin.trapped,
            plugin.last_error.as_deref().unwrap_or("-"),
        ));
    }
    for error in &report.load_errors {
        text.push_str(&format!(
            "failed to load {} (sha256 {}): {}\n",
            error.file, error.sha256, error.error
        ));
    }
    text
}

fn list_or_dash(items: &[String]) -> String {
    if items.is_empty() {
        "-".to_owned()
    } else {
        items.join(", ")
    }
}

async fn check(file: PathBuf) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        let runtime = PluginRuntime::new(Limits::default()).map_err(Error::Plugin)?;
        let config = read_plugin_config(&file).map_err(Error::PluginFile)?;
        let plugin = runtime
            .load_with(&file, &config)
            .map_err(Error::PluginFile)?;
        let info = &plugin.info;
        let actions: Vec<String> = info.actions.iter().map(|kind| kind.as_str().to_owned()).collect();
        Ok(format!(
            "{} is a valid plugin\n  name: {}\n  version: {}\n  sha256: {}\n  events: {}\n  actions: {}\n  settings: {}\n",
            file.display(),
            info.name,
            info.version,
            plugin.sha256,
            list_or_dash(&info.events),
            list_or_dash(&actions),
            list_or_dash(&plugin.settings().keys().cloned().collect::<Vec<_>>()),
        ))
    })
    .await
    .map_err(Error::panicked("checking the plugin"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_message_prefers_message_field() {
        let body = r#"{"error":"disabled","message":"no API token is configured"}"#;
        let message = error_message(StatusCode::FORBIDDEN, body);
        assert_eq!(message, "no API token is configured");
    }

    #[test]
    fn error_message_falls_back_to_code() {
        let message = error_message(StatusCode::FORBIDDEN, r#"{"error":"disabled"}"#);
        assert_eq!(message, "disabled");
    }

    #[test]
    fn error_message_quotes_other_bodies() {
        let body = format!("<html>\n{}</html>", "x".repeat(500));
        let message = error_message(StatusCode::NOT_FOUND, &body);
        assert!(message.contains("not an authkit-host error"), "{message}");
        assert!(message.contains(r"<html>\nxxx"), "{message}");
        assert!(!message.contains("</html>"), "{message}");

        let message = error_message(StatusCode::BAD_GATEWAY, " ");
        assert_eq!(message, "the response has no body");
    }

    #[test]
    fn error_message_names_token_on_401() {
        let body = r#"{"error":"unauthorized","message":"invalid bearer token"}"#;
        let message = error_message(StatusCode::UNAUTHORIZED, body);
        assert!(message.starts_with("invalid bearer token; "), "{message}");
        assert!(message.contains(API_TOKEN_VAR), "{message}");
    }
}

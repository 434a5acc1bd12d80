//! `authkit-host send`: sign JSON files as WorkOS does and POST them, so a
//! developer can exercise a server without WorkOS.

use std::path::{Path, PathBuf};

use crate::config::{ACTION_SECRET_VAR, DEFAULT_LISTEN, Secret, WEBHOOK_SECRET_VAR};
use crate::error::{Error, Result};
use crate::http::unix_millis_now;
use crate::signature::{self, SIGNATURE_HEADER};

/// Flags of `authkit-host send`.
#[derive(Debug, Clone, clap::Args)]
pub struct SendArgs {
    /// JSON files to send, in order; a folder sends its .json files sorted by name
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Endpoint to POST to [default: http://127.0.0.1:8080/workos/webhook,
    /// or /workos/action with --action]
    #[arg(long, env = "AUTHKIT_SEND_URL")]
    pub url: Option<String>,

    /// Send Action requests: sign with WORKOS_ACTION_SECRET instead of
    /// WORKOS_WEBHOOK_SECRET
    #[arg(long)]
    pub action: bool,
}

impl SendArgs {
    /// Returns the environment variable holding the signing secret.
    pub fn secret_variable(&self) -> &'static str {
        if self.action {
            ACTION_SECRET_VAR
        } else {
            WEBHOOK_SECRET_VAR
        }
    }

    fn url(&self) -> String {
        self.url.clone().unwrap_or_else(|| self.default_url())
    }

    /// Returns the endpoint of a server on the default address.
    fn default_url(&self) -> String {
        let path = if self.action {
            "/workos/action"
        } else {
            "/workos/webhook"
        };
        format!("http://{DEFAULT_LISTEN}{path}")
    }
}

/// Sends every file, printing each response's status and body. Returns
/// whether every response was a 2xx.
pub async fn run(args: &SendArgs, secret: &Secret) -> Result<bool> {
    let url = args.url();
    super::check_server_url(&url, &args.default_url())?;
    let files = expand_folders(&args.files)?;
    let client = reqwest::Client::new();
    let mut all_succeeded = true;

    for file in files {
        let body = std::fs::read(&file).map_err(|source| Error::Io {
            action: "reading",
            path: file.clone(),
            source,
        })?;
        let header = signature::header_value(secret.expose(), unix_millis_now(), &body);

        let response = client
            .post(&url)
            .header(SIGNATURE_HEADER, header)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|source| Error::Http {
                url: url.clone(),
                source,
            })?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();

        #[allow(
            clippy::print_stdout,
            reason = "printing responses is this command's output"
        )]
        {
            println!("{} {} {}", file.display(), status.as_u16(), text.trim_end());
        }
        all_succeeded &= status.is_success();
    }
    Ok(all_succeeded)
}

fn expand_folders(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            files.extend(json_files_in(path)?);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

fn json_files_in(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Io {
        action: "listing",
        path: dir.to_owned(),
        source,
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.is_file() && path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    Ok(files)
}

//! Server settings from flags, environment variables and an optional TOML file.
//!
//! Each setting is taken from the first source that has it: the command-line
//! flag, then its environment variable (clap reads both), then the config
//! file, then the default named here. Secrets come only from environment
//! variables, so they stay out of files and process listings.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::dispatch::{DEFAULT_BASE_DELAY, DEFAULT_MAX_ATTEMPTS, RetryPolicy};
use crate::error::{Error, Result};
use crate::plugin::DEFAULT_MAX_CONCURRENT_INVOCATIONS;

/// The largest `max_concurrent_invocations` accepted. Invocations run on
/// tokio's blocking threads, 512 of them, which database reads share, so
/// half are left for those.
pub const MAX_CONCURRENT_INVOCATIONS: u32 = 256;

/// The address the server listens on by default.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// The SQLite database file used by default.
pub const DEFAULT_DB: &str = "./authkit.db";
/// The folder plugins are loaded from by default.
pub const DEFAULT_PLUGINS: &str = "./plugins";
/// How far a webhook's signature timestamp may be from now, by default.
pub const DEFAULT_WEBHOOK_TOLERANCE_SECS: u64 = 180;
/// The largest webhook body accepted by default: 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
/// How long user tombstones are kept by default. WorkOS retries deliveries
/// for up to 3 days and its Events API keeps events for 30, so tombstones
/// outlive both.
pub const DEFAULT_TOMBSTONE_RETENTION_DAYS: u64 = 30;
/// The shortest tombstone retention allowed, matching WorkOS's retry window.
pub const MIN_TOMBSTONE_RETENTION_DAYS: u64 = 3;

/// How far an Action request's signature timestamp may be from now, by
/// default. WorkOS signs Actions just before sending them.
pub const DEFAULT_ACTION_TOLERANCE_SECS: u64 = 30;
/// How long the server takes at most to decide one Action, by default.
pub const DEFAULT_ACTION_DEADLINE_MS: u64 = 1000;

/// The WorkOS API base URL used by default: the signing keys of access
/// tokens, `backfill` and `catch-up` are fetched from it.
pub const DEFAULT_WORKOS_API_URL: &str = "https://api.workos.com";

/// The environment variable holding the webhook signing secret.
pub const WEBHOOK_SECRET_VAR: &str = "WORKOS_WEBHOOK_SECRET";
/// The environment variable holding the Actions signing secret.
pub const ACTION_SECRET_VAR: &str = "WORKOS_ACTION_SECRET";
/// The environment variable holding the WorkOS API key.
pub const API_KEY_VAR: &str = "WORKOS_API_KEY";
/// The environment variable holding the WorkOS client id.
pub const CLIENT_ID_VAR: &str = "WORKOS_CLIENT_ID";
/// The environment variable holding the bearer token for the users API.
pub const API_TOKEN_VAR: &str = "AUTHKIT_API_TOKEN";

/// Flags of `authkit-host serve`.
#[derive(Debug, Default, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address and port to listen on [default: 127.0.0.1:8080]
    #[arg(long, env = "AUTHKIT_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,

    /// SQLite database file, created if missing [default: ./authkit.db]
    #[arg(long, env = "AUTHKIT_DB", value_name = "FILE")]
    pub db: Option<PathBuf>,

    /// Folder of plugin components (.wasm) [default: ./plugins]
    #[arg(long, env = "AUTHKIT_PLUGINS", value_name = "DIR")]
    pub plugins: Option<PathBuf>,

    /// TOML file with any of these settings; flags and environment variables
    /// override it, and relative paths in it are relative to the file
    #[arg(long, env = "AUTHKIT_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Seconds a webhook signature timestamp may differ from now, in either
    /// direction [default: 180]
    #[arg(long, env = "AUTHKIT_WEBHOOK_TOLERANCE_SECS", value_name = "SECONDS")]
    pub webhook_tolerance_secs: Option<u64>,

    /// Largest webhook body accepted, in bytes [default: 1048576]
    #[arg(long, env = "AUTHKIT_MAX_BODY_BYTES", value_name = "BYTES")]
    pub max_body_bytes: Option<usize>,

    /// Days a deleted user's tombstone is kept, at least 3 [default: 30]
    #[arg(long, env = "AUTHKIT_TOMBSTONE_RETENTION_DAYS", value_name = "DAYS")]
    pub tombstone_retention_days: Option<u64>,

    /// Attempts to deliver an event to a plugin before the delivery is parked
    /// as dead [default: 10]
    #[arg(long, env = "AUTHKIT_DELIVERY_MAX_ATTEMPTS", value_name = "COUNT")]
    pub delivery_max_attempts: Option<u32>,

    /// Milliseconds to wait after a delivery's first failure; the wait doubles
    /// with each further failure, up to an hour [default: 1000]
    #[arg(
        long,
        env = "AUTHKIT_DELIVERY_RETRY_BASE_MS",
        value_name = "MILLISECONDS"
    )]
    pub delivery_retry_base_ms: Option<u64>,

    /// Plugin invocations that run at once, across all plugins; more wait
    /// for a free slot. Each reserves about 190 MiB of address space, not
    /// memory; at most 256 [default: 32]
    #[arg(long, env = "AUTHKIT_MAX_CONCURRENT_INVOCATIONS", value_name = "COUNT")]
    pub max_concurrent_invocations: Option<u32>,

    /// Seconds an Action signature timestamp may differ from now, in either
    /// direction [default: 30]
    #[arg(long, env = "AUTHKIT_ACTION_TOLERANCE_SECS", value_name = "SECONDS")]
    pub action_tolerance_secs: Option<u64>,

    /// Milliseconds the server takes at most to decide one Action, plugins
    /// included; past it the fallback verdict is answered [default: 1000]
    #[arg(long, env = "AUTHKIT_ACTION_DEADLINE_MS", value_name = "MILLISECONDS")]
    pub action_deadline_ms: Option<u64>,

    /// Folder of compiled plugin code, so unchanged plugins load without
    /// compiling [default: plugin-cache beside the database]
    #[arg(long, env = "AUTHKIT_PLUGIN_CACHE_DIR", value_name = "DIR")]
    pub plugin_cache_dir: Option<PathBuf>,

    /// Verdict for authentication Actions when no plugin decides them, or a
    /// plugin fails or runs out of time [default: deny]
    #[arg(long, env = "AUTHKIT_ACTION_FALLBACK_AUTHENTICATION", value_enum)]
    pub action_fallback_authentication: Option<FallbackVerdict>,

    /// Verdict for user registration Actions when no plugin decides them, or
    /// a plugin fails or runs out of time [default: deny]
    #[arg(long, env = "AUTHKIT_ACTION_FALLBACK_USER_REGISTRATION", value_enum)]
    pub action_fallback_user_registration: Option<FallbackVerdict>,

    /// Base URL of the WorkOS API, where the signing keys of access tokens
    /// are fetched from [default: https://api.workos.com]
    #[arg(long, env = "AUTHKIT_WORKOS_API_URL", value_name = "URL")]
    pub workos_api_url: Option<String>,

    /// JWKS URL that access tokens are verified with [default:
    /// /sso/jwks/$WORKOS_CLIENT_ID under the WorkOS API URL]
    #[arg(long, env = "AUTHKIT_JWKS_URL", value_name = "URL")]
    pub jwks_url: Option<String>,

    /// Accepted `iss` claim of access tokens; repeat the flag, or separate
    /// issuers with commas in the variable [default:
    /// /user_management/$WORKOS_CLIENT_ID under the WorkOS API URL, and the
    /// API URL with and without a trailing slash]
    #[arg(
        long = "token-issuer",
        env = "AUTHKIT_TOKEN_ISSUERS",
        value_name = "ISSUER",
        value_delimiter = ','
    )]
    pub token_issuers: Vec<String>,
}

/// The verdict answered when the plugins cannot decide an Action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum FallbackVerdict {
    /// Let the sign-in or registration proceed.
    Allow,
    /// Stop it, as WorkOS itself does when it cannot reach the endpoint.
    Deny,
}

/// The config file's keys: the same settings as the flags, without secrets.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    db: Option<PathBuf>,
    plugins: Option<PathBuf>,
    webhook_tolerance_secs: Option<u64>,
    max_body_bytes: Option<usize>,
    tombstone_retention_days: Option<u64>,
    delivery_max_attempts: Option<u32>,
    delivery_retry_base_ms: Option<u64>,
    max_concurrent_invocations: Option<u32>,
    action_tolerance_secs: Option<u64>,
    action_deadline_ms: Option<u64>,
    action_fallback_authentication: Option<FallbackVerdict>,
    action_fallback_user_registration: Option<FallbackVerdict>,
    workos_api_url: Option<String>,
    jwks_url: Option<String>,
    token_issuers: Option<Vec<String>>,
    plugin_cache_dir: Option<PathBuf>,
}

/// A secret value whose `Debug` output is redacted, so it never reaches a log.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// Returns the secret for signing or comparison.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("Secret(…)")
    }
}

/// The secrets and credentials read from the environment.
#[derive(Debug, Clone)]
pub struct Secrets {
    /// Verifies webhook signatures; required.
    pub webhook_secret: Secret,
    /// Verifies Actions requests and signs their responses.
    pub action_secret: Option<Secret>,
    /// Authenticates calls to the WorkOS API.
    pub api_key: Option<Secret>,
    /// The WorkOS client id, used to find the JWKS for access tokens.
    pub client_id: Option<String>,
    /// Protects the users API; without it those routes answer 403.
    pub api_token: Option<Secret>,
}

impl Secrets {
    /// Reads the secrets through `lookup`, which is `std::env::var` in the binary.
    /// Empty values count as unset.
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let read = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());

        let webhook_secret = read(WEBHOOK_SECRET_VAR).ok_or(Error::MissingEnv {
            variable: WEBHOOK_SECRET_VAR,
            hint: "set it to the webhook secret shown for your endpoint in the WorkOS dashboard",
        })?;

        Ok(Self {
            webhook_secret: Secret::new(webhook_secret),
            action_secret: read(ACTION_SECRET_VAR).map(Secret::new),
            api_key: read(API_KEY_VAR).map(Secret::new),
            client_id: read(CLIENT_ID_VAR),
            api_token: read(API_TOKEN_VAR).map(Secret::new),
        })
    }
}

/// The resolved settings the server runs with.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The address to listen on.
    pub listen: SocketAddr,
    /// The SQLite database file.
    pub db_path: PathBuf,
    /// The folder plugins are loaded from.
    pub plugins_dir: PathBuf,
    /// The folder of compiled plugin code, and whether it was set
    /// explicitly (then an unusable folder is an error, not a warning).
    pub plugin_cache_dir: (PathBuf, bool),
    /// How far a webhook signature timestamp may be from now.
    pub webhook_tolerance: Duration,
    /// The largest webhook body accepted, in bytes.
    pub max_body_bytes: usize,
    /// How long user tombstones are kept.
    pub tombstone_retention: Duration,
    /// When failed deliveries are retried and given up on.
    pub retry_policy: RetryPolicy,
    /// How many plugin invocations run at once.
    pub max_concurrent_invocations: u32,
    /// How far an Action signature timestamp may be from now.
    pub action_tolerance: Duration,
    /// How long one Action may take to decide.
    pub action_deadline: Duration,
    /// The verdict for authentication Actions the plugins cannot decide.
    pub action_fallback_authentication: FallbackVerdict,
    /// The verdict for user registration Actions the plugins cannot decide.
    pub action_fallback_user_registration: FallbackVerdict,
    /// The WorkOS API base URL, without a trailing slash.
    pub workos_api_url: String,
    /// The URL the signing keys of access tokens are fetched from. It is
    /// `None` when neither `WORKOS_CLIENT_ID` nor `--jwks-url` is set, which
    /// disables `/me`.
    pub jwks_url: Option<String>,
    /// The `iss` claims accepted in access tokens.
    pub token_issuers: Vec<String>,
    /// Secrets and credentials.
    pub secrets: Secrets,
}

impl ServerConfig {
    /// Combines flags and environment variables (already merged by clap), the
    /// config file they name, and the defaults, then checks every value.
    pub fn resolve(args: ServeArgs, secrets: Secrets) -> Result<Self> {
        let (file, file_dir) = match &args.config {
            Some(path) => (load_file(path)?, path.parent().map(Path::to_owned)),
            None => (FileConfig::default(), None),
        };
        let from_file = |path: Option<PathBuf>| match (&file_dir, path) {
            (Some(dir), Some(path)) if path.is_relative() => Some(dir.join(path)),
            (_, path) => path,
        };

        let listen = args
            .listen
            .or(file.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("default address is valid"));
        let db_path = args
            .db
            .or_else(|| from_file(file.db))
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DB));
        let plugins_dir = args
            .plugins
            .or_else(|| from_file(file.plugins))
            .unwrap_or_else(|| PathBuf::from(DEFAULT_PLUGINS));

        let tolerance_secs = args
            .webhook_tolerance_secs
            .or(file.webhook_tolerance_secs)
            .unwrap_or(DEFAULT_WEBHOOK_TOLERANCE_SECS);
        if tolerance_secs == 0 {
            return Err(invalid(
                "webhook_tolerance_secs",
                "must be at least 1 second; WorkOS recommends 180",
            ));
        }

        let max_body_bytes = args
            .max_body_bytes
            .or(file.max_body_bytes)
            .unwrap_or(DEFAULT_MAX_BODY_BYTES);
        if max_body_bytes < 1024 {
            return Err(invalid(
                "max_body_bytes",
                format!(
                    "{max_body_bytes} is below the 1024-byte minimum; the default is {DEFAULT_MAX_BODY_BYTES}"
                ),
            ));
        }

        let retention_days = args
            .tombstone_retention_days
            .or(file.tombstone_retention_days)
            .unwrap_or(DEFAULT_TOMBSTONE_RETENTION_DAYS);
        if retention_days < MIN_TOMBSTONE_RETENTION_DAYS {
            return Err(invalid(
                "tombstone_retention_days",
                format!(
                    "{retention_days} is below the {MIN_TOMBSTONE_RETENTION_DAYS}-day minimum, \
                     the window in which WorkOS may still deliver an older event"
                ),
            ));
        }

        let max_attempts = args
            .delivery_max_attempts
            .or(file.delivery_max_attempts)
            .unwrap_or(DEFAULT_MAX_ATTEMPTS);
        if max_attempts == 0 {
            return Err(invalid(
                "delivery_max_attempts",
                format!("must be at least 1; the default is {DEFAULT_MAX_ATTEMPTS}"),
            ));
        }
        let base_delay = args
            .delivery_retry_base_ms
            .or(file.delivery_retry_base_ms)
            .map_or(DEFAULT_BASE_DELAY, Duration::from_millis);

        let max_concurrent_invocations = args
            .max_concurrent_invocations
            .or(file.max_concurrent_invocations)
            .unwrap_or(DEFAULT_MAX_CONCURRENT_INVOCATIONS);
        if !(1..=MAX_CONCURRENT_INVOCATIONS).contains(&max_concurrent_invocations) {
            return Err(invalid(
                "max_concurrent_invocations",
                format!(
                    "{max_concurrent_invocations} is outside 1 to {MAX_CONCURRENT_INVOCATIONS}; \
                     the default is {DEFAULT_MAX_CONCURRENT_INVOCATIONS}"
                ),
            ));
        }

        let action_tolerance_secs = args
            .action_tolerance_secs
            .or(file.action_tolerance_secs)
            .unwrap_or(DEFAULT_ACTION_TOLERANCE_SECS);
        if action_tolerance_secs == 0 {
            return Err(invalid(
                "action_tolerance_secs",
                format!(
                    "must be at least 1 second; the default is {DEFAULT_ACTION_TOLERANCE_SECS}"
                ),
            ));
        }
        let action_deadline_ms = args
            .action_deadline_ms
            .or(file.action_deadline_ms)
            .unwrap_or(DEFAULT_ACTION_DEADLINE_MS);
        if action_deadline_ms == 0 {
            return Err(invalid(
                "action_deadline_ms",
                format!(
                    "must be at least 1 millisecond; the default is {DEFAULT_ACTION_DEADLINE_MS}"
                ),
            ));
        }

        let workos_api_url = parse_api_url(
            "workos_api_url",
            args.workos_api_url
                .or(file.workos_api_url)
                .as_deref()
                .unwrap_or(DEFAULT_WORKOS_API_URL),
        )?;
        let client_id = secrets.client_id.as_deref();
        if let Some(client_id) = client_id {
            check_client_id(client_id)?;
        }
        let jwks_url = match args.jwks_url.or(file.jwks_url) {
            Some(url) => Some(parse_api_url("jwks_url", &url)?),
            None => client_id.map(|client_id| format!("{workos_api_url}/sso/jwks/{client_id}")),
        };
        let mut token_issuers = if args.token_issuers.is_empty() {
            file.token_issuers.unwrap_or_default()
        } else {
            args.token_issuers
        };
        token_issuers.retain(|issuer| !issuer.trim().is_empty());
        if token_issuers.is_empty() {
            token_issuers = default_token_issuers(&workos_api_url, client_id);
        }

        let plugin_cache_dir = match args
            .plugin_cache_dir
            .or_else(|| from_file(file.plugin_cache_dir))
        {
            Some(dir) => (dir, true),
            None => (
                db_path
                    .parent()
                    .map_or_else(|| PathBuf::from("."), Path::to_owned)
                    .join("plugin-cache"),
                false,
            ),
        };

        Ok(Self {
            listen,
            db_path,
            plugins_dir,
            plugin_cache_dir,
            webhook_tolerance: Duration::from_secs(tolerance_secs),
            max_body_bytes,
            tombstone_retention: Duration::from_secs(retention_days * 24 * 60 * 60),
            retry_policy: RetryPolicy {
                max_attempts,
                base_delay,
            },
            max_concurrent_invocations,
            action_tolerance: Duration::from_secs(action_tolerance_secs),
            action_deadline: Duration::from_millis(action_deadline_ms),
            action_fallback_authentication: args
                .action_fallback_authentication
                .or(file.action_fallback_authentication)
                .unwrap_or(FallbackVerdict::Deny),
            action_fallback_user_registration: args
                .action_fallback_user_registration
                .or(file.action_fallback_user_registration)
                .unwrap_or(FallbackVerdict::Deny),
            workos_api_url,
            jwks_url,
            token_issuers,
            secrets,
        })
    }
}

/// Checks a WorkOS API or JWKS URL and returns it without a trailing slash,
/// so paths can be appended to it.
pub fn parse_api_url(setting: &str, text: &str) -> Result<String> {
    let url = reqwest::Url::parse(text.trim()).map_err(|error| {
        invalid(
            setting,
            format!("{text:?} is not a URL ({error}); give one such as {DEFAULT_WORKOS_API_URL}"),
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(
            setting,
            format!("{text:?} is not an http or https URL"),
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(
            setting,
            format!("{text:?} has a query or fragment; give the URL without one"),
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// Returns the issuers accepted when none are configured. AuthKit writes
/// `<API URL>/user_management/<client id>` into access tokens; the bare API
/// URL, with and without a trailing slash, is accepted as well.
pub fn default_token_issuers(api_url: &str, client_id: Option<&str>) -> Vec<String> {
    let mut issuers = Vec::with_capacity(3);
    if let Some(client_id) = client_id {
        issuers.push(format!("{api_url}/user_management/{client_id}"));
    }
    issuers.push(format!("{api_url}/"));
    issuers.push(api_url.to_owned());
    issuers
}

/// Rejects a client id that cannot be a URL path segment, because it goes
/// into the JWKS URL unescaped.
fn check_client_id(client_id: &str) -> Result<()> {
    let valid = client_id
        .chars()
        .all(|character| character.is_ascii_alphanumeric() || matches!(character, '_' | '-'));
    if valid {
        Ok(())
    } else {
        Err(invalid(
            CLIENT_ID_VAR,
            format!(
                "{client_id:?} contains characters other than letters, digits, '_' and '-'; \
                 copy the client id (client_…) from the WorkOS dashboard"
            ),
        ))
    }
}

fn invalid(setting: &str, reason: impl Into<String>) -> Error {
    Error::InvalidSetting {
        setting: setting.to_owned(),
        reason: reason.into(),
    }
}

fn load_file(path: &Path) -> Result<FileConfig> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        action: "reading config file",
        path: path.to_owned(),
        source,
    })?;
    toml::from_str(&text).map_err(|error| Error::Config {
        path: path.to_owned(),
        reason: error.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets() -> Secrets {
        Secrets::from_env(|name| (name == WEBHOOK_SECRET_VAR).then(|| "whsec".to_owned())).unwrap()
    }

    #[test]
    fn defaults_apply() {
        let config = ServerConfig::resolve(ServeArgs::default(), secrets()).unwrap();
        assert_eq!(config.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(config.db_path, PathBuf::from(DEFAULT_DB));
        assert_eq!(config.plugins_dir, PathBuf::from(DEFAULT_PLUGINS));
        assert_eq!(config.webhook_tolerance, Duration::from_secs(180));
        assert_eq!(config.max_body_bytes, 1024 * 1024);
        assert_eq!(config.tombstone_retention, Duration::from_secs(30 * 86_400));
        assert_eq!(config.max_concurrent_invocations, 32);
    }

    #[test]
    fn file_fills_gaps_and_flags_win() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("authkit.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9000\"\ndb = \"data/a.db\"\nwebhook_tolerance_secs = 60\n",
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(path),
            webhook_tolerance_secs: Some(90),
            ..ServeArgs::default()
        };

        let config = ServerConfig::resolve(args, secrets()).unwrap();

        assert_eq!(config.listen.to_string(), "127.0.0.1:9000");
        assert_eq!(config.db_path, dir.path().join("data/a.db"));
        assert_eq!(config.webhook_tolerance, Duration::from_secs(90));
    }

    #[test]
    fn unknown_file_key_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("authkit.toml");
        std::fs::write(&path, "listne = \"127.0.0.1:9000\"\n").unwrap();
        let args = ServeArgs {
            config: Some(path),
            ..ServeArgs::default()
        };

        let error = ServerConfig::resolve(args, secrets()).unwrap_err();

        assert!(error.to_string().contains("listne"), "{error}");
    }

    #[test]
    fn out_of_range_values_rejected() {
        let cases = [
            ServeArgs {
                tombstone_retention_days: Some(2),
                ..ServeArgs::default()
            },
            ServeArgs {
                webhook_tolerance_secs: Some(0),
                ..ServeArgs::default()
            },
            ServeArgs {
                max_body_bytes: Some(10),
                ..ServeArgs::default()
            },
            ServeArgs {
                max_concurrent_invocations: Some(0),
                ..ServeArgs::default()
            },
            ServeArgs {
                max_concurrent_invocations: Some(MAX_CONCURRENT_INVOCATIONS + 1),
                ..ServeArgs::default()
            },
        ];
        for args in cases {
            let result = ServerConfig::resolve(args.clone(), secrets());
            assert!(
                matches!(result, Err(Error::InvalidSetting { .. })),
                "{args:?}"
            );
        }
    }

    fn secrets_with_client_id(client_id: &str) -> Secrets {
        Secrets::from_env(|name| match name {
            WEBHOOK_SECRET_VAR => Some("whsec".to_owned()),
            CLIENT_ID_VAR => Some(client_id.to_owned()),
            _ => None,
        })
        .unwrap()
    }

    #[test]
    fn token_settings_derived_from_client_id() {
        let config =
            ServerConfig::resolve(ServeArgs::default(), secrets_with_client_id("client_01"))
                .unwrap();

        assert_eq!(config.workos_api_url, DEFAULT_WORKOS_API_URL);
        assert_eq!(
            config.jwks_url.as_deref(),
            Some("https://api.workos.com/sso/jwks/client_01")
        );
        assert_eq!(
            config.token_issuers,
            [
                "https://api.workos.com/user_management/client_01",
                "https://api.workos.com/",
                "https://api.workos.com",
            ]
        );
    }

    #[test]
    fn token_settings_without_client_id() {
        let config = ServerConfig::resolve(ServeArgs::default(), secrets()).unwrap();

        assert_eq!(config.jwks_url, None);
        assert_eq!(
            config.token_issuers,
            ["https://api.workos.com/", "https://api.workos.com"]
        );
    }

    #[test]
    fn token_settings_from_flags() {
        let args = ServeArgs {
            workos_api_url: Some("http://127.0.0.1:4000/".to_owned()),
            jwks_url: Some("http://127.0.0.1:4001/keys".to_owned()),
            token_issuers: vec!["https://auth.example.com".to_owned()],
            ..ServeArgs::default()
        };

        let config = ServerConfig::resolve(args, secrets_with_client_id("client_01")).unwrap();

        assert_eq!(config.workos_api_url, "http://127.0.0.1:4000");
        assert_eq!(
            config.jwks_url.as_deref(),
            Some("http://127.0.0.1:4001/keys")
        );
        assert_eq!(config.token_issuers, ["https://auth.example.com"]);
    }

    #[test]
    fn token_settings_from_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("authkit.toml");
        std::fs::write(
            &path,
            "workos_api_url = \"http://127.0.0.1:4000\"\ntoken_issuers = [\"a\", \"b\"]\n",
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(path),
            ..ServeArgs::default()
        };

        let config = ServerConfig::resolve(args, secrets_with_client_id("client_01")).unwrap();

        assert_eq!(
            config.jwks_url.as_deref(),
            Some("http://127.0.0.1:4000/sso/jwks/client_01")
        );
        assert_eq!(config.token_issuers, ["a", "b"]);
    }

    #[test]
    fn invalid_token_settings_rejected() {
        for url in ["not a url", "ftp://example.com", "https://example.com/?a=1"] {
            let args = ServeArgs {
                workos_api_url: Some(url.to_owned()),
                ..ServeArgs::default()
            };
            let error = ServerConfig::resolve(args, secrets()).unwrap_err();
            assert!(
                error.to_string().contains("workos_api_url"),
                "{url}: {error}"
            );
        }

        let error =
            ServerConfig::resolve(ServeArgs::default(), secrets_with_client_id("a/b")).unwrap_err();
        assert!(error.to_string().contains(CLIENT_ID_VAR), "{error}");
    }

    #[test]
    fn missing_webhook_secret_named() {
        let error = Secrets::from_env(|_| Some(" ".to_owned())).unwrap_err();
        assert!(error.to_string().contains(WEBHOOK_SECRET_VAR), "{error}");
    }

    #[test]
    fn secrets_redacted_in_debug() {
        let text = format!("{:?}", secrets());
        assert!(!text.contains("whsec"), "{text}");
    }
}

//! The `authkit-host` command: parses arguments, sets up logging and runs the
//! chosen command from the library.

#![allow(
    clippy::print_stdout,
    reason = "commands print their results on stdout"
)]

use std::io::IsTerminal;
use std::process::ExitCode;

use authkit_host::cli::actions::ActionsArgs;
use authkit_host::cli::backfill::BackfillArgs;
use authkit_host::cli::catch_up::CatchUpArgs;
use authkit_host::cli::events::EventsArgs;
use authkit_host::cli::import::api_key_from_env;
use authkit_host::cli::plugins::PluginsArgs;
use authkit_host::cli::send::SendArgs;
use authkit_host::config::{Secret, Secrets, ServeArgs, ServerConfig};
use authkit_host::error::error_messages;
use authkit_host::{Error, server};
use clap::{Parser, Subcommand, ValueEnum};
use tracing_subscriber::EnvFilter;

/// Receives WorkOS AuthKit webhooks and Actions, keeps a local users table and
/// runs your handlers as WebAssembly components.
#[derive(Debug, Parser)]
#[command(name = "authkit-host", version)]
struct Cli {
    /// Log line format. The RUST_LOG variable sets which levels are logged,
    /// "info" and above when it is unset
    #[arg(long, global = true, env = "AUTHKIT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server
    Serve(Box<ServeArgs>),
    /// Sign JSON files as WorkOS does and POST them, as webhooks or Actions
    Send(SendArgs),
    /// List and retry failed or dead deliveries to plugins
    Events(EventsArgs),
    /// List recent Action decisions
    Actions(ActionsArgs),
    /// List a running server's plugins, or check a plugin file
    Plugins(PluginsArgs),
    /// Import the users that exist in WorkOS into the users table
    Backfill(BackfillArgs),
    /// Read events since a time from the WorkOS Events API and store them like webhooks
    CatchUp(CatchUpArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    /// Human-readable lines
    Text,
    /// One JSON object per line
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);

    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };

    match runtime.block_on(run(cli.command)) {
        Ok(code) => code,
        Err(error) => {
            report(&error, cli.log_format);
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<ExitCode, Error> {
    match command {
        Command::Serve(args) => {
            let secrets = Secrets::from_env(|name| std::env::var(name).ok())?;
            let config = ServerConfig::resolve(*args, secrets)?;
            let listener = server::bind(&config).await?;
            server::serve(listener, config, server::shutdown_signal()).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Send(args) => {
            let variable = args.secret_variable();
            let secret = std::env::var(variable)
                .ok()
                .filter(|value| !value.trim().is_empty())
                .ok_or(Error::MissingEnv {
                    variable,
                    hint: "set it to the secret the server verifies these requests with",
                })?;
            let all_succeeded = authkit_host::cli::send::run(&args, &Secret::new(secret)).await?;
            Ok(if all_succeeded {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Events(args) => {
            let output = authkit_host::cli::events::run(&args).await?;
            print!("{output}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Actions(args) => {
            let output = authkit_host::cli::actions::run(&args).await?;
            print!("{output}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Plugins(args) => {
            let output = authkit_host::cli::plugins::run(&args).await?;
            print!("{output}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Backfill(args) => {
            let api_key = api_key_from_env(|name| std::env::var(name).ok())?;
            let output = authkit_host::cli::backfill::run(&args, api_key).await?;
            print!("{output}");
            Ok(ExitCode::SUCCESS)
        }
        Command::CatchUp(args) => {
            let api_key = api_key_from_env(|name| std::env::var(name).ok())?;
            let output = authkit_host::cli::catch_up::run(&args, api_key).await?;
            print!("{output}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours help a person at a terminal; in a file or a log collector
    // they are escape sequences to strip.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

/// Reports a failed command once on stderr. With the text log format it
/// prints the error and its causes for a person to read. With the JSON
/// format it logs one ERROR record, so stderr stays one JSON object per
/// line, unless RUST_LOG turns ERROR records off.
fn report(error: &Error, format: LogFormat) {
    let messages = error_messages(error);
    match format {
        LogFormat::Json if tracing::enabled!(tracing::Level::ERROR) => {
            tracing::error!(error = %messages.join(": "), "command failed");
        }
        LogFormat::Text | LogFormat::Json => {
            eprintln!("error: {}", messages[0]);
            for cause in &messages[1..] {
                eprintln!("  caused by: {cause}");
            }
        }
    }
}

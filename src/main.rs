//! `accord`: see the crate docs of the library for what each command does.

mod verify_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use accord::config::{Config, LogFormat};
use accord_cases::tokens::{Role, TokenKeys, TokenRequest};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "accord",
    version,
    about = "Online video mediation: SFU, signaling and agreements"
)]
struct Cli {
    /// Configuration file (TOML). Defaults to ./accord.toml when present.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service: web client, API, signaling and media.
    Serve {
        /// Add example data (an organisation, a mediator, a court user, two cases) if it is
        /// not there yet, and print how to sign in. For trying Accord, not for production.
        #[arg(long)]
        demo: bool,
    },
    /// Join tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Create the database if needed and apply migrations, then exit.
    Migrate,
    /// The audit trail.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Check a recording (its folder or exported ZIP) or a confirmation package (its ZIP)
    /// offline; exits 1 naming each file or segment that does not match, 2 if the input is
    /// unusable.
    Verify {
        /// The recording folder or ZIP, or the confirmation package ZIP.
        path: PathBuf,
        /// A trusted Ed25519 public key (base64); repeatable.
        #[arg(long)]
        key: Vec<String>,
        /// A saved copy of /.well-known/accord/signing-keys.json; repeatable.
        #[arg(long)]
        keys: Vec<PathBuf>,
        /// The language of a confirmation package's report.
        #[arg(long, default_value = "zh", value_parser = ["zh", "en"])]
        lang: String,
    },
    /// The platform's keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Make a new key sign recording manifests; older keys stay published for verifying.
    RotateSigning {
        /// The keys folder the signing keys are kept in (defaults to the configured
        /// `[keys] dir`, itself the data directory unless set). Named `--data-dir` from
        /// before there was a keys folder.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the whole hash chain; exits 1 if any entry was altered, removed or added.
    Verify,
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Mint a join token for one identity in one room.
    Create {
        /// The room.
        #[arg(long)]
        room: String,
        /// The participant's stable identity.
        #[arg(long)]
        identity: String,
        /// Display name (defaults to the identity).
        #[arg(long)]
        name: Option<String>,
        /// mediator, party, observer or guest.
        #[arg(long, default_value = "party")]
        role: String,
        /// Hours until it expires.
        #[arg(long, default_value_t = 6)]
        hours: u64,
        /// Present without being announced.
        #[arg(long)]
        hidden: bool,
        /// May not publish.
        #[arg(long)]
        no_publish: bool,
    },
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Pretty => builder.init(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Verifying is for anyone holding a recording: no configuration of ours is involved.
    if let Command::Verify {
        path,
        key,
        keys,
        lang,
    } = &cli.command
    {
        return verify_cmd::verify(path, key, keys, lang);
    }
    let (config, unknown) = match Config::load(cli.config.as_deref(), std::env::vars()) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("accord: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    match cli.command {
        Command::Serve { demo } => {
            init_logging(&config);
            for key in unknown {
                tracing::warn!(%key, "unknown ACCORD_ environment variable ignored");
            }
            serve(config, demo)
        }
        Command::Token { command } => token(config, command),
        Command::Keys {
            command: KeysCommand::RotateSigning { data_dir },
        } => verify_cmd::rotate_signing(data_dir.as_deref().unwrap_or(&config.keys_dir())),
        Command::Verify {
            path,
            key,
            keys,
            lang,
        } => verify_cmd::verify(&path, &key, &keys, &lang),
        Command::Migrate => with_store(&config, |_| async { Ok(ExitCode::SUCCESS) }),
        Command::Audit {
            command: AuditCommand::Verify,
        } => with_store(&config, |store| async move {
            let report = store.verify_audit().await?;
            if report.intact() {
                println!("audit trail intact: {} entries", report.entries);
                Ok(ExitCode::SUCCESS)
            } else {
                println!("audit trail BROKEN ({} entries checked):", report.entries);
                for problem in &report.problems {
                    println!("  - {problem}");
                }
                Ok(ExitCode::FAILURE)
            }
        }),
    }
}

/// Runs `work` with the configured store open; errors are printed, exit code 2.
fn with_store<F, Fut>(config: &Config, work: F) -> ExitCode
where
    F: FnOnce(accord_cases::store::Store) -> Fut,
    Fut: std::future::Future<Output = Result<ExitCode, accord::Error>>,
{
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("accord: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(async {
        let store = match accord::open_store(config).await {
            Ok(store) => store,
            Err(e) => {
                eprintln!("accord: {e}");
                return ExitCode::from(2);
            }
        };
        let code = match work(store.clone()).await {
            Ok(code) => code,
            Err(e) => {
                eprintln!("accord: {e}");
                ExitCode::from(2)
            }
        };
        store.close().await;
        code
    })
}

fn serve(config: Config, demo: bool) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("accord: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let demo_login = if demo {
        match runtime.block_on(accord::demo::prepare(&config)) {
            Ok(login) => Some(login),
            Err(e) => {
                eprintln!("accord: preparing the demo data: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        None
    };
    let result = runtime.block_on(async {
        let signals = stop_signals();
        accord::serve(config, signals, |at| {
            let port = at.http.port();
            println!("Accord is running. Open http://localhost:{port} in a browser.");
            if let Some(login) = &demo_login {
                println!("{}", login.instructions(port));
            }
            println!("ACCORD_READY http={} media={}", at.http, at.media);
        })
        .await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "accord stopped");
            eprintln!("accord: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Every SIGTERM and SIGINT, one value each: the first drains the node, the second moves
/// everyone off it, the third stops waiting (see `accord_signaling::drain`). The handlers stay
/// installed, so a second Ctrl-C does not kill the process before recordings are stored.
fn stop_signals() -> tokio::sync::mpsc::Receiver<()> {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            match (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            ) {
                (Ok(mut term), Ok(mut interrupt)) => loop {
                    let kind = tokio::select! {
                        Some(()) = term.recv() => "SIGTERM",
                        Some(()) = interrupt.recv() => "SIGINT",
                        else => return,
                    };
                    tracing::info!(signal = kind, "stop signal");
                    // Full only if three are already waiting: one more changes nothing.
                    let _ = tx.try_send(());
                },
                (Err(e), _) | (_, Err(e)) => {
                    tracing::error!(error = %e, "cannot watch SIGTERM; only Ctrl-C stops the service");
                }
            }
        }
        while tokio::signal::ctrl_c().await.is_ok() {
            tracing::info!(signal = "SIGINT", "stop signal");
            let _ = tx.try_send(());
        }
        // No way to hear a signal at all: keep the sender, so the service is not stopped
        // for want of one.
        std::future::pending::<()>().await;
    });
    rx
}

fn token(config: Config, command: TokenCommand) -> ExitCode {
    let TokenCommand::Create {
        room,
        identity,
        name,
        role,
        hours,
        hidden,
        no_publish,
    } = command;
    let role = match role.as_str() {
        "mediator" => Role::Mediator,
        "party" => Role::Party,
        "observer" => Role::Observer,
        "guest" => Role::Guest,
        other => {
            eprintln!("accord: unknown role {other:?} (mediator, party, observer, guest)");
            return ExitCode::from(2);
        }
    };
    let secret = match accord::token_secret(&config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("accord: {e}");
            return ExitCode::FAILURE;
        }
    };
    let request = TokenRequest {
        room,
        identity,
        name,
        role: Some(role),
        can_publish: Some(!no_publish && role != Role::Observer),
        can_subscribe: Some(true),
        hidden: Some(hidden),
        ttl_seconds: Some(hours.saturating_mul(3600)),
    };
    match TokenKeys::new(secret.as_bytes()).mint(request) {
        Ok(token) => {
            println!("{token}");
            ExitCode::SUCCESS
        }
        Err(accord_cases::Error::Invalid(fields)) => {
            for f in fields {
                eprintln!("accord: --{}: {}", f.field.replace('_', "-"), f.message);
            }
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("accord: {e}");
            ExitCode::FAILURE
        }
    }
}

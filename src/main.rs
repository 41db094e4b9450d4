//! The `sekisho` command: serve, check a config, rotate keys, revoke sessions, work with policies.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

/// jemalloc (tikv-jemallocator): the request path is allocation-heavy. The mimalloc crate used
/// before sends every allocation through `mi_malloc_aligned`, which in mimalloc v3 over-allocates
/// every block whose size class is not a power of two (about one allocation in five of an
/// AssumeRole, its buffers over 1 KiB among them); jemalloc's wrapper calls plain `malloc` when
/// the alignment allows and frees by size. Build against build (`scripts/bench_ab.py`): 3–5%
/// more requests a second, AssumeRole's server user time 10.4 → 9.4 µs.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use sekisho::clock::{Clock, SystemClock};
use sekisho::config::Config;

#[derive(Parser)]
#[command(name = "sekisho", version, about = "STS temporary-credential broker")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Start the server.
    Serve {
        /// Configuration file.
        #[arg(long, short, default_value = "config/demo.toml")]
        config: PathBuf,
    },
    /// Check a configuration file (and its bootstrap file) without starting.
    CheckConfig {
        /// Configuration file.
        file: PathBuf,
    },
    /// Key ring operations.
    Keys {
        #[command(subcommand)]
        cmd: KeysCmd,
    },
    /// Revoke sessions issued before a time (asks the running server).
    Revoke(sekisho::cli::RevokeArgs),
    /// Policy tools.
    Policy {
        #[command(subcommand)]
        cmd: PolicyCmd,
    },
}

#[derive(Subcommand)]
enum KeysCmd {
    /// Make a new sealing key active; older keys keep opening their tokens until they expire.
    Rotate {
        /// Configuration file.
        #[arg(long, short, default_value = "config/demo.toml")]
        config: PathBuf,
    },
    /// Make new issuer signing keys (RS256, ES384) active; the old ones stay in the JWKS for
    /// `[issuer] overlap_hours`.
    RotateIssuer {
        /// Configuration file.
        #[arg(long, short, default_value = "config/demo.toml")]
        config: PathBuf,
    },
}

#[derive(Subcommand)]
enum PolicyCmd {
    /// Validate a policy document.
    Check {
        /// The JSON file.
        file: PathBuf,
        /// identity, trust, session, boundary, managed or resource.
        #[arg(long, default_value = "identity")]
        kind: String,
    },
    /// Per-service access levels granted, like the console's policy summary.
    Summary {
        /// The JSON file.
        file: PathBuf,
        /// The IAM action catalogue.
        #[arg(long, default_value = "../shared/corpora/iam-actions/iam-data.json")]
        catalogue: PathBuf,
    },
    /// Evaluate policies for one action and resource.
    Simulate {
        /// Identity policy files.
        #[arg(long = "policy", required = true)]
        policies: Vec<PathBuf>,
        /// `service:Action`.
        #[arg(long)]
        action: String,
        /// Resource ARN.
        #[arg(long, default_value = "*")]
        resource: String,
        /// Context entries `key=value`.
        #[arg(long = "context")]
        context: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sekisho: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sekisho: {e}");
            ExitCode::FAILURE
        }
    }
}

fn read(p: &PathBuf) -> Result<String, String> {
    std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))
}

async fn run(cli: Cli) -> Result<(), String> {
    match cli.cmd {
        Cmd::Serve { config } => serve(config).await,
        Cmd::CheckConfig { file } => {
            let cfg = Config::load(&file).map_err(|e| e.to_string())?;
            if let Some(b) = &cfg.iam.bootstrap {
                let text = read(b)?;
                toml::from_str::<sekisho::iam::bootstrap::BootstrapFile>(&text)
                    .map_err(|e| format!("{}: {e}", b.display()))?;
            }
            println!("{}: ok", file.display());
            Ok(())
        }
        Cmd::Keys {
            cmd: KeysCmd::Rotate { config },
        } => {
            let cfg = Config::load(&config).map_err(|e| e.to_string())?;
            let retain = chrono::Duration::hours(cfg.keys.retain_hours);
            let ring = sekisho::token::KeyRing::rotate(&cfg.keys.path, SystemClock.now(), retain)
                .map_err(|e| format!("key ring {}: {e}", cfg.keys.path.display()))?;
            drop(ring);
            println!(
                "rotated the key ring in {}; running servers reload it within seconds",
                cfg.keys.path.display()
            );
            Ok(())
        }
        Cmd::Keys {
            cmd: KeysCmd::RotateIssuer { config },
        } => {
            let cfg = Config::load(&config).map_err(|e| e.to_string())?;
            let overlap = chrono::Duration::hours(cfg.issuer.overlap_hours);
            let path = &cfg.issuer.keys_path;
            let ring = sekisho::issuer::IssuerKeys::rotate(path, SystemClock.now(), overlap)
                .map_err(|e| format!("issuer keys {}: {e}", path.display()))?;
            for k in ring.keys().iter().filter(|k| k.active) {
                println!("active {} key {}", k.alg.as_str(), k.kid);
            }
            println!(
                "rotated the issuer keys in {}; running servers reload them within seconds",
                path.display()
            );
            Ok(())
        }
        Cmd::Revoke(args) => sekisho::cli::revoke(args).await,
        Cmd::Policy { cmd } => policy(cmd),
    }
}

fn policy(cmd: PolicyCmd) -> Result<(), String> {
    use sekisho::policy::{PolicyKind, cli};
    let out = match cmd {
        PolicyCmd::Check { file, kind } => {
            let kind = match kind.as_str() {
                "identity" => PolicyKind::Identity,
                "trust" => PolicyKind::Trust,
                "session" => PolicyKind::Session,
                "boundary" => PolicyKind::Boundary,
                "managed" => PolicyKind::Managed,
                "resource" => PolicyKind::Resource,
                k => return Err(format!("unknown policy kind '{k}'")),
            };
            cli::check(&read(&file)?, kind)?
        }
        PolicyCmd::Summary { file, catalogue } => cli::summary(&read(&file)?, &catalogue)?,
        PolicyCmd::Simulate {
            policies,
            action,
            resource,
            context,
        } => {
            let texts = policies.iter().map(read).collect::<Result<Vec<_>, _>>()?;
            let pairs = context
                .iter()
                .map(|kv| {
                    kv.split_once('=')
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                        .ok_or_else(|| format!("--context wants key=value, got '{kv}'"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            cli::simulate(&texts, &action, &resource, &pairs)?
        }
    };
    println!("{out}");
    Ok(())
}

async fn serve(config: PathBuf) -> Result<(), String> {
    let cfg = Config::load(&config).map_err(|e| e.to_string())?;
    init_logging(&cfg);
    let listen = cfg.server.listen;
    let public = cfg.server.public_url.clone();
    let offset = cfg.testing.insecure_clock_offset_seconds;
    let clock: Arc<dyn Clock> = if offset == 0 {
        Arc::new(SystemClock)
    } else {
        tracing::warn!(
            offset,
            "testing.insecure_clock_offset_seconds is set: the clock is skewed"
        );
        Arc::new(sekisho::clock::OffsetClock(chrono::Duration::seconds(
            offset,
        )))
    };
    let secrets_path = cfg.iam.generated_keys_path.clone();
    let (st, applied) = sekisho::server::build(cfg, clock).await?;
    #[cfg(unix)]
    reopen_audit_on_sighup(st.audit.clone())?;
    for c in &applied.changed {
        tracing::info!(change = %c, "bootstrap applied");
    }
    if !applied.generated_keys.is_empty() {
        sekisho::iam::bootstrap::write_generated_keys(&secrets_path, &applied.generated_keys)?;
    }
    for (owner, id, _) in &applied.generated_keys {
        // The secret goes to the 0600 file only: the console ends up in container logs.
        println!(
            "generated access key for {owner}: {id} (secret in {})",
            secrets_path.display()
        );
    }
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("bind {listen}: {e}"))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(%bound, %public, backend = st.iam.kv().backend_name(), "sekisho listening");
    println!("sekisho listening on http://{bound}");
    sekisho::http::serve(listener, st, shutdown_signal())
        .await
        .map_err(|e| e.to_string())?;
    // Let the audit writer drain its last batch.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    Ok(())
}

/// Resolves on Ctrl-C, or on `SIGTERM` (systemd, Kubernetes), so open requests finish and the
/// audit writer drains before the process exits.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "no SIGTERM handler; stopping on Ctrl-C only");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Reopens the audit file on `SIGHUP`, the logrotate `postrotate` convention (see
/// `deploy/logrotate/sekisho`). Without a handler, `SIGHUP` would end the process.
#[cfg(unix)]
fn reopen_audit_on_sighup(audit: sekisho::audit::Auditor) -> Result<(), String> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hup = signal(SignalKind::hangup()).map_err(|e| format!("SIGHUP handler: {e}"))?;
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            tracing::info!("SIGHUP: reopening the audit file");
            audit.reopen();
        }
    });
    Ok(())
}

fn init_logging(cfg: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&cfg.log.level));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if cfg.log.format == "json" {
        b.json().init();
    } else {
        b.init();
    }
}

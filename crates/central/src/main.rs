//! `frontdesk-central`: the central platform's command line. It only wires the library
//! together; see `docs/CENTRAL.md`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use frontdesk_central::sqlite::{SqliteOptions, SqliteStore, cli};
use frontdesk_central::{Rate, ServerConfig, Store, clock_from_env, secret, telemetry};
use frontdesk_domain::schedule::{DeviceId, SiteId};

/// Frontdesk central platform.
#[derive(Parser, Debug)]
#[command(name = "frontdesk-central", version, about)]
struct Cli {
    /// The SQLite database file (created if missing).
    #[arg(long, global = true, env = "FRONTDESK_CENTRAL_DB", default_value = "frontdesk-central.db")]
    db: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the API.
    Serve(ServeArgs),
    /// Print a one-time enrollment code for a desk device of SITE.
    EnrollCode {
        /// The site the device will belong to.
        #[arg(long)]
        site: String,
        /// Hours the code stays valid.
        #[arg(long, default_value_t = 24)]
        ttl: u32,
    },
    /// Enrolled devices.
    Devices {
        #[command(subcommand)]
        action: DevicesAction,
    },
    /// The hash-chained audit log.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
}

#[derive(clap::Args, Debug)]
struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:8640")]
    listen: SocketAddr,
    /// Seed the demo clinic (today + 7 days) and print an enrollment code.
    #[arg(long)]
    demo: bool,
    /// The demo site's id.
    #[arg(long, default_value = "demo")]
    demo_site: String,
    /// With --demo: online bookings per minute to simulate.
    #[arg(long)]
    simulate_online: Option<f64>,
    /// File holding the admin token (created with a random token if missing).
    #[arg(long, default_value = "frontdesk-central.admin-token")]
    admin_token_file: PathBuf,
    /// Largest request body in bytes (after decompression).
    #[arg(long, default_value_t = 1 << 20)]
    body_limit: usize,
    /// Requests per second per device (0 = unlimited).
    #[arg(long, default_value_t = 20)]
    device_rate: u32,
    /// Burst per device.
    #[arg(long, default_value_t = 60)]
    device_burst: u32,
    /// Requests per second per client address on public endpoints (0 = unlimited).
    #[arg(long, default_value_t = 5)]
    public_rate: u32,
    /// Burst per client address.
    #[arg(long, default_value_t = 20)]
    public_burst: u32,
    /// Seconds before a request is answered 503.
    #[arg(long, default_value_t = 15)]
    request_timeout: u64,
    /// Requests in flight before new ones are shed (503).
    #[arg(long, default_value_t = 4096)]
    max_in_flight: usize,
    /// Log human-readable lines instead of JSON.
    #[arg(long)]
    plain_logs: bool,
}

#[derive(Subcommand, Debug)]
enum DevicesAction {
    /// List devices with their sync health.
    List {
        /// Only this site's.
        #[arg(long)]
        site: Option<String>,
    },
    /// Revoke a device's token.
    Revoke {
        /// The device id.
        id: String,
    },
}

#[derive(Subcommand, Debug)]
enum AuditAction {
    /// Check the hash chains; exits 1 when a row was edited or deleted.
    Verify {
        /// Only this site's chain.
        #[arg(long)]
        site: Option<String>,
    },
}

fn rate(per_second: u32, burst: u32) -> Option<Rate> {
    (per_second > 0).then_some(Rate { per_second, burst: burst.max(1) })
}

/// Reads the admin token, creating the file with a fresh token when it does not exist.
fn admin_token(path: &Path) -> anyhow::Result<String> {
    if path.exists() {
        let t = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let t = t.trim().to_string();
        if t.len() < 16 {
            bail!("the admin token in {} is shorter than 16 characters", path.display());
        }
        return Ok(t);
    }
    let t = secret::new_token()?;
    std::fs::write(path, format!("{t}\n")).with_context(|| format!("writing {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    eprintln!("created an admin token in {}", path.display());
    Ok(t)
}

async fn serve(db: &Path, args: ServeArgs) -> anyhow::Result<()> {
    telemetry::init_logging(!args.plain_logs);
    let clock = clock_from_env()?;
    let token = admin_token(&args.admin_token_file)?;
    let store = SqliteStore::open(db, clock.clone(), SqliteOptions::default())
        .with_context(|| format!("opening {}", db.display()))?;
    let store: Arc<dyn Store> = Arc::new(store);
    if args.demo {
        store.seed_demo(SiteId::from(args.demo_site.as_str()), 8).await.context("seeding the demo clinic")?;
        let code = store.create_enroll_code(SiteId::from(args.demo_site.as_str()), 24).await?;
        println!("demo site {}: enrollment code {} (valid until {})", code.site_id, code.code, code.expires_at);
    }
    let config = ServerConfig {
        body_limit: args.body_limit,
        request_timeout: Duration::from_secs(args.request_timeout.max(1)),
        max_in_flight: args.max_in_flight,
        device_rate: rate(args.device_rate, args.device_burst),
        public_rate: rate(args.public_rate, args.public_burst),
        admin_token_hash: Some(secret::hash_secret(&token)),
        ..ServerConfig::default()
    };
    let listener =
        tokio::net::TcpListener::bind(args.listen).await.with_context(|| format!("binding {}", args.listen))?;
    let addr = listener.local_addr()?;
    println!("listening on http://{addr}");
    println!("admin token in {}", args.admin_token_file.display());
    tracing::info!(%addr, db = %db.display(), "frontdesk-central serving");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    if let (true, Some(rate)) = (args.demo, args.simulate_online) {
        let store = store.clone();
        let site = SiteId::from(args.demo_site.as_str());
        let mut rx = stop_rx.clone();
        tokio::spawn(async move {
            frontdesk_central::demo::simulate_online(store, site, rate, async move {
                let _ = rx.changed().await;
            })
            .await;
        });
    }
    let shutdown = async move {
        wait_for_signal().await;
        tracing::info!("shutting down: draining requests");
        let _ = stop_tx.send(true);
    };
    frontdesk_central::serve(listener, store, config, shutdown).await?;
    Ok(())
}

async fn wait_for_signal() {
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
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            rt.block_on(serve(&cli.db, args))
        }
        Command::EnrollCode { site, ttl } => {
            let now = clock_from_env()?.now();
            let code = cli::enroll_code(&cli.db, now, &SiteId::from(site.as_str()), ttl)
                .with_context(|| format!("issuing an enrollment code for site {site}"))?;
            println!("{}", code.code);
            println!("site {} — valid until {}", code.site_id, code.expires_at);
            Ok(())
        }
        Command::Devices { action: DevicesAction::List { site } } => {
            let devices = cli::devices(&cli.db, site.map(SiteId::from).as_ref())?;
            println!(
                "{:<38} {:<10} {:<20} {:<27} {:>8} {:>8} revoked",
                "device", "site", "name", "last sync", "behind", "seq"
            );
            for d in devices {
                println!(
                    "{:<38} {:<10} {:<20} {:<27} {:>8} {:>8} {}",
                    d.id,
                    d.site_id,
                    d.name,
                    d.last_sync_at.map(|t| t.to_string()).unwrap_or_else(|| "never".into()),
                    d.behind,
                    d.settled_seq,
                    d.revoked_at.map(|t| t.to_string()).unwrap_or_else(|| "-".into())
                );
            }
            Ok(())
        }
        Command::Devices { action: DevicesAction::Revoke { id } } => {
            let now = clock_from_env()?.now();
            cli::revoke(&cli.db, now, &DeviceId::from(id.as_str()))?;
            println!("revoked {id}");
            Ok(())
        }
        Command::Audit { action: AuditAction::Verify { site } } => {
            let reports = cli::verify_audit(&cli.db, site.as_deref())?;
            let mut bad = false;
            for r in &reports {
                if r.ok {
                    println!("{}: ok ({} rows)", r.site_id, r.rows);
                } else {
                    bad = true;
                    println!("{}: TAMPERED ({} rows)", r.site_id, r.rows);
                    for p in &r.problems {
                        println!("  {p}");
                    }
                }
            }
            if bad {
                std::process::exit(1);
            }
            Ok(())
        }
    }
}

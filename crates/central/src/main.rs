//! `frontdesk-central`: the central platform's command line. It only wires the library
//! together; see `docs/CENTRAL.md`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use frontdesk_central::postgres::{PgOptions, PgStore, is_postgres_url};
use frontdesk_central::sqlite::{SqliteOptions, SqliteStore, cli};
use frontdesk_central::{Rate, ServerConfig, Store, clock_from_env, secret, telemetry};
use frontdesk_domain::lease::LeasePolicy;
use frontdesk_domain::schedule::{DeviceId, SiteId};
use frontdesk_protocol::enroll::DeviceRole;

/// Frontdesk central platform.
#[derive(Parser, Debug)]
#[command(name = "frontdesk-central", version, about)]
struct Cli {
    /// The database: a SQLite file (created if missing), or a PostgreSQL URL
    /// (`postgres://user:password@host:port/dbname`) shared by several platform processes.
    #[arg(long, global = true, env = "FRONTDESK_CENTRAL_DB", default_value = "frontdesk-central.db")]
    db: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the API.
    Serve(ServeArgs),
    /// Print a one-time enrollment code for a device of SITE.
    EnrollCode {
        /// The site the device will belong to.
        #[arg(long)]
        site: String,
        /// Hours the code stays valid.
        #[arg(long, default_value_t = 24)]
        ttl: u32,
        /// `desk`, or `display` for a waiting-room display PC that may only read.
        #[arg(long, default_value = "desk", value_parser = parse_role)]
        role: DeviceRole,
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
    /// A site's capacity-lease policy: set it, clear it (every lease of the site is taken
    /// back), or show it with each desk's leases.
    LeasePolicy(LeasePolicyArgs),
    /// Write a new admin token to the token file. Servers serving with that file use it from
    /// their next admin request on, without a restart; the old token stops working then.
    RotateAdminToken {
        /// The file the servers read the token from.
        #[arg(long, default_value = "frontdesk-central.admin-token")]
        admin_token_file: PathBuf,
    },
}

#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["set", "clear", "show"])))]
struct LeasePolicyArgs {
    /// The site.
    #[arg(long)]
    site: String,
    /// The policy as JSON, e.g. '{"hold_back_percent":20,"min_per_desk":2,"max_per_desk":0}'
    /// (`expire_before_minutes`, `horizon_days` and `low_water` have defaults).
    #[arg(long, value_name = "JSON")]
    set: Option<String>,
    /// Clear the policy: the site leases nothing, and every lease is taken back.
    #[arg(long)]
    clear: bool,
    /// Show the policy and each desk's leases.
    #[arg(long)]
    show: bool,
}

#[derive(clap::Args, Debug)]
struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:8640")]
    listen: SocketAddr,
    /// Seed the demo clinic (today + 7 days) and print an enrollment code.
    #[arg(long)]
    demo: bool,
    /// With --demo: give the demo site the default capacity-lease policy, so enrolled desks
    /// get leased numbers.
    #[arg(long, requires = "demo")]
    demo_leases: bool,
    /// Seconds between the platform's lease rounds (expiry, then every desk topped up to its
    /// share); 0 = no rounds (leases are then granted only when a desk asks).
    #[arg(long, default_value_t = 30)]
    lease_interval_secs: u64,
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
    /// Live-board waits (GET /v1/sync/wait) held at once; beyond that they are answered at once.
    #[arg(long, default_value_t = 2000)]
    live_waits: usize,
    /// Log human-readable lines instead of JSON.
    #[arg(long)]
    plain_logs: bool,
    /// A gateway whose X-Forwarded-For is believed for public rate limits (repeatable).
    #[arg(long = "trusted-proxy")]
    trusted_proxies: Vec<std::net::IpAddr>,
    /// Public requests per second through one trusted proxy, all clients together (0 = unlimited).
    #[arg(long, default_value_t = 0)]
    proxy_rate: u32,
    /// Burst through one trusted proxy.
    #[arg(long, default_value_t = 1000)]
    proxy_burst: u32,
    /// PostgreSQL: writer lanes (connections committing groups of writes) in this process.
    #[arg(long, default_value_t = 8)]
    pg_lanes: usize,
    /// PostgreSQL: connections for reads in this process.
    #[arg(long, default_value_t = 16)]
    pg_read_connections: usize,
    /// PostgreSQL: this process's name in the audit chains (random when not given).
    #[arg(long, default_value = "")]
    instance: String,
}

/// The database a command works on.
enum Db {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Db {
    fn parse(db: &str) -> Db {
        if is_postgres_url(db) { Db::Postgres(db.to_string()) } else { Db::Sqlite(PathBuf::from(db)) }
    }

    /// For logs: the file, or the PostgreSQL URL without its password.
    fn shown(&self) -> String {
        match self {
            Db::Sqlite(p) => p.display().to_string(),
            Db::Postgres(url) => redact_password(url),
        }
    }
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

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    match rest.split_once('@') {
        Some((creds, host)) => match creds.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

fn rate(per_second: u32, burst: u32) -> Option<Rate> {
    (per_second > 0).then_some(Rate { per_second, burst: burst.max(1) })
}

/// Reads the admin token, creating the file with a fresh token when it does not exist.
fn admin_token(path: &Path) -> anyhow::Result<String> {
    if path.exists() {
        return Ok(secret::read_token_file(path)?);
    }
    let t = secret::write_new_token_file(path)?;
    eprintln!("created an admin token in {}", path.display());
    Ok(t)
}

async fn serve(db: &Db, args: ServeArgs) -> anyhow::Result<()> {
    telemetry::init_logging(!args.plain_logs);
    let clock = clock_from_env()?;
    let token = admin_token(&args.admin_token_file)?;
    let store: Arc<dyn Store> = match db {
        Db::Sqlite(path) => Arc::new(
            SqliteStore::open(path, clock.clone(), SqliteOptions::default())
                .with_context(|| format!("opening {}", path.display()))?,
        ),
        Db::Postgres(url) => {
            let options = PgOptions {
                lanes: args.pg_lanes.max(1),
                read_connections: args.pg_read_connections.max(1),
                instance: args.instance.clone(),
                ..PgOptions::default()
            };
            Arc::new(
                PgStore::open(url, clock.clone(), options).await.with_context(|| format!("opening {}", db.shown()))?,
            )
        }
    };
    if args.demo {
        store.seed_demo(SiteId::from(args.demo_site.as_str()), 8).await.context("seeding the demo clinic")?;
        if args.demo_leases {
            store
                .set_lease_policy(SiteId::from(args.demo_site.as_str()), Some(LeasePolicy::default()), "demo".into())
                .await
                .context("setting the demo site's lease policy")?;
        }
        let code = store.create_enroll_code(SiteId::from(args.demo_site.as_str()), 24).await?;
        println!("demo site {}: enrollment code {} (valid until {})", code.site_id, code.code, code.expires_at);
    }
    let config = ServerConfig {
        body_limit: args.body_limit,
        request_timeout: Duration::from_secs(args.request_timeout.max(1)),
        max_in_flight: args.max_in_flight,
        live_waits: args.live_waits,
        device_rate: rate(args.device_rate, args.device_burst),
        public_rate: rate(args.public_rate, args.public_burst),
        trusted_proxies: args.trusted_proxies.clone(),
        proxy_rate: rate(args.proxy_rate, args.proxy_burst),
        admin_token_hash: Some(secret::hash_secret(&token)),
        admin_token_file: Some(args.admin_token_file.clone()),
        lease_interval: Duration::from_secs(args.lease_interval_secs),
        ..ServerConfig::default()
    };
    let listener =
        tokio::net::TcpListener::bind(args.listen).await.with_context(|| format!("binding {}", args.listen))?;
    let addr = listener.local_addr()?;
    println!("listening on http://{addr}");
    println!("admin token in {}", args.admin_token_file.display());
    tracing::info!(%addr, db = %db.shown(), "frontdesk-central serving");
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

/// Runs one administrative command against PostgreSQL on a small store of its own.
fn with_pg<T>(url: &str, f: impl AsyncFnOnce(&PgStore) -> anyhow::Result<T>) -> anyhow::Result<T> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let options = PgOptions { lanes: 1, read_connections: 1, instance: "cli".into(), ..PgOptions::default() };
        let store = PgStore::open(url, clock_from_env()?, options).await.context("opening the database")?;
        let r = f(&store).await;
        store.close().await;
        r
    })
}

/// `lease-policy`: set, clear or show a site's capacity-lease policy.
fn lease_policy(db: &Db, args: LeasePolicyArgs) -> anyhow::Result<()> {
    let site = SiteId::from(args.site.as_str());
    if args.show {
        let leases = match db {
            Db::Sqlite(path) => cli::site_leases(path, clock_from_env()?.now(), &site)?,
            Db::Postgres(url) => with_pg(url, async |s| Ok(s.site_leases(site.clone()).await?))?,
        };
        match &leases.policy {
            Some(p) => println!("site {}: {}", leases.site_id, serde_json::to_string(p)?),
            None => println!("site {}: no lease policy (nothing is leased)", leases.site_id),
        }
        println!(
            "{:<38} {:<20} {:>6} {:>8} {:<27} {:>8} {:>6} {:>8} {:>8} {:>8}",
            "device", "name", "held", "expiring", "next expiry", "granted", "spent", "returned", "expired", "revoked"
        );
        for d in &leases.desks {
            println!(
                "{:<38} {:<20} {:>6} {:>8} {:<27} {:>8} {:>6} {:>8} {:>8} {:>8}",
                d.device_id,
                d.name,
                d.held,
                d.expiring,
                d.next_expiry.map(|t| t.to_string()).unwrap_or_else(|| "-".into()),
                d.granted,
                d.spent,
                d.returned,
                d.expired,
                d.revoked
            );
        }
        return Ok(());
    }
    let policy: Option<LeasePolicy> = match &args.set {
        Some(text) => Some(serde_json::from_str(text).context("--set takes a lease policy as JSON")?),
        None => None,
    };
    let set = match db {
        Db::Sqlite(path) => cli::set_lease_policy(path, clock_from_env()?.now(), &site, policy)?,
        Db::Postgres(url) => {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            rt.block_on(frontdesk_central::postgres::set_lease_policy_as(url, &site, policy, "cli"))?
        }
    };
    match set {
        Some(p) => println!("site {site}: lease policy {}", serde_json::to_string(&p)?),
        None => println!("site {site}: lease policy cleared; every lease of the site was taken back"),
    }
    Ok(())
}

fn parse_role(s: &str) -> Result<DeviceRole, String> {
    DeviceRole::parse(s).ok_or_else(|| format!("unknown role {s:?}: `desk` or `display`"))
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let db = Db::parse(&cli.db);
    match cli.command {
        Command::Serve(args) => {
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            rt.block_on(serve(&db, args))
        }
        Command::RotateAdminToken { admin_token_file } => {
            secret::write_new_token_file(&admin_token_file)
                .with_context(|| format!("writing a new admin token to {}", admin_token_file.display()))?;
            println!(
                "a new admin token is in {}; servers serving with this file use it from their next admin request on",
                admin_token_file.display()
            );
            Ok(())
        }
        Command::EnrollCode { site, ttl, role } => {
            let site_id = SiteId::from(site.as_str());
            let code = match &db {
                Db::Sqlite(path) => {
                    cli::enroll_code(path, clock_from_env()?.now(), &site_id, ttl, role).map_err(anyhow::Error::from)
                }
                Db::Postgres(url) => {
                    with_pg(url, async |s| Ok(s.create_enroll_code_as(site_id.clone(), ttl, role, "cli").await?))
                }
            }
            .with_context(|| format!("issuing an enrollment code for site {site}"))?;
            println!("{}", code.code);
            println!("site {} — {} — valid until {}", code.site_id, code.role.code(), code.expires_at);
            Ok(())
        }
        Command::Devices { action: DevicesAction::List { site } } => {
            let site = site.map(SiteId::from);
            let devices = match &db {
                Db::Sqlite(path) => cli::devices(path, site.as_ref())?,
                Db::Postgres(url) => with_pg(url, async |s| Ok(s.devices(site.clone()).await?))?,
            };
            println!(
                "{:<38} {:<10} {:<8} {:<20} {:<27} {:>8} {:>8} revoked",
                "device", "site", "role", "name", "last sync", "behind", "seq"
            );
            for d in devices {
                println!(
                    "{:<38} {:<10} {:<8} {:<20} {:<27} {:>8} {:>8} {}",
                    d.id,
                    d.site_id,
                    d.role.code(),
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
            let device = DeviceId::from(id.as_str());
            match &db {
                Db::Sqlite(path) => cli::revoke(path, clock_from_env()?.now(), &device)?,
                Db::Postgres(url) => with_pg(url, async |s| Ok(s.revoke_device(device.clone(), "cli".into()).await?))?,
            }
            println!("revoked {id}");
            Ok(())
        }
        Command::LeasePolicy(args) => lease_policy(&db, args),
        Command::Audit { action: AuditAction::Verify { site } } => {
            let reports = match &db {
                Db::Sqlite(path) => cli::verify_audit(path, site.as_deref())?,
                Db::Postgres(url) => with_pg(url, async |s| Ok(s.verify_audit(site.clone()).await?))?,
            };
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

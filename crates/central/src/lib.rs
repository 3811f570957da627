//! Frontdesk's central platform: the slot inventory that never oversells, sync push/pull for
//! desks, the public online-booking API, device enrollment and the admin API — axum over a
//! storage trait ([`store::Store`]) whose default back-end is embedded SQLite with one writer
//! and group commit ([`sqlite`]).
//!
//! The server is a library: [`serve`] takes a bound listener, a store and a shutdown signal,
//! so tests bind port 0 and the binary only wires the command line to it.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use frontdesk_central::{ServerConfig, serve, sqlite::{SqliteOptions, SqliteStore}, SystemClock};
//! let store = SqliteStore::open("central.db".as_ref(), Arc::new(SystemClock), SqliteOptions::default())?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! serve(listener, Arc::new(store), ServerConfig::default(), async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```

pub mod demo;
pub mod error;
pub mod http;
mod outcome;
pub mod postgres;
mod queue;
pub mod secret;
pub mod sqlite;
pub mod store;
pub mod telemetry;
pub mod view;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use http::{Rate, ServerConfig};
pub use store::Store;

/// The system clock and the `FRONTDESK_NOW` pin, from [`frontdesk_domain::clock`].
pub use frontdesk_domain::clock::{ClockEnvError, NOW_ENV, SystemClock, clock_from_env};

/// Serves the platform on `listener` until `shutdown` resolves; then stops accepting, lets
/// in-flight requests finish, and closes the store (every queued write is committed — a push
/// batch is one transaction, so none is left half-applied).
pub async fn serve<F>(
    listener: tokio::net::TcpListener,
    store: Arc<dyn Store>,
    config: ServerConfig,
    shutdown: F,
) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let metrics = telemetry::metrics_handle();
    let upkeep_handle = metrics.clone();
    let upkeep = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            upkeep_handle.run_upkeep();
        }
    });
    let leases =
        (!config.lease_interval.is_zero()).then(|| tokio::spawn(lease_rounds(store.clone(), config.lease_interval)));
    let (app, stopper) = http::router(store.clone(), config, metrics);
    // Held live-board waits end as soon as the server starts to stop, so draining never waits
    // for their timeouts.
    let shutdown = async move {
        shutdown.await;
        stopper.stop();
    };
    let result = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await;
    upkeep.abort();
    if let Some(task) = leases {
        task.abort();
    }
    store.close().await;
    tracing::info!("server stopped");
    result
}

/// Runs the platform's lease round ([`Store::lease_round`]) every `every` until aborted; a
/// failed round is logged and the next one tries again.
async fn lease_rounds(store: Arc<dyn Store>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match store.lease_round().await {
            Ok(r) if r.granted > 0 || r.expired > 0 => {
                tracing::info!(granted = r.granted, expired = r.expired, "lease round");
            }
            Ok(_) => tracing::trace!("lease round: nothing to do"),
            Err(e) => tracing::warn!(error = %e, "lease round failed; trying again at the next"),
        }
    }
}

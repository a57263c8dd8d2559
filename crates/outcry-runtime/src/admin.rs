//! The admin server: `/metrics`, `/healthz` (the process is alive) and `/readyz` (every
//! registered component is ready).

use crate::shutdown::Shutdown;
use axum::{http::StatusCode, routing::get, Router};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// Registered components and their readiness flags.
type Components = Mutex<Vec<(&'static str, Arc<AtomicBool>)>>;

static COMPONENTS: OnceLock<Components> = OnceLock::new();

fn components() -> &'static Components {
    COMPONENTS.get_or_init(|| Mutex::new(Vec::new()))
}

/// A component's readiness, reported on `/readyz`. Starts not ready.
#[derive(Debug)]
pub struct Readiness {
    flag: Arc<AtomicBool>,
}

impl Readiness {
    /// Registers a component under `name`.
    pub fn register(name: &'static str) -> Readiness {
        let flag = Arc::new(AtomicBool::new(false));
        if let Ok(mut all) = components().lock() {
            all.push((name, flag.clone()));
        }
        Readiness { flag }
    }

    pub fn set(&self, ready: bool) {
        self.flag.store(ready, Ordering::Relaxed);
    }
}

impl Drop for Readiness {
    /// A stopped component leaves the registry, so a process that restarts a service (the
    /// demo, tests) is not reported not-ready by the old instance.
    fn drop(&mut self) {
        if let Ok(mut all) = components().lock() {
            all.retain(|(_, flag)| !Arc::ptr_eq(flag, &self.flag));
        }
    }
}

/// Components not ready now, by name.
pub fn not_ready() -> Vec<&'static str> {
    components().lock().map_or_else(
        |_| vec!["lock"],
        |all| {
            all.iter()
                .filter(|(_, f)| !f.load(Ordering::Relaxed))
                .map(|(n, _)| *n)
                .collect()
        },
    )
}

/// Binds the admin server; the returned address is the real one (port 0 picks a free port).
pub async fn bind(addr: SocketAddr) -> std::io::Result<(tokio::net::TcpListener, SocketAddr)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    Ok((listener, local))
}

/// Serves the admin endpoints until shutdown.
pub async fn serve(listener: tokio::net::TcpListener, shutdown: Shutdown) -> std::io::Result<()> {
    let handle = crate::telemetry::metrics_handle();
    let upkeep = handle.clone();
    let upkeep_stop = shutdown.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tokio::select! {
                _ = tick.tick() => upkeep.run_upkeep(),
                _ = upkeep_stop.cancelled() => break,
            }
        }
    });
    let app = Router::new()
        .route("/metrics", get(move || std::future::ready(handle.render())))
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/readyz",
            get(|| async {
                let waiting = not_ready();
                if waiting.is_empty() {
                    (StatusCode::OK, "ready\n".to_string())
                } else {
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        format!("not ready: {}\n", waiting.join(", ")),
                    )
                }
            }),
        );
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_component_is_not_ready_until_set_and_leaves_when_dropped() {
        let r = Readiness::register("readiness-test");
        assert!(not_ready().contains(&"readiness-test"));
        r.set(true);
        assert!(!not_ready().contains(&"readiness-test"));
        r.set(false);
        drop(r);
        assert!(!not_ready().contains(&"readiness-test"));
    }
}

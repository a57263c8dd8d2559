//! A webhook receiver on loopback: what a CRM or chat integration would run. The demo and the
//! end-to-end tests point the notifier at it and read what arrived.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Json;
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

/// One delivery as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub body: Value,
    pub idempotency_key: String,
    pub received_ms: i64,
}

#[derive(Debug, Default)]
struct Inner {
    received: Mutex<Vec<Received>>,
    fail_next: AtomicU32,
    attempts: AtomicU32,
}

/// A running receiver. Clones share state.
#[derive(Debug, Clone)]
pub struct Receiver {
    inner: Arc<Inner>,
    pub addr: SocketAddr,
}

impl Receiver {
    /// Serves `POST /hook` on 127.0.0.1 (a free port) until the runtime stops.
    pub async fn start() -> std::io::Result<Receiver> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let inner = Arc::new(Inner::default());
        let app = axum::Router::new()
            .route("/hook", post(receive))
            .with_state(inner.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Receiver { inner, addr })
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// The next `n` requests are answered 503, as an overloaded receiver would.
    pub fn fail_next(&self, n: u32) {
        self.inner.fail_next.store(n, Ordering::SeqCst);
    }

    /// Requests seen, failed ones included.
    pub fn attempts(&self) -> u32 {
        self.inner.attempts.load(Ordering::SeqCst)
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner
            .received
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    pub fn count(&self) -> usize {
        self.inner.received.lock().map(|r| r.len()).unwrap_or(0)
    }

    /// The escalations received, each counted once (see [`notified`]), without copying what
    /// arrived.
    pub fn notified(&self) -> usize {
        self.inner
            .received
            .lock()
            .map(|r| notified(&r))
            .unwrap_or(0)
    }
}

/// The escalations among `received`, each counted once: a repeated delivery carries the same
/// `Idempotency-Key` (the escalation id), which is what a receiver deduplicates on.
pub fn notified(received: &[Received]) -> usize {
    received
        .iter()
        .map(|r| r.idempotency_key.as_str())
        .collect::<std::collections::HashSet<_>>()
        .len()
}

async fn receive(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> StatusCode {
    inner.attempts.fetch_add(1, Ordering::SeqCst);
    let failing = inner
        .fail_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let idempotency_key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    if let Ok(mut all) = inner.received.lock() {
        all.push(Received {
            body,
            idempotency_key,
            received_ms: outcry_runtime::time::now_millis(),
        });
    }
    StatusCode::NO_CONTENT
}

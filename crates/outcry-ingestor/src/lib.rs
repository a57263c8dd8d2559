//! The ingestor: `POST /v1/mentions` takes one JSON mention or an NDJSON batch, validates it
//! and writes `Mention`s to the mentions topic, keyed by mention id.
//!
//! It answers 202 only after the broker acknowledged every write (idempotent producer,
//! `acks=all`); 400 naming the line and field at fault (reason `too_large` for a mention
//! encoding past [`parse::MAX_MENTION_BYTES`], or one Kafka refuses as too large); 401 without
//! a valid token; 413 for an oversized body; 503 with `Retry-After` when it cannot write, or
//! when `ingestor.max_concurrent_requests` requests are already in progress. Nothing is dropped
//! silently: a mention is either acknowledged to the client or the client is told to retry.

mod inflight;
pub mod parse;
mod write;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use inflight::Ledger;
use outcry_runtime::admin::Readiness;
use outcry_runtime::{kafka, time::now_millis, Config, Shutdown};
use parse::{BrandMatcher, LineError};
use rdkafka::producer::{FutureProducer, Producer};
use serde_json::json;
use std::future::IntoFuture as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

#[derive(Debug, thiserror::Error)]
pub enum IngestorError {
    #[error("cannot bind {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot create the kafka producer")]
    Producer(#[source] rdkafka::error::KafkaError),
    #[error("http server failed")]
    Serve(#[source] std::io::Error),
}

pub(crate) mod names {
    pub(crate) const REQUESTS: &str = "outcry_ingestor_requests_total";
    pub(crate) const SHED: &str = "outcry_ingestor_requests_shed_total";
    pub(crate) const IN_PROGRESS: &str = "outcry_ingestor_requests_in_progress";
    pub(crate) const ACCEPTED: &str = "outcry_ingestor_mentions_accepted_total";
    pub(crate) const REJECTED: &str = "outcry_ingestor_mentions_rejected_total";
    pub(crate) const DUPLICATES: &str = "outcry_ingestor_mentions_duplicate_total";
    pub(crate) const UNMATCHED: &str = "outcry_ingestor_mentions_unmatched_total";
    pub(crate) const WRITE_FAILURES: &str = "outcry_ingestor_write_failures_total";
    pub(crate) const REQUEST_SECONDS: &str = "outcry_ingestor_request_seconds";
    pub(crate) const BATCH_MENTIONS: &str = "outcry_ingestor_batch_mentions";
}

fn describe_metrics() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        names::REQUESTS,
        "http requests to /v1/mentions, by status code"
    );
    describe_counter!(
        names::SHED,
        "requests answered 503 unread because the most concurrent requests were in progress"
    );
    describe_gauge!(
        names::IN_PROGRESS,
        Unit::Count,
        "requests to /v1/mentions being served"
    );
    describe_counter!(
        names::ACCEPTED,
        "mentions acknowledged by the broker, whatever the answer to their request"
    );
    describe_counter!(
        names::REJECTED,
        "mentions refused with a 4xx, by reason; a refused batch counts all its mentions"
    );
    describe_counter!(
        names::DUPLICATES,
        "mentions not written again because their id was written recently"
    );
    describe_counter!(
        names::UNMATCHED,
        "mentions accepted but not written because no configured brand matched"
    );
    describe_counter!(
        names::WRITE_FAILURES,
        "mentions the broker did not acknowledge; the client got a 503"
    );
    describe_histogram!(
        names::REQUEST_SECONDS,
        Unit::Seconds,
        "time from request to answer"
    );
    describe_histogram!(
        names::BATCH_MENTIONS,
        Unit::Count,
        "mentions per accepted request"
    );
}

pub(crate) struct AppState {
    producer: FutureProducer,
    topic: String,
    brands: BrandMatcher,
    ledger: Ledger,
    auth_tokens: Vec<String>,
    max_batch: usize,
    retry_after_secs: u64,
    queue_timeout: Duration,
    /// How long a request waits for another one's write of the same mention: that write's
    /// own bound (enqueue, then delivery), and a margin.
    settle_timeout: Duration,
}

/// A bound ingestor, ready to serve.
pub struct Ingestor {
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    max_body_bytes: usize,
    /// Each request can hold its body (up to `ingestor.max_body_bytes`), the parsed and the
    /// encoded mentions, and librdkafka's copy, for as long as the broker takes to acknowledge
    /// (up to `kafka.delivery_timeout_ms`): about 16 MiB at the default limits, so the default
    /// 32 bounds that to about 512 MiB while a slow broker makes every source retry.
    max_concurrent_requests: usize,
    drain_timeout: Duration,
}

impl Ingestor {
    /// Binds the listen address and creates the producer.
    pub async fn bind(config: &Config) -> Result<Ingestor, IngestorError> {
        describe_metrics();
        let addr = config.ingestor.listen;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| IngestorError::Bind { addr, source })?;
        let producer =
            kafka::producer(&config.kafka, "ingestor").map_err(IngestorError::Producer)?;
        let queue_timeout = Duration::from_millis(config.kafka.delivery_timeout_ms.min(10_000));
        Ok(Ingestor {
            listener,
            state: Arc::new(AppState {
                producer,
                topic: config.kafka.topics.mentions.clone(),
                brands: BrandMatcher::new(&config.brands),
                ledger: Ledger::new(config.ingestor.dedup_capacity),
                auth_tokens: config.ingestor.auth_tokens.clone(),
                max_batch: config.ingestor.max_batch,
                retry_after_secs: config.ingestor.retry_after_secs,
                queue_timeout,
                settle_timeout: queue_timeout
                    + Duration::from_millis(config.kafka.delivery_timeout_ms)
                    + Duration::from_secs(1),
            }),
            max_body_bytes: config.ingestor.max_body_bytes,
            max_concurrent_requests: config.ingestor.max_concurrent_requests.max(1),
            drain_timeout: Duration::from_secs(config.shutdown.drain_timeout_secs),
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until shutdown, then finishes in-flight requests and flushes the producer, all
    /// within `shutdown.drain_timeout_secs`. Requests still running at the deadline are left
    /// unanswered (their clients retry; nothing they sent was acknowledged).
    pub async fn serve(self, shutdown: Shutdown) -> Result<(), IngestorError> {
        let readiness = Readiness::register("ingestor");
        let limiter = Arc::new(Limiter {
            permits: Semaphore::new(self.max_concurrent_requests),
            retry_after_secs: self.state.retry_after_secs,
        });
        let app = Router::new()
            .route("/v1/mentions", post(post_mentions))
            .layer(DefaultBodyLimit::max(self.max_body_bytes))
            .route_layer(middleware::from_fn_with_state(limiter, limit))
            .with_state(self.state.clone());
        readiness.set(true);
        tracing::info!(addr = ?self.listener.local_addr().ok(), "ingestor listening");
        let stop = shutdown.clone();
        let server = axum::serve(self.listener, app)
            .with_graceful_shutdown(async move {
                stop.cancelled().await;
                readiness.set(false);
            })
            .into_future();
        let mut server = std::pin::pin!(server);
        // the graceful shutdown waits for every open request, which a slow client or a slow
        // broker can make last for ever: bound it by the drain timeout
        let (served, deadline) = tokio::select! {
            served = &mut server => (served, Instant::now() + self.drain_timeout),
            () = shutdown.cancelled() => {
                let deadline = Instant::now() + self.drain_timeout;
                let served = match tokio::time::timeout_at(deadline.into(), &mut server).await {
                    Ok(served) => served,
                    Err(_) => {
                        tracing::warn!(
                            drain_timeout = ?self.drain_timeout,
                            "requests still in progress at the drain timeout, not waiting for them"
                        );
                        Ok(())
                    }
                };
                (served, deadline)
            }
        };
        let left = deadline.saturating_duration_since(Instant::now());
        let state = self.state;
        let flush = tokio::task::spawn_blocking(move || state.producer.flush(left));
        match tokio::time::timeout(left + Duration::from_millis(100), flush).await {
            Ok(Ok(Ok(()))) => {}
            _ => tracing::warn!("the producer did not flush within the drain timeout"),
        }
        served.map_err(IngestorError::Serve)
    }
}

/// Binds and serves until shutdown.
pub async fn run(config: Config, shutdown: Shutdown) -> Result<(), IngestorError> {
    Ingestor::bind(&config).await?.serve(shutdown).await
}

pub(crate) fn error_response(status: StatusCode, body: serde_json::Value) -> Response {
    metrics::counter!(names::REQUESTS, "status" => status.as_str().to_string()).increment(1);
    (status, Json(body)).into_response()
}

pub(crate) fn retry_later(retry_after_secs: u64, body: serde_json::Value) -> Response {
    let mut response = error_response(StatusCode::SERVICE_UNAVAILABLE, body);
    response.headers_mut().insert(
        header::RETRY_AFTER,
        header::HeaderValue::from(retry_after_secs),
    );
    response
}

struct Limiter {
    permits: Semaphore,
    retry_after_secs: u64,
}

/// Counts a request in `outcry_ingestor_requests_in_progress` while it lives.
struct InProgress;

impl InProgress {
    fn start() -> Self {
        metrics::gauge!(names::IN_PROGRESS).increment(1.0);
        InProgress
    }
}

impl Drop for InProgress {
    fn drop(&mut self) {
        metrics::gauge!(names::IN_PROGRESS).decrement(1.0);
    }
}

/// Sheds a request past the concurrency limit before its body is read, so that memory stays
/// bounded however many sources retry at once.
async fn limit(State(limiter): State<Arc<Limiter>>, request: Request, next: Next) -> Response {
    let Ok(_permit) = limiter.permits.try_acquire() else {
        metrics::counter!(names::SHED).increment(1);
        return retry_later(
            limiter.retry_after_secs,
            json!({"error": "too many requests in progress, retry later", "field": "."}),
        );
    };
    let _in_progress = InProgress::start();
    next.run(request).await
}

fn authorized(state: &AppState, headers: &HeaderMap) -> bool {
    if state.auth_tokens.is_empty() {
        return true;
    }
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    // compare every token in full so timing does not tell which prefix matched
    state.auth_tokens.iter().fold(false, |ok, token| {
        let same = token.len() == given.len()
            && token
                .bytes()
                .zip(given.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        ok | same
    })
}

async fn post_mentions(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let started = Instant::now();
    let response = handle(&state, &headers, body).await;
    metrics::histogram!(names::REQUEST_SECONDS).record(started.elapsed().as_secs_f64());
    response
}

pub(crate) fn rejected(reason: &'static str, mentions: usize) {
    metrics::counter!(names::REJECTED, "reason" => reason).increment(mentions as u64);
}

/// Counts every mention of a refused body: each bad line under its reason, the lines past
/// `max_batch` as `batch_too_large`, and the valid lines refused with their batch as
/// `batch_rejected`.
fn count_refused(errors: &[LineError], mentions: usize, max_batch: usize) {
    let mut counted = 0;
    for e in errors {
        let n = if e.error.reason == "batch_too_large" {
            mentions.saturating_sub(max_batch).max(1)
        } else {
            1
        };
        rejected(e.error.reason, n);
        counted += n;
    }
    if mentions > counted {
        rejected("batch_rejected", mentions - counted);
    }
}

async fn handle(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let ndjson = matches!(
        content_type.as_str(),
        "application/x-ndjson"
            | "application/ndjson"
            | "application/jsonl"
            | "application/jsonlines"
    );
    // how many mentions a refused body held: one unless it is a batch that could be read
    let mentions_in = |body: &Result<Bytes, _>| match body {
        Ok(body) if ndjson => parse::count_mentions(body).max(1),
        _ => 1,
    };
    if !authorized(state, headers) {
        rejected("unauthorized", mentions_in(&body));
        let mut response = error_response(
            StatusCode::UNAUTHORIZED,
            json!({"error": "missing or invalid bearer token", "field": "authorization"}),
        );
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
        return response;
    }
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            let status = rejection.status();
            let reason = if status == StatusCode::PAYLOAD_TOO_LARGE {
                "too_large"
            } else {
                "unreadable_body"
            };
            rejected(reason, 1);
            return error_response(
                status,
                json!({"error": rejection.body_text(), "field": "."}),
            );
        }
    };
    let now = now_millis();
    let parsed = if ndjson {
        parse::parse_batch(&body, &state.brands, now, state.max_batch)
    } else if matches!(content_type.as_str(), "application/json" | "") {
        parse::parse_mention(&body, &state.brands, now)
            .map(|m| vec![(1, m)])
            .map_err(|error| vec![LineError { line: 1, error }])
    } else {
        rejected("unsupported_media_type", 1);
        return error_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            json!({"error": format!("content type {content_type:?} is not application/json or application/x-ndjson"), "field": "content-type"}),
        );
    };
    let mentions = match parsed {
        Ok(mentions) => mentions,
        Err(errors) => {
            count_refused(&errors, mentions_in(&Ok(body)), state.max_batch);
            let first = &errors[0];
            let details: Vec<_> = errors
                .iter()
                .take(20)
                .map(|e| json!({"line": e.line, "field": e.error.field, "reason": e.error.reason, "error": e.error.message}))
                .collect();
            return error_response(
                StatusCode::BAD_REQUEST,
                json!({
                    "error": format!("line {}: {}", first.line, first.error),
                    "line": first.line,
                    "field": first.error.field,
                    "reason": first.error.reason,
                    "errors": details,
                    "accepted": 0,
                }),
            );
        }
    };
    write::write(state, mentions).await
}

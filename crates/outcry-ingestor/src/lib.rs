//! The ingestor: `POST /v1/mentions` takes one JSON mention or an NDJSON batch, validates it
//! and writes `Mention`s to the mentions topic, keyed by mention id.
//!
//! It answers 202 only after the broker acknowledged every write (idempotent producer,
//! `acks=all`); 400 naming the line and field at fault; 401 without a valid token; 413 for an
//! oversized body; 503 with `Retry-After` when it cannot write. Nothing is dropped silently:
//! a mention is either acknowledged to the client or the client is told to retry.

pub mod parse;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use outcry_proto::v1::Mention;
use outcry_proto::Message as _;
use outcry_runtime::admin::Readiness;
use outcry_runtime::dedup::DedupWindow;
use outcry_runtime::{kafka, time::now_millis, Config, Shutdown};
use parse::{BrandMatcher, LineError};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

mod names {
    pub const REQUESTS: &str = "outcry_ingestor_requests_total";
    pub const ACCEPTED: &str = "outcry_ingestor_mentions_accepted_total";
    pub const REJECTED: &str = "outcry_ingestor_mentions_rejected_total";
    pub const DUPLICATES: &str = "outcry_ingestor_mentions_duplicate_total";
    pub const UNMATCHED: &str = "outcry_ingestor_mentions_unmatched_total";
    pub const WRITE_FAILURES: &str = "outcry_ingestor_write_failures_total";
    pub const REQUEST_SECONDS: &str = "outcry_ingestor_request_seconds";
    pub const BATCH_MENTIONS: &str = "outcry_ingestor_batch_mentions";
}

fn describe_metrics() {
    use metrics::{describe_counter, describe_histogram, Unit};
    describe_counter!(
        names::REQUESTS,
        "http requests to /v1/mentions, by status code"
    );
    describe_counter!(
        names::ACCEPTED,
        "mentions acknowledged by the broker and answered 202"
    );
    describe_counter!(names::REJECTED, "mentions refused with a 4xx, by reason");
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

struct AppState {
    producer: FutureProducer,
    topic: String,
    brands: BrandMatcher,
    dedup: Mutex<DedupWindow>,
    auth_tokens: Vec<String>,
    max_batch: usize,
    retry_after_secs: u64,
    queue_timeout: Duration,
}

/// A bound ingestor, ready to serve.
pub struct Ingestor {
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    max_body_bytes: usize,
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
        Ok(Ingestor {
            listener,
            state: Arc::new(AppState {
                producer,
                topic: config.kafka.topics.mentions.clone(),
                brands: BrandMatcher::new(&config.brands),
                dedup: Mutex::new(DedupWindow::new(config.ingestor.dedup_capacity)),
                auth_tokens: config.ingestor.auth_tokens.clone(),
                max_batch: config.ingestor.max_batch,
                retry_after_secs: config.ingestor.retry_after_secs,
                queue_timeout: Duration::from_millis(config.kafka.delivery_timeout_ms.min(10_000)),
            }),
            max_body_bytes: config.ingestor.max_body_bytes,
            drain_timeout: Duration::from_secs(config.shutdown.drain_timeout_secs),
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until shutdown, then finishes in-flight requests and flushes the producer.
    pub async fn serve(self, shutdown: Shutdown) -> Result<(), IngestorError> {
        let readiness = Readiness::register("ingestor");
        let app = Router::new()
            .route("/v1/mentions", post(post_mentions))
            .layer(DefaultBodyLimit::max(self.max_body_bytes))
            .with_state(self.state.clone());
        readiness.set(true);
        tracing::info!(addr = ?self.listener.local_addr().ok(), "ingestor listening");
        let stop = shutdown.clone();
        let served = axum::serve(self.listener, app)
            .with_graceful_shutdown(async move {
                stop.cancelled().await;
                readiness.set(false);
            })
            .await;
        let state = self.state;
        let flush =
            tokio::task::spawn_blocking(move || state.producer.flush(Duration::from_secs(5)));
        let _ = tokio::time::timeout(self.drain_timeout, flush).await;
        served.map_err(IngestorError::Serve)
    }
}

/// Binds and serves until shutdown.
pub async fn run(config: Config, shutdown: Shutdown) -> Result<(), IngestorError> {
    Ingestor::bind(&config).await?.serve(shutdown).await
}

fn error_response(status: StatusCode, body: serde_json::Value) -> Response {
    metrics::counter!(names::REQUESTS, "status" => status.as_str().to_string()).increment(1);
    (status, Json(body)).into_response()
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

async fn handle(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    if !authorized(state, headers) {
        metrics::counter!(names::REJECTED, "reason" => "unauthorized").increment(1);
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
            metrics::counter!(names::REJECTED, "reason" => reason).increment(1);
            return error_response(
                status,
                json!({"error": rejection.body_text(), "field": "."}),
            );
        }
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let now = now_millis();
    let parsed = match content_type.as_str() {
        "application/x-ndjson"
        | "application/ndjson"
        | "application/jsonl"
        | "application/jsonlines" => parse::parse_batch(&body, &state.brands, now, state.max_batch)
            .map(|parsed| parsed.into_iter().map(|(_, m)| m).collect()),
        "application/json" | "" => parse::parse_mention(&body, &state.brands, now)
            .map(|m| vec![m])
            .map_err(|error| vec![LineError { line: 1, error }]),
        other => {
            metrics::counter!(names::REJECTED, "reason" => "unsupported_media_type").increment(1);
            return error_response(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                json!({"error": format!("content type {other:?} is not application/json or application/x-ndjson"), "field": "content-type"}),
            );
        }
    };
    let mentions = match parsed {
        Ok(mentions) => mentions,
        Err(errors) => {
            for e in &errors {
                metrics::counter!(names::REJECTED, "reason" => e.error.reason).increment(1);
            }
            let first = &errors[0];
            let details: Vec<_> = errors
                .iter()
                .take(20)
                .map(|e| json!({"line": e.line, "field": e.error.field, "error": e.error.message}))
                .collect();
            return error_response(
                StatusCode::BAD_REQUEST,
                json!({
                    "error": format!("line {}: {}", first.line, first.error),
                    "line": first.line,
                    "field": first.error.field,
                    "errors": details,
                    "accepted": 0,
                }),
            );
        }
    };
    write(state, mentions).await
}

async fn write(state: &AppState, mentions: Vec<Mention>) -> Response {
    let total = mentions.len();
    let mut unmatched = 0usize;
    let mut duplicates = 0usize;
    let mut to_write = Vec::with_capacity(total);
    {
        // ids already in this batch: a set, since a batch holds up to `max_batch` mentions
        let mut in_batch = std::collections::HashSet::with_capacity(total);
        let dedup = state.dedup.lock().unwrap_or_else(|p| p.into_inner());
        for m in mentions {
            if m.brand_ids.is_empty() {
                unmatched += 1;
            } else if dedup.contains(&m.id) || !in_batch.insert(m.id.clone()) {
                duplicates += 1;
            } else {
                to_write.push(m);
            }
        }
    }
    let encoded: Vec<(String, Vec<u8>)> = to_write
        .iter()
        .map(|m| (m.id.clone(), m.encode_to_vec()))
        .collect();
    let sends = encoded.iter().map(|(key, value)| {
        state.producer.send(
            FutureRecord::to(&state.topic).key(key).payload(value),
            state.queue_timeout,
        )
    });
    let results = futures::future::join_all(sends).await;
    let mut written = 0usize;
    let mut failed = 0usize;
    let mut last_error = None;
    {
        let mut dedup = state.dedup.lock().unwrap_or_else(|p| p.into_inner());
        for ((key, _), result) in encoded.iter().zip(results) {
            match result {
                Ok(_) => {
                    dedup.insert(key);
                    written += 1;
                }
                Err((error, _)) => {
                    failed += 1;
                    last_error = Some(error);
                }
            }
        }
    }
    metrics::counter!(names::DUPLICATES).increment(duplicates as u64);
    metrics::counter!(names::UNMATCHED).increment(unmatched as u64);
    if failed > 0 {
        metrics::counter!(names::WRITE_FAILURES).increment(failed as u64);
        let error = last_error.map(|e| e.to_string()).unwrap_or_default();
        tracing::warn!(failed, written, %error, "mentions not acknowledged by the broker, answering 503");
        let mut response = error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({
                "error": format!("the broker did not acknowledge {failed} of {} mentions: {error}; retry the whole request, acknowledged mentions are deduplicated", encoded.len()),
                "written": written,
                "failed": failed,
            }),
        );
        response.headers_mut().insert(
            header::RETRY_AFTER,
            header::HeaderValue::from(state.retry_after_secs),
        );
        return response;
    }
    metrics::counter!(names::ACCEPTED).increment(written as u64);
    metrics::histogram!(names::BATCH_MENTIONS).record(total as f64);
    metrics::counter!(names::REQUESTS, "status" => "202").increment(1);
    (
        StatusCode::ACCEPTED,
        Json(json!({"accepted": written, "duplicates": duplicates, "unmatched": unmatched})),
    )
        .into_response()
}

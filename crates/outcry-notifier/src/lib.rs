//! The notifier: consumes escalations and delivers each one to every configured webhook as
//! JSON (`POST`, `Idempotency-Key: <escalation_id>`), retrying with exponential backoff and
//! jitter. What still fails after the last attempt becomes a dead letter with the reason; the
//! offset is stored only after delivery or the dead letter is acknowledged.

pub mod json;

use outcry_proto::v1::Escalation;
use outcry_proto::Message as _;
use outcry_runtime::config::{NotifierConfig, WebhookConfig};
use outcry_runtime::pipeline::{self, Output, PipelineSpec, Processor, Record, Reject};
use outcry_runtime::{time::now_millis, Config, Shutdown};
use std::time::{Duration, Instant};

mod names {
    pub const DELIVERIES: &str = "outcry_notifier_deliveries_total";
    pub const ATTEMPTS: &str = "outcry_notifier_delivery_attempts_total";
    pub const DELIVERY_SECONDS: &str = "outcry_notifier_delivery_seconds";
    pub const END_TO_END_SECONDS: &str = "outcry_notifier_end_to_end_seconds";
}

fn describe_metrics() {
    use metrics::{describe_counter, describe_histogram, Unit};
    describe_counter!(
        names::DELIVERIES,
        "escalations handed to a webhook, by webhook and outcome (delivered, failed)"
    );
    describe_counter!(
        names::ATTEMPTS,
        "http attempts, by webhook and result (2xx, 4xx, 5xx, error)"
    );
    describe_histogram!(
        names::DELIVERY_SECONDS,
        Unit::Seconds,
        "time to deliver one escalation to one webhook, retries included"
    );
    describe_histogram!(
        names::END_TO_END_SECONDS,
        Unit::Seconds,
        "time from the ingestor receiving the triggering mention to the webhook acknowledging"
    );
}

#[derive(Debug, thiserror::Error)]
pub enum NotifierError {
    #[error("cannot build the http client")]
    Client(#[source] reqwest::Error),
    #[error("notifier pipeline failed")]
    Pipeline(#[from] pipeline::PipelineError),
}

/// Retry schedule for one delivery.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

impl RetryPolicy {
    fn from_config(c: &NotifierConfig) -> Self {
        RetryPolicy {
            max_attempts: c.max_attempts,
            initial_backoff: Duration::from_millis(c.initial_backoff_ms),
            max_backoff: Duration::from_millis(c.max_backoff_ms),
        }
    }

    /// Backoff before attempt `attempt + 1` (attempt counts from 1): doubling, capped, with
    /// up to 25% jitter so that many notifiers do not retry in step.
    pub fn backoff(&self, attempt: u32, jitter_seed: u64) -> Duration {
        let base = self
            .initial_backoff
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(self.max_backoff);
        let jitter = (splitmix(jitter_seed) % 1000) as f64 / 4000.0;
        base.mul_f64(1.0 - jitter)
    }
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Why one delivery failed for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryFailure {
    pub attempts: u32,
    pub detail: String,
}

/// Delivers escalations to webhooks. Holds no Kafka: the pipeline feeds it records.
pub struct Notifier {
    client: reqwest::Client,
    webhooks: Vec<WebhookConfig>,
    policy: RetryPolicy,
}

impl Notifier {
    pub fn new(config: &NotifierConfig) -> Result<Notifier, NotifierError> {
        describe_metrics();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.request_timeout_ms))
            .user_agent(concat!("outcry-notifier/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(NotifierError::Client)?;
        Ok(Notifier {
            client,
            webhooks: config.webhooks.clone(),
            policy: RetryPolicy::from_config(config),
        })
    }

    /// Posts `body` to one webhook until it answers 2xx, a non-retriable 4xx, or attempts
    /// run out.
    pub async fn deliver(
        &self,
        hook: &WebhookConfig,
        idempotency_key: &str,
        body: &serde_json::Value,
    ) -> Result<u32, DeliveryFailure> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = self
                .client
                .post(&hook.url)
                .header("idempotency-key", idempotency_key)
                .json(body);
            for (name, value) in &hook.headers {
                request = request.header(name, value);
            }
            let (label, retriable, detail, retry_after) = match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    if status.is_success() {
                        metrics::counter!(names::ATTEMPTS, "webhook" => hook.name.clone(), "result" => "2xx").increment(1);
                        return Ok(attempt);
                    }
                    let retry_after = response
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    let retriable = status.is_server_error()
                        || status == reqwest::StatusCode::TOO_MANY_REQUESTS
                        || status == reqwest::StatusCode::REQUEST_TIMEOUT;
                    let label = if status.is_server_error() {
                        "5xx"
                    } else {
                        "4xx"
                    };
                    (
                        label,
                        retriable,
                        format!("http status {status}"),
                        retry_after,
                    )
                }
                Err(error) => ("error", true, format!("request failed: {error}"), None),
            };
            metrics::counter!(names::ATTEMPTS, "webhook" => hook.name.clone(), "result" => label)
                .increment(1);
            if !retriable || attempt >= self.policy.max_attempts {
                return Err(DeliveryFailure {
                    attempts: attempt,
                    detail,
                });
            }
            let wait = retry_after
                .unwrap_or_else(|| {
                    self.policy.backoff(
                        attempt,
                        splitmix(idempotency_key.len() as u64 ^ u64::from(attempt)),
                    )
                })
                .min(self.policy.max_backoff);
            tracing::debug!(webhook = %hook.name, attempt, ?wait, %detail, "webhook delivery failed, retrying");
            tokio::time::sleep(wait).await;
        }
    }
}

impl Processor for Notifier {
    async fn process(&mut self, record: &Record<'_>) -> Result<Vec<Output>, Reject> {
        let escalation = Escalation::decode(record.payload).map_err(|e| {
            Reject::new("decode_error", format!("not an outcry.v1.Escalation: {e}"))
        })?;
        let body = json::escalation_json(&escalation);
        for hook in &self.webhooks {
            let started = Instant::now();
            match self.deliver(hook, &escalation.escalation_id, &body).await {
                Ok(_) => {
                    metrics::counter!(names::DELIVERIES, "webhook" => hook.name.clone(), "outcome" => "delivered").increment(1);
                    metrics::histogram!(names::DELIVERY_SECONDS, "webhook" => hook.name.clone())
                        .record(started.elapsed().as_secs_f64());
                    let received = outcry_proto::millis_from_timestamp(
                        escalation.trigger_received_at.as_ref(),
                    );
                    if received > 0 {
                        let seconds = (now_millis() - received).max(0) as f64 / 1000.0;
                        metrics::histogram!(names::END_TO_END_SECONDS).record(seconds);
                    }
                }
                Err(failure) => {
                    metrics::counter!(names::DELIVERIES, "webhook" => hook.name.clone(), "outcome" => "failed").increment(1);
                    tracing::warn!(webhook = %hook.name, case_id = %escalation.case_id, attempts = failure.attempts, detail = %failure.detail, "webhook delivery failed for good");
                    return Err(Reject {
                        reason: "delivery_failed",
                        detail: format!("webhook {}: {}", hook.name, failure.detail),
                        attempts: failure.attempts,
                    });
                }
            }
        }
        Ok(Vec::new())
    }
}

/// Consumes the escalations topic and notifies until shutdown.
pub async fn run(config: Config, shutdown: Shutdown) -> Result<(), NotifierError> {
    let notifier = Notifier::new(&config.notifier)?;
    if config.notifier.webhooks.is_empty() {
        tracing::warn!("no webhooks configured: escalations are consumed and counted only");
    }
    let spec = PipelineSpec::new(&config, "notifier", &config.kafka.topics.escalations);
    pipeline::run(&config.kafka, spec, notifier, shutdown).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;
    use axum::routing::post;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    /// A real HTTP server on loopback that fails the first `fail_first` requests with `status`.
    async fn receiver(fail_first: u32, status: StatusCode) -> (String, Arc<AtomicU32>) {
        let hits = Arc::new(AtomicU32::new(0));
        let counter = hits.clone();
        let app = axum::Router::new().route(
            "/hook",
            post(move || {
                let counter = counter.clone();
                async move {
                    let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
                    if n <= fail_first {
                        status
                    } else {
                        StatusCode::NO_CONTENT
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (url, hits)
    }

    fn notifier(url: &str, max_attempts: u32) -> Notifier {
        Notifier::new(&NotifierConfig {
            webhooks: vec![WebhookConfig {
                name: "crm".into(),
                url: url.into(),
                headers: Default::default(),
            }],
            max_attempts,
            initial_backoff_ms: 1,
            max_backoff_ms: 5,
            request_timeout_ms: 2_000,
        })
        .unwrap()
    }

    fn record(payload: &[u8]) -> Record<'_> {
        Record {
            topic: "t",
            partition: 0,
            offset: 7,
            key: None,
            payload,
        }
    }

    #[tokio::test]
    async fn retries_server_errors_until_delivered() {
        let (url, hits) = receiver(2, StatusCode::SERVICE_UNAVAILABLE).await;
        let mut n = notifier(&url, 5);
        let payload = Escalation {
            escalation_id: "e1".into(),
            ..Default::default()
        }
        .encode_to_vec();
        let out = n.process(&record(&payload)).await.unwrap();
        assert!(out.is_empty());
        assert_eq!(hits.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn gives_up_after_the_last_attempt_with_a_dead_letter_reason() {
        let (url, hits) = receiver(100, StatusCode::BAD_GATEWAY).await;
        let mut n = notifier(&url, 3);
        let payload = Escalation::default().encode_to_vec();
        let reject = n.process(&record(&payload)).await.unwrap_err();
        assert_eq!(reject.reason, "delivery_failed");
        assert_eq!(reject.attempts, 3);
        assert!(reject.detail.contains("502"), "{}", reject.detail);
        assert_eq!(hits.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn client_errors_are_not_retried() {
        let (url, hits) = receiver(100, StatusCode::UNPROCESSABLE_ENTITY).await;
        let mut n = notifier(&url, 5);
        let reject = n
            .process(&record(&Escalation::default().encode_to_vec()))
            .await
            .unwrap_err();
        assert_eq!(reject.attempts, 1);
        assert_eq!(hits.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn undecodable_records_are_rejected_not_delivered() {
        let (url, hits) = receiver(0, StatusCode::OK).await;
        let mut n = notifier(&url, 5);
        let reject = n.process(&record(b"\xff\xff\xff")).await.unwrap_err();
        assert_eq!(reject.reason, "decode_error");
        assert_eq!(hits.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = RetryPolicy {
            max_attempts: 9,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
        };
        let b1 = p.backoff(1, 1);
        let b3 = p.backoff(3, 1);
        assert!(b1 <= Duration::from_millis(100) && b1 >= Duration::from_millis(75));
        assert!(b3 <= Duration::from_millis(400) && b3 >= Duration::from_millis(300));
        assert!(p.backoff(12, 1) <= Duration::from_millis(1000));
    }
}

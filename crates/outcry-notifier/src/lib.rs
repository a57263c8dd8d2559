//! The notifier: consumes escalations and delivers each one to every configured webhook at
//! once as JSON (`POST`, `Idempotency-Key: <escalation_id>`), in the webhook's format
//! (Outcry's JSON, Slack, PagerDuty, Alertmanager: see [`formats`]; or as an email through
//! an SMTP relay, see [`email`]), retrying with exponential
//! backoff and jitter, or after the receiver's `Retry-After`, within a retry budget. What
//! still fails after the last attempt becomes one dead letter naming every webhook that
//! failed; the offset is stored only after delivery or the dead letter is acknowledged.

mod delivery;
pub mod delivery_log;
pub mod email;
pub mod formats;
pub mod json;

pub use delivery::{DeliveryFailure, RetryPolicy, RETRY_BUDGET};

use delivery::Sender;
use outcry_proto::v1::Escalation;
use outcry_proto::Message as _;
use outcry_runtime::config::{NotifierConfig, WebhookConfig, WebhookFormat};
use outcry_runtime::pipeline::{self, Output, PipelineSpec, Processor, Record, Reject};
use outcry_runtime::{time::now_millis, Config, Shutdown};
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

mod names {
    pub const DELIVERIES: &str = "outcry_notifier_deliveries_total";
    pub const ATTEMPTS: &str = "outcry_notifier_delivery_attempts_total";
    pub const DELIVERY_SECONDS: &str = "outcry_notifier_delivery_seconds";
    pub const END_TO_END_SECONDS: &str = "outcry_notifier_end_to_end_seconds";
    pub const SKIPPED: &str = "outcry_notifier_deliveries_skipped_total";
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
    describe_counter!(
        names::SKIPPED,
        "escalation records not delivered again, by webhook: the delivery log says the webhook accepted them (a replay after a restart or a rebalance)"
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
    #[error(transparent)]
    DeliveryLog(#[from] delivery_log::LoadError),
    #[error("email webhook {webhook}: {detail}")]
    Relay { webhook: String, detail: String },
}

/// `outcome` labels of `deliveries_total`.
const DELIVERED: &str = "delivered";
const FAILED: &str = "failed";

/// Every reason the notifier puts on a dead letter.
const DECODE_ERROR: &str = "decode_error";
const DELIVERY_FAILED: &str = "delivery_failed";
const DEAD_LETTER_REASONS: &[&str] = &[DECODE_ERROR, DELIVERY_FAILED];

/// Delivers escalations to webhooks. Holds no Kafka: the pipeline feeds it records.
pub struct Notifier {
    sender: Sender,
    webhooks: Vec<WebhookConfig>,
    /// where deliveries are logged (see [`delivery_log`]); none: not logged
    log_topic: Option<Arc<str>>,
    /// deliveries logged, read back at start and added to as they are made
    delivered: outcry_runtime::dedup::DedupWindow,
}

impl Notifier {
    pub fn new(config: &NotifierConfig) -> Result<Notifier, NotifierError> {
        describe_metrics();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.request_timeout_ms))
            .user_agent(concat!("outcry-notifier/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(NotifierError::Client)?;
        // every series at 0 from the start, so that increase() sees the first failure
        // after a restart
        for hook in &config.webhooks {
            for outcome in [DELIVERED, FAILED] {
                metrics::counter!(names::DELIVERIES, "webhook" => hook.name.clone(), "outcome" => outcome).increment(0);
            }
            for result in delivery::ATTEMPT_RESULTS {
                metrics::counter!(names::ATTEMPTS, "webhook" => hook.name.clone(), "result" => result).increment(0);
            }
            metrics::counter!(names::SKIPPED, "webhook" => hook.name.clone()).increment(0);
        }
        let relays = config
            .webhooks
            .iter()
            .filter(|hook| hook.format == WebhookFormat::Email)
            .map(|hook| {
                email::Relay::new(hook)
                    .map(|relay| (hook.name.clone(), relay))
                    .map_err(|detail| NotifierError::Relay {
                        webhook: hook.name.clone(),
                        detail,
                    })
            })
            .collect::<Result<HashMap<_, _>, _>>()?;
        Ok(Notifier {
            sender: Sender {
                client,
                policy: RetryPolicy::from_config(config),
                smtp_timeout: Duration::from_millis(config.request_timeout_ms),
                relays: Arc::new(relays),
                jitter: RandomState::new(),
            },
            webhooks: config.webhooks.clone(),
            log_topic: None,
            delivered: outcry_runtime::dedup::DedupWindow::new(1),
        })
    }

    /// Logs each delivery to `topic` (an output of the record), and skips the deliveries
    /// `delivered` lists: see [`delivery_log`].
    pub fn with_delivery_log(
        mut self,
        topic: &str,
        delivered: outcry_runtime::dedup::DedupWindow,
    ) -> Notifier {
        self.log_topic = Some(topic.into());
        self.delivered = delivered;
        self
    }

    /// Posts `body` to one webhook until it answers 2xx, a non-retriable 4xx, attempts
    /// run out, or the next wait would not fit in [`RETRY_BUDGET`].
    pub async fn deliver(
        &self,
        hook: &WebhookConfig,
        idempotency_key: &str,
        body: &serde_json::Value,
    ) -> Result<u32, DeliveryFailure> {
        self.sender.deliver(hook, idempotency_key, body).await
    }

    /// Delivers to every webhook at once, so that a failing one neither keeps the others
    /// from the escalation nor makes them wait for its retries. Any failure rejects the
    /// record once, naming every webhook that failed; the ones that succeeded deduplicate
    /// a replay of the dead letter on the `Idempotency-Key`.
    async fn deliver_all(&mut self, escalation: &Escalation) -> Result<Vec<Output>, Reject> {
        let outcry = Arc::new(json::escalation_json(escalation));
        let key: Arc<str> = escalation.escalation_id.as_str().into();
        let mut deliveries = JoinSet::new();
        for (index, hook) in self.webhooks.iter().enumerate() {
            if self.log_topic.is_some()
                && self
                    .delivered
                    .contains(&delivery_log::key(&hook.name, &escalation.escalation_id))
            {
                metrics::counter!(names::SKIPPED, "webhook" => hook.name.clone()).increment(1);
                continue;
            }
            let body = match hook.format {
                WebhookFormat::Outcry => outcry.clone(),
                _ => Arc::new(formats::body(hook, escalation, &outcry)),
            };
            let (sender, hook, key) = (self.sender.clone(), hook.clone(), key.clone());
            deliveries.spawn(async move {
                let started = Instant::now();
                let result = sender.deliver(&hook, &key, &body).await;
                // when this webhook answered, not when the slowest one did
                (index, started.elapsed(), now_millis(), result)
            });
        }
        let mut results = deliveries.join_all().await;
        results.sort_by_key(|(index, ..)| *index);
        let mut failed = Vec::new();
        let mut attempts = 0;
        let mut logged = Vec::new();
        for (index, elapsed, answered_at, result) in results {
            let hook = &self.webhooks[index];
            match result {
                Ok(tries) => {
                    if let Some(topic) = &self.log_topic {
                        let log_key = delivery_log::key(&hook.name, &escalation.escalation_id);
                        self.delivered.insert(&log_key);
                        let record = outcry_proto::v1::Delivery {
                            escalation_id: escalation.escalation_id.clone(),
                            case_id: escalation.case_id.clone(),
                            webhook: hook.name.clone(),
                            delivered_at: Some(outcry_proto::timestamp_from_millis(answered_at)),
                            attempts: tries,
                        };
                        logged.push(Output {
                            topic: topic.clone(),
                            partition: None,
                            key: log_key.into_bytes(),
                            payload: record.encode_to_vec(),
                        });
                    }
                    metrics::counter!(names::DELIVERIES, "webhook" => hook.name.clone(), "outcome" => DELIVERED).increment(1);
                    metrics::histogram!(names::DELIVERY_SECONDS, "webhook" => hook.name.clone())
                        .record(elapsed.as_secs_f64());
                    let received = outcry_proto::millis_from_timestamp(
                        escalation.trigger_received_at.as_ref(),
                    );
                    if received > 0 {
                        let seconds = (answered_at - received).max(0) as f64 / 1000.0;
                        metrics::histogram!(names::END_TO_END_SECONDS).record(seconds);
                    }
                }
                Err(failure) => {
                    metrics::counter!(names::DELIVERIES, "webhook" => hook.name.clone(), "outcome" => FAILED).increment(1);
                    tracing::warn!(webhook = %hook.name, case_id = %escalation.case_id, attempts = failure.attempts, detail = %failure.detail, "webhook delivery failed for good");
                    attempts = attempts.max(failure.attempts);
                    failed.push(format!(
                        "webhook {} after {} attempt(s): {}",
                        hook.name, failure.attempts, failure.detail
                    ));
                }
            }
        }
        if failed.is_empty() {
            return Ok(logged);
        }
        Err(Reject {
            reason: DELIVERY_FAILED,
            detail: failed.join("; "),
            attempts,
        })
    }
}

impl Processor for Notifier {
    async fn process(&mut self, record: &Record<'_>) -> Result<Vec<Output>, Reject> {
        let escalation = Escalation::decode(record.payload)
            .map_err(|e| Reject::new(DECODE_ERROR, format!("not an outcry.v1.Escalation: {e}")))?;
        self.deliver_all(&escalation).await
    }

    fn dead_letter_reasons(&self) -> &'static [&'static str] {
        DEAD_LETTER_REASONS
    }
}

/// Consumes the escalations topic and notifies until shutdown.
pub async fn run(config: Config, shutdown: Shutdown) -> Result<(), NotifierError> {
    let topic = config.kafka.topics.deliveries.clone();
    let kafka = config.kafka.clone();
    let loading = tokio::task::spawn_blocking(move || {
        delivery_log::load(&kafka, &topic, Duration::from_secs(60))
    });
    let delivered = match loading.await {
        Ok(loaded) => loaded?,
        Err(failed) => std::panic::resume_unwind(failed.into_panic()),
    };
    tracing::info!(
        deliveries = delivered.len(),
        topic = %config.kafka.topics.deliveries,
        "delivery log read"
    );
    let notifier = Notifier::new(&config.notifier)?
        .with_delivery_log(&config.kafka.topics.deliveries, delivered);
    if config.notifier.webhooks.is_empty() {
        tracing::warn!("no webhooks configured: escalations are consumed and counted only");
    }
    let spec = PipelineSpec::new(&config, "notifier", &config.kafka.topics.escalations);
    pipeline::run(&config.kafka, spec, notifier, shutdown).await?;
    Ok(())
}

#[cfg(test)]
mod tests;

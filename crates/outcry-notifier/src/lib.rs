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
mod tests {
    use super::*;
    use axum::http::StatusCode;
    use axum::response::{IntoResponse, Response};
    use axum::routing::post;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// A real HTTP server on loopback; `respond` answers its `n`th request (from 1).
    async fn serve<F>(respond: F) -> (String, Arc<AtomicU32>)
    where
        F: Fn(u32) -> Response + Clone + Send + Sync + 'static,
    {
        let hits = Arc::new(AtomicU32::new(0));
        let counter = hits.clone();
        let app = axum::Router::new().route(
            "/hook",
            post(move || {
                let (counter, respond) = (counter.clone(), respond.clone());
                async move { respond(counter.fetch_add(1, Ordering::SeqCst) + 1) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (url, hits)
    }

    /// A loopback receiver that fails the first `fail_first` requests with `status`.
    async fn receiver(fail_first: u32, status: StatusCode) -> (String, Arc<AtomicU32>) {
        serve(move |n| {
            if n <= fail_first {
                status.into_response()
            } else {
                StatusCode::NO_CONTENT.into_response()
            }
        })
        .await
    }

    fn config(hooks: &[(&str, &str)], max_attempts: u32) -> NotifierConfig {
        NotifierConfig {
            webhooks: hooks
                .iter()
                .map(|(name, url)| WebhookConfig {
                    name: (*name).into(),
                    url: (*url).into(),
                    ..Default::default()
                })
                .collect(),
            max_attempts,
            initial_backoff_ms: 1,
            max_backoff_ms: 5,
            request_timeout_ms: 2_000,
        }
    }

    fn notifier(url: &str, max_attempts: u32) -> Notifier {
        Notifier::new(&config(&[("crm", url)], max_attempts)).unwrap()
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

    /// A real HTTP server on loopback that keeps every JSON body it is posted, per path.
    async fn capture() -> (
        String,
        Arc<std::sync::Mutex<Vec<(String, serde_json::Value)>>>,
    ) {
        type Bodies = Arc<std::sync::Mutex<Vec<(String, serde_json::Value)>>>;
        let bodies: Bodies = Arc::default();
        let kept = bodies.clone();
        let app = axum::Router::new().route(
            "/{hook}",
            post(
                move |axum::extract::Path(hook): axum::extract::Path<String>,
                      axum::Json(body): axum::Json<serde_json::Value>| {
                    let kept = kept.clone();
                    async move {
                        kept.lock().unwrap().push((hook, body));
                        StatusCode::ACCEPTED
                    }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (base, bodies)
    }

    #[tokio::test]
    async fn each_webhook_gets_the_body_of_its_format() {
        use outcry_proto::v1::{CaseState, Priority};
        let (base, bodies) = capture().await;
        let hook = |name: &str, format| WebhookConfig {
            name: name.into(),
            url: format!("{base}/{name}"),
            format,
            routing_key: "key-1".into(),
            ..Default::default()
        };
        let mut cfg = config(&[], 2);
        cfg.webhooks = vec![
            hook("crm", WebhookFormat::Outcry),
            hook("slack", WebhookFormat::Slack),
            hook("pager", WebhookFormat::Pagerduty),
            hook("am", WebhookFormat::Alertmanager),
        ];
        let mut n = Notifier::new(&cfg).unwrap();
        for (sequence, state) in [(1, CaseState::Open), (2, CaseState::Resolved)] {
            let payload = Escalation {
                escalation_id: format!("c1:{sequence}"),
                case_id: "c1".into(),
                sequence,
                state: state as i32,
                priority: Priority::P2 as i32,
                team: "care".into(),
                summary: "Acme: <b>outage</b>".into(),
                ..Default::default()
            }
            .encode_to_vec();
            n.process(&record(&payload)).await.unwrap();
        }
        let bodies = bodies.lock().unwrap().clone();
        let of = |hook: &str| -> Vec<serde_json::Value> {
            bodies
                .iter()
                .filter(|(h, _)| h == hook)
                .map(|(_, b)| b.clone())
                .collect()
        };
        let crm = of("crm");
        assert_eq!(crm.len(), 2);
        assert_eq!(crm[0]["escalation_id"], "c1:1");
        let slack = of("slack");
        assert!(
            slack[0]["text"]
                .as_str()
                .unwrap()
                .contains("Acme: &lt;b&gt;outage&lt;/b&gt;"),
            "{slack:?}"
        );
        let pager = of("pager");
        assert_eq!(
            pager
                .iter()
                .map(|b| (b["event_action"].clone(), b["dedup_key"].clone()))
                .collect::<Vec<_>>(),
            [
                (serde_json::json!("trigger"), serde_json::json!("c1")),
                (serde_json::json!("resolve"), serde_json::json!("c1"))
            ]
        );
        assert_eq!(pager[0]["payload"]["custom_details"], crm[0]);
        let am = of("am");
        assert_eq!(am.len(), 2);
        assert_eq!(am[0][0]["labels"], am[1][0]["labels"]);
        assert_eq!(am[1][0]["annotations"]["state"], "resolved");
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

    #[tokio::test]
    async fn a_failing_webhook_does_not_keep_the_others_from_the_escalation() {
        let (crm, crm_hits) = receiver(100, StatusCode::UNPROCESSABLE_ENTITY).await;
        let (pager, pager_hits) = receiver(0, StatusCode::OK).await;
        let mut n = Notifier::new(&config(&[("crm", &crm), ("pager", &pager)], 3)).unwrap();
        let payload = Escalation {
            escalation_id: "e1".into(),
            ..Default::default()
        }
        .encode_to_vec();
        let reject = n.process(&record(&payload)).await.unwrap_err();
        assert_eq!(pager_hits.load(Ordering::SeqCst), 1);
        assert_eq!(crm_hits.load(Ordering::SeqCst), 1);
        assert_eq!(reject.reason, "delivery_failed");
        assert_eq!(reject.attempts, 1);
        assert_eq!(
            reject.detail,
            "webhook crm after 1 attempt(s): http status 422 Unprocessable Entity"
        );
    }

    #[tokio::test]
    async fn one_dead_letter_names_every_webhook_that_failed() {
        let (crm, _) = receiver(100, StatusCode::UNPROCESSABLE_ENTITY).await;
        let (pager, _) = receiver(0, StatusCode::OK).await;
        let (audit, audit_hits) = receiver(100, StatusCode::BAD_GATEWAY).await;
        let hooks = [("crm", crm.as_str()), ("pager", &pager), ("audit", &audit)];
        let mut n = Notifier::new(&config(&hooks, 2)).unwrap();
        let reject = n
            .process(&record(&Escalation::default().encode_to_vec()))
            .await
            .unwrap_err();
        assert_eq!(audit_hits.load(Ordering::SeqCst), 2);
        assert_eq!(reject.attempts, 2);
        assert_eq!(
            reject.detail,
            "webhook crm after 1 attempt(s): http status 422 Unprocessable Entity; \
             webhook audit after 2 attempt(s): http status 502 Bad Gateway"
        );
    }

    /// Answers 429 `Retry-After: <secs>` to every request sooner than `secs` after its
    /// first 429, and 204 after that: it counts an early retry as one more refusal.
    async fn rate_limited(secs: u64) -> (String, Arc<AtomicU32>) {
        let first = Arc::new(std::sync::Mutex::new(None::<Instant>));
        serve(move |_| {
            let mut first = first.lock().unwrap();
            let since = first.get_or_insert_with(Instant::now).elapsed();
            if since >= Duration::from_secs(secs) {
                StatusCode::NO_CONTENT.into_response()
            } else {
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    [("retry-after", secs.to_string())],
                )
                    .into_response()
            }
        })
        .await
    }

    #[tokio::test]
    async fn retry_after_above_max_backoff_is_waited_for() {
        let (url, hits) = rate_limited(1).await;
        // max_backoff is 5 ms: three attempts capped to it all land inside the second
        let mut n = notifier(&url, 3);
        let payload = Escalation::default().encode_to_vec();
        let processed = tokio::time::timeout(Duration::from_secs(30), n.process(&record(&payload)))
            .await
            .expect("delivery within the bound");
        assert!(processed.is_ok(), "{processed:?}");
        assert_eq!(hits.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn retry_after_beyond_the_budget_gives_up_at_once() {
        let (url, hits) = rate_limited(3600).await;
        let mut n = notifier(&url, 5);
        let payload = Escalation::default().encode_to_vec();
        let reject = tokio::time::timeout(Duration::from_secs(30), n.process(&record(&payload)))
            .await
            .expect("no hour-long wait")
            .unwrap_err();
        assert_eq!(hits.load(Ordering::SeqCst), 1);
        assert_eq!(reject.reason, "delivery_failed");
        assert_eq!(
            reject.detail,
            "webhook crm after 1 attempt(s): http status 429 Too Many Requests; retry-after \
             3600s exceeds what is left of the 120s retry budget"
        );
    }

    #[test]
    fn delivery_series_exist_at_zero_before_any_delivery() {
        // the process-wide recorder, the one the admin endpoint renders
        let handle = outcry_runtime::telemetry::metrics_handle();
        let _n = Notifier::new(&config(&[("zero-series", "http://127.0.0.1:9/hook")], 3)).unwrap();
        let text = handle.render();
        let value = |series: &str| -> f64 {
            outcry_runtime::telemetry::sample_value(&text, series)
                .unwrap_or_else(|| panic!("no {series} in:\n{text}"))
        };
        for outcome in ["delivered", "failed"] {
            let series = format!(
                r#"outcry_notifier_deliveries_total{{webhook="zero-series",outcome="{outcome}"}}"#
            );
            assert_eq!(value(&series), 0.0, "{series}");
        }
        for result in ["2xx", "4xx", "5xx", "error"] {
            let series = format!(
                r#"outcry_notifier_delivery_attempts_total{{webhook="zero-series",result="{result}"}}"#
            );
            assert_eq!(value(&series), 0.0, "{series}");
        }
    }

    #[tokio::test]
    async fn every_dead_letter_reason_is_declared_to_the_pipeline() {
        let (url, _) = receiver(100, StatusCode::UNPROCESSABLE_ENTITY).await;
        let mut n = notifier(&url, 1);
        let undecodable = n.process(&record(b"\xff\xff\xff")).await.unwrap_err();
        let undelivered = n
            .process(&record(&Escalation::default().encode_to_vec()))
            .await
            .unwrap_err();
        assert_eq!(
            n.dead_letter_reasons(),
            &[undecodable.reason, undelivered.reason]
        );
    }
}

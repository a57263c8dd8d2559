//! One escalation to one webhook: the HTTP (or SMTP) attempts, the retry schedule and its
//! budget.

use crate::names;
use outcry_runtime::config::{NotifierConfig, WebhookConfig, WebhookFormat};
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::time::Duration;

/// Longest one delivery waits in total between its attempts, `Retry-After` included. The
/// pipeline does not poll Kafka while a record is processed, so this (plus every attempt's
/// request timeout) has to stay well inside librdkafka's `max.poll.interval.ms` (300 s by
/// default), past which the consumer is dropped from its group.
pub const RETRY_BUDGET: Duration = Duration::from_secs(120);

/// Results of one HTTP attempt, the `result` label of `delivery_attempts_total`.
pub(crate) const ATTEMPT_RESULTS: [&str; 4] = ["2xx", "4xx", "5xx", "error"];

/// Retry schedule for one delivery.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// Total wait between attempts; [`RETRY_BUDGET`] in service.
    pub budget: Duration,
}

impl RetryPolicy {
    pub(crate) fn from_config(c: &NotifierConfig) -> Self {
        RetryPolicy {
            max_attempts: c.max_attempts,
            initial_backoff: Duration::from_millis(c.initial_backoff_ms),
            max_backoff: Duration::from_millis(c.max_backoff_ms),
            budget: RETRY_BUDGET,
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

    /// The wait before attempt `attempt + 1`, `waited` having been spent already: what the
    /// receiver asked for in `Retry-After` (however far above `max_backoff`), else the
    /// backoff. `None` when that does not fit in what is left of the budget: the delivery
    /// then gives up rather than retry sooner than the receiver asked.
    pub fn next_wait(
        &self,
        attempt: u32,
        waited: Duration,
        retry_after: Option<Duration>,
        jitter_seed: u64,
    ) -> Option<Duration> {
        let wait = retry_after.unwrap_or_else(|| self.backoff(attempt, jitter_seed));
        (waited.saturating_add(wait) <= self.budget).then_some(wait)
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

/// What a delivery needs besides the webhook and the body; cheap to clone into a task.
#[derive(Clone)]
pub(crate) struct Sender {
    pub(crate) client: reqwest::Client,
    pub(crate) policy: RetryPolicy,
    /// One SMTP transaction's limit (the HTTP client's request timeout for webhooks).
    pub(crate) smtp_timeout: Duration,
    /// The relay of each email webhook, by webhook name.
    pub(crate) relays: Arc<HashMap<String, crate::email::Relay>>,
    /// Randomly keyed once per notifier, so that notifiers (and escalations) do not share
    /// a jitter sequence.
    pub(crate) jitter: std::collections::hash_map::RandomState,
}

impl Sender {
    /// Seeds the jitter of the retry after `attempt` of the delivery of `idempotency_key`.
    pub(crate) fn jitter_seed(&self, idempotency_key: &str, attempt: u32) -> u64 {
        self.jitter.hash_one((idempotency_key, attempt))
    }

    /// Posts `body` to one webhook until it answers 2xx, a non-retriable 4xx, attempts run
    /// out, or the next wait would not fit in the retry budget.
    pub(crate) async fn deliver(
        &self,
        hook: &WebhookConfig,
        idempotency_key: &str,
        body: &serde_json::Value,
    ) -> Result<u32, DeliveryFailure> {
        let mut attempt = 0;
        let mut waited = Duration::ZERO;
        loop {
            attempt += 1;
            if hook.format == WebhookFormat::Email {
                let message = body.as_str().unwrap_or_default();
                let sent = match self.relays.get(&hook.name) {
                    Some(relay) => {
                        crate::email::send(relay, hook, message, self.smtp_timeout).await
                    }
                    // not reachable: the notifier prepares a relay for every email webhook
                    None => Err(crate::email::SmtpFailure {
                        code: None,
                        detail: format!("no relay prepared for webhook {}", hook.name),
                        permanent: true,
                    }),
                };
                match sent {
                    Ok(()) => {
                        metrics::counter!(names::ATTEMPTS, "webhook" => hook.name.clone(), "result" => "2xx").increment(1);
                        return Ok(attempt);
                    }
                    Err(failure) => {
                        let outcome = (failure.label(), failure.transient(), failure.detail, None);
                        match self
                            .after_failure(hook, idempotency_key, attempt, &mut waited, outcome)
                            .await
                        {
                            Some(done) => return Err(done),
                            None => continue,
                        }
                    }
                }
            }
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
                    // delta-seconds only; an HTTP-date falls back to the backoff
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
            let outcome = (label, retriable, detail, retry_after);
            if let Some(done) = self
                .after_failure(hook, idempotency_key, attempt, &mut waited, outcome)
                .await
            {
                return Err(done);
            }
        }
    }

    /// Counts a failed attempt (`result` label, retriable, detail, `Retry-After`), then
    /// either waits for the next one (`None`) or says why the delivery fails for good.
    async fn after_failure(
        &self,
        hook: &WebhookConfig,
        idempotency_key: &str,
        attempt: u32,
        waited: &mut Duration,
        (label, retriable, detail, retry_after): (&'static str, bool, String, Option<Duration>),
    ) -> Option<DeliveryFailure> {
        metrics::counter!(names::ATTEMPTS, "webhook" => hook.name.clone(), "result" => label)
            .increment(1);
        if !retriable || attempt >= self.policy.max_attempts {
            return Some(DeliveryFailure {
                attempts: attempt,
                detail,
            });
        }
        let seed = self.jitter_seed(idempotency_key, attempt);
        let Some(wait) = self.policy.next_wait(attempt, *waited, retry_after, seed) else {
            let asked = match retry_after {
                Some(after) => format!("retry-after {}s", after.as_secs()),
                None => "the next backoff".to_string(),
            };
            return Some(DeliveryFailure {
                attempts: attempt,
                detail: format!(
                    "{detail}; {asked} exceeds what is left of the {}s retry budget",
                    self.policy.budget.as_secs()
                ),
            });
        };
        *waited += wait;
        tracing::debug!(webhook = %hook.name, attempt, ?wait, %detail, "webhook delivery failed, retrying");
        tokio::time::sleep(wait).await;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 9,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
            budget: Duration::from_secs(120),
        }
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = policy();
        let b1 = p.backoff(1, 1);
        let b3 = p.backoff(3, 1);
        assert!(b1 <= Duration::from_millis(100) && b1 >= Duration::from_millis(75));
        assert!(b3 <= Duration::from_millis(400) && b3 >= Duration::from_millis(300));
        assert!(p.backoff(12, 1) <= Duration::from_millis(1000));
    }

    #[test]
    fn escalations_with_ids_of_one_length_retry_at_different_times() {
        let sender = Sender {
            client: reqwest::Client::new(),
            policy: policy(),
            smtp_timeout: Duration::from_secs(1),
            relays: Default::default(),
            jitter: Default::default(),
        };
        for attempt in 1..=3 {
            let base = Duration::from_millis(100 << (attempt - 1));
            let delays: std::collections::BTreeSet<Duration> = (0..20)
                .map(|i| format!("acme-air:case-{i:02}:1"))
                .map(|key| {
                    let delay = sender
                        .policy
                        .backoff(attempt, sender.jitter_seed(&key, attempt));
                    assert!(
                        delay <= base && delay >= base.mul_f64(0.75),
                        "attempt {attempt}: {delay:?} outside 75-100% of {base:?}"
                    );
                    delay
                })
                .collect();
            // 20 keys into 1000 jitter steps: a few may collide, not most
            assert!(delays.len() >= 15, "attempt {attempt}: {delays:?}");
        }
    }

    #[test]
    fn retry_after_is_honoured_above_max_backoff_within_the_budget() {
        let p = policy();
        let sixty = Duration::from_secs(60);
        assert_eq!(p.next_wait(1, Duration::ZERO, Some(sixty), 1), Some(sixty));
        assert_eq!(
            p.next_wait(2, Duration::from_secs(60), Some(sixty), 1),
            Some(sixty)
        );
        // a third minute would pass the two-minute budget: give up, do not retry early
        assert_eq!(
            p.next_wait(3, Duration::from_secs(120), Some(sixty), 1),
            None
        );
        assert_eq!(
            p.next_wait(1, Duration::ZERO, Some(Duration::from_secs(3600)), 1),
            None
        );
        // no retry-after: the backoff, which stays within max_backoff
        let wait = p.next_wait(1, Duration::ZERO, None, 1).unwrap();
        assert!(wait <= Duration::from_millis(100), "{wait:?}");
    }
}

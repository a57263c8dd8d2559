//! The sections of each service: ingestor, scorer, router, notifier and its webhooks.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestorConfig {
    /// Where `POST /v1/mentions` is served. Use `0.0.0.0:8080` in a pod.
    pub listen: SocketAddr,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Largest accepted NDJSON batch, in lines.
    pub max_batch: usize,
    /// Bearer tokens accepted; empty disables authentication.
    pub auth_tokens: Vec<String>,
    /// Mention ids remembered to drop re-sent duplicates.
    pub dedup_capacity: usize,
    /// Seconds a client is told to wait after a 503.
    pub retry_after_secs: u64,
    /// Requests served at once; past it, 503 with `Retry-After` before the body is read.
    pub max_concurrent_requests: usize,
}

impl Default for IngestorConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_body_bytes: 4 * 1024 * 1024,
            max_batch: 5_000,
            auth_tokens: Vec::new(),
            dedup_capacity: 1_000_000,
            retry_after_secs: 5,
            max_concurrent_requests: 32,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScorerConfig {
    /// Complaint model file; the model shipped with Outcry when empty.
    pub model_path: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RouterConfig {
    /// Seconds during which further matching mentions from the same author and brand update
    /// the author's open case instead of opening another.
    pub case_window_secs: u64,
    /// Mention ids kept on a case as samples.
    pub max_samples: usize,
    /// Keeping the brands' state (detector baselines, open cases, seen mention ids) across
    /// restarts and rebalances.
    pub state: RouterStateConfig,
}

impl Default for RouterConfig {
    fn default() -> Self {
        Self {
            case_window_secs: 6 * 3600,
            max_samples: 10,
            state: RouterStateConfig::default(),
        }
    }
}

/// How the router keeps its state: it snapshots the brands of each input partition to
/// `kafka.topics.router_state` every `checkpoint_secs`, and a router that is assigned a
/// partition loads the newest snapshot its committed offset has passed, then replays the
/// scored mentions between the two without writing anything.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RouterStateConfig {
    /// Off: every restart or rebalance starts the partition's brands afresh.
    pub enabled: bool,
    /// Seconds between snapshots of a partition (wall clock, taken with the record that
    /// passes the mark, so an idle partition writes none).
    pub checkpoint_secs: u64,
    /// Records of a partition after which a snapshot is taken even if `checkpoint_secs` have
    /// not passed: what bounds the replay of a busy partition.
    pub checkpoint_records: u64,
    /// Scored mentions replayed at most when a partition is assigned; with no snapshot to
    /// start from (the first start, or a state topic emptied), the last this many before the
    /// committed offset rebuild the baselines.
    pub max_replay: u64,
    /// Seconds each of a restore's two reads (the snapshot, the replay) may take; past them
    /// the partition goes on with what was restored, counted in
    /// `outcry_router_state_restores_total{result="failed"}`. The router does not poll the
    /// group while it restores, so twice this must stay under the consumer's
    /// `max.poll.interval.ms` (300 s by default), or the group takes its partitions away.
    pub restore_timeout_secs: u64,
}

impl Default for RouterStateConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            checkpoint_secs: 60,
            checkpoint_records: 100_000,
            max_replay: 1_000_000,
            restore_timeout_secs: 100,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifierConfig {
    /// Webhooks that receive every escalation as JSON.
    pub webhooks: Vec<WebhookConfig>,
    /// Attempts per delivery before it becomes a dead letter.
    pub max_attempts: u32,
    pub initial_backoff_ms: u64,
    pub max_backoff_ms: u64,
    pub request_timeout_ms: u64,
}

impl Default for NotifierConfig {
    fn default() -> Self {
        Self {
            webhooks: Vec::new(),
            max_attempts: 5,
            initial_backoff_ms: 200,
            max_backoff_ms: 10_000,
            request_timeout_ms: 5_000,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookConfig {
    /// Short name, used as a metric label.
    pub name: String,
    pub url: String,
    /// Extra request headers (for example an authorization header).
    pub headers: BTreeMap<String, String>,
    /// What the webhook receives.
    pub format: WebhookFormat,
    /// PagerDuty's integration (routing) key, for `format: pagerduty`; better set from a
    /// Secret through `OUTCRY__NOTIFIER__WEBHOOKS__<n>__ROUTING_KEY` than in the file.
    pub routing_key: String,
    /// For `format: email`: the sender and the recipients (plain addresses).
    pub from: String,
    pub to: Vec<String>,
    /// For `format: email` over `smtp://`: upgrade the connection with STARTTLS before
    /// anything else is sent, and fail (not fall back to plain text) when the relay does
    /// not offer it. `smtps://` is TLS from the first byte and needs no flag.
    pub starttls: bool,
    /// For `format: email`: SMTP AUTH (PLAIN, or LOGIN when that is all the relay offers),
    /// only over TLS. Better set the password from a Secret through
    /// `OUTCRY__NOTIFIER__WEBHOOKS__<n>__PASSWORD` than in the file.
    pub username: String,
    pub password: String,
    /// For `format: email` over TLS: a PEM file of the CA certificates to trust for the
    /// relay (a private CA), instead of the public web roots Outcry ships.
    pub ca_file: String,
}

/// The body a webhook is sent for each escalation record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookFormat {
    /// The whole escalation as Outcry's JSON: CRMs and in-house receivers.
    #[default]
    Outcry,
    /// A Slack incoming webhook: one message per record.
    Slack,
    /// PagerDuty's Events API v2: one incident per case (`dedup_key` is the case id),
    /// triggered while it is open and resolved with it.
    Pagerduty,
    /// Alertmanager's API v2 (`POST /api/v2/alerts`): one alert per case, ended when the
    /// case resolves.
    Alertmanager,
    /// An email through an SMTP relay (`url: smtp://relay:25`), one per record.
    Email,
}

/// Whether `address` is a plain mail address Outcry can put in an envelope and a header:
/// `local@domain`, no spaces, angle brackets or control characters.
pub(super) fn valid_mail_address(address: &str) -> bool {
    let Some((local, domain)) = address.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && address.len() <= 254
        && !domain.contains('@')
        && address
            .chars()
            .all(|c| !c.is_control() && !c.is_whitespace() && !matches!(c, '<' | '>' | ',' | '"'))
}

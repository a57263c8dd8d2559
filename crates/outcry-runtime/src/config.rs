//! The configuration schema shared by every service, loaded from one YAML file with
//! environment overrides and validated at start.
//!
//! One file describes a whole deployment; each service reads the sections it needs, so a
//! platform team can mount the same ConfigMap into every pod. Unknown keys are errors, so a
//! typo is caught at start instead of silently falling back to a default.
//!
//! Environment overrides: `OUTCRY__<SECTION>__<KEY>=value`, for example
//! `OUTCRY__KAFKA__BROKERS=kafka:9092` or `OUTCRY__TELEMETRY__LOG_FORMAT=json`. A value for a
//! key that holds a string (`kafka.client_id`, any `kafka.properties` entry) is taken as it
//! is, so `OUTCRY__KAFKA__CLIENT_ID=007` stays `007`; any other value is read as a YAML scalar
//! (or flow collection), so numbers, booleans and `[a, b]` lists work. A number in the path
//! picks an entry of a list the file already has, so a secret can come from the environment
//! (a Kubernetes Secret) and stay out of the ConfigMap:
//! `OUTCRY__NOTIFIER__WEBHOOKS__0__HEADERS__AUTHORIZATION=Bearer ...` sets the first webhook's
//! `Authorization` header (header names match whatever their case). In the file, a number or
//! boolean where a string is wanted (`linger.ms: 20` in `kafka.properties`) is read as its
//! text.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

mod overrides;
mod services;
mod validate;

use overrides::{apply_override, parse, parse_error};
pub use services::{
    IngestorConfig, NotifierConfig, RouterConfig, RouterStateConfig, ScorerConfig, WebhookConfig,
    WebhookFormat,
};

/// Prefix of environment variables that override the file.
pub const ENV_PREFIX: &str = "OUTCRY__";

/// A configuration that cannot be used, with the field at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid config: {0}")]
    Parse(String),
    #[error("invalid config: environment variable {var}: {reason}")]
    Env { var: String, reason: String },
    #[error("invalid config: {field}: {reason}")]
    Invalid { field: String, reason: String },
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

/// A whole deployment's configuration.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub kafka: KafkaConfig,
    pub telemetry: TelemetryConfig,
    pub shutdown: ShutdownConfig,
    /// The brands this deployment listens for, with their routing rules.
    pub brands: Vec<BrandConfig>,
    pub ingestor: IngestorConfig,
    pub scorer: ScorerConfig,
    pub router: RouterConfig,
    pub notifier: NotifierConfig,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaConfig {
    /// Bootstrap servers, `host:port[,host:port]`.
    pub brokers: String,
    pub client_id: String,
    /// Consumer groups are `<group_prefix>.<service>`.
    pub group_prefix: String,
    pub topics: Topics,
    /// How long the producer keeps trying one record before it reports failure.
    pub delivery_timeout_ms: u64,
    /// Records consumed but not yet acknowledged downstream, per service instance.
    pub max_in_flight: usize,
    /// Extra librdkafka properties (security.protocol, sasl.*, ...), passed through as is.
    pub properties: BTreeMap<String, String>,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        Self {
            brokers: "127.0.0.1:9092".into(),
            client_id: "outcry".into(),
            group_prefix: "outcry".into(),
            topics: Topics::default(),
            delivery_timeout_ms: 30_000,
            max_in_flight: 10_000,
            properties: BTreeMap::new(),
        }
    }
}

/// Topic names. Keys and value types are part of the contract (see the README).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Topics {
    /// `Mention`, keyed by mention id.
    pub mentions: String,
    /// `ScoredMention`, keyed by brand id.
    pub scored: String,
    /// `Escalation`, keyed by case id.
    pub escalations: String,
    /// `DeadLetter`, keyed by the original key.
    pub dead_letters: String,
    /// `Delivery`, keyed by `<webhook>/<escalation_id>`: the notifier's delivery log.
    pub deliveries: String,
    /// The router's state snapshots, compacted; partition `p` holds the snapshots of the
    /// brands on partition `p` of `scored`, so it needs at least as many partitions.
    pub router_state: String,
}

impl Default for Topics {
    fn default() -> Self {
        Self {
            mentions: "outcry.mentions.v1".into(),
            scored: "outcry.scored.v1".into(),
            escalations: "outcry.escalations.v1".into(),
            dead_letters: "outcry.deadletter.v1".into(),
            deliveries: "outcry.deliveries.v1".into(),
            router_state: "outcry.router-state.v1".into(),
        }
    }
}

impl Topics {
    /// The names, in contract order.
    pub fn all(&self) -> [&String; 6] {
        [
            &self.mentions,
            &self.scored,
            &self.escalations,
            &self.dead_letters,
            &self.deliveries,
            &self.router_state,
        ]
    }

    /// Whether `name` is one of the topics that are logs of a service's own state, read back
    /// by key (the delivery log, the router's snapshots): those are created compacted.
    pub fn is_compacted(&self, name: &str) -> bool {
        name == self.deliveries || name == self.router_state
    }

    /// Appends `suffix` to every name: a private set of topics for a test or a demo run.
    pub fn add_suffix(&mut self, suffix: &str) {
        for name in [
            &mut self.mentions,
            &mut self.scored,
            &mut self.escalations,
            &mut self.dead_letters,
            &mut self.deliveries,
            &mut self.router_state,
        ] {
            name.push_str(suffix);
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    pub log_format: LogFormat,
    /// A tracing filter, for example `info` or `info,outcry_router=debug`.
    pub log_level: String,
    /// Where `/metrics`, `/healthz` and `/readyz` are served. Use `0.0.0.0:9464` in a pod.
    pub admin_addr: SocketAddr,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            log_format: LogFormat::Text,
            log_level: "info".into(),
            admin_addr: SocketAddr::from(([127, 0, 0, 1], 9464)),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShutdownConfig {
    /// Upper bound on the drain after SIGTERM; keep it below the pod's grace period.
    pub drain_timeout_secs: u64,
}

impl Default for ShutdownConfig {
    fn default() -> Self {
        Self {
            drain_timeout_secs: 20,
        }
    }
}

/// A brand the deployment listens for.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BrandConfig {
    /// Stable id: lowercase letters, digits, `-` and `_`. Used as a key and a metric label.
    pub id: String,
    pub name: String,
    /// Case-insensitive words or handles that mark a mention as being about this brand,
    /// when the source did not say.
    pub keywords: Vec<String>,
    /// Team that owns this brand's cases unless a rule says otherwise.
    pub team: String,
    /// Rules, first match wins.
    pub rules: Vec<RuleConfig>,
    pub spike: SpikeRuleConfig,
}

/// One escalation rule: every condition that is set must hold.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RuleConfig {
    pub name: String,
    pub min_complaint_probability: Option<f64>,
    /// Highest VADER compound sentiment that matches (more negative is lower).
    pub max_compound: Option<f64>,
    pub min_followers: Option<u64>,
    /// Matches when any of these signals fired (empty: no signal condition).
    pub signals_any: Vec<String>,
    /// Team for cases from this rule; the brand's team when empty.
    pub team: Option<String>,
    /// 1 (most urgent) to 4.
    pub priority: u8,
    /// Minutes from opening to the first-answer deadline.
    pub sla_minutes: u32,
}

impl Default for RuleConfig {
    fn default() -> Self {
        Self {
            name: String::new(),
            min_complaint_probability: None,
            max_compound: None,
            min_followers: None,
            signals_any: Vec::new(),
            team: None,
            priority: 3,
            sla_minutes: 240,
        }
    }
}

/// Spike escalations for a brand.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpikeRuleConfig {
    pub enabled: bool,
    pub team: Option<String>,
    pub priority: u8,
    pub sla_minutes: u32,
    /// Detector settings; the shipped defaults suit 5-minute buckets (see docs/spikes.md).
    pub detector: outcry_spike::DetectorConfig,
}

impl Default for SpikeRuleConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            team: None,
            priority: 1,
            sla_minutes: 30,
            detector: outcry_spike::DetectorConfig::default(),
        }
    }
}

impl Config {
    /// Reads `path` (or starts from the defaults when `None`), applies the environment
    /// overrides in `env`, and validates the result.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut config = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.display().to_string(),
                    source,
                })?;
                parse(&text)?
            }
            None => Config::default(),
        };
        let mut env: Vec<_> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with(ENV_PREFIX))
            .collect();
        env.sort();
        if !env.is_empty() {
            // overrides apply to the parsed config, where every string is a string, so each
            // one can be read by the type of the value it replaces
            let mut doc =
                serde_yaml_ng::to_value(&config).map_err(|e| ConfigError::Parse(e.to_string()))?;
            for (var, value) in env {
                apply_override(&mut doc, &var, &value)?;
            }
            config = serde_path_to_error::deserialize(doc).map_err(parse_error)?;
        }
        config.validate()?;
        Ok(config)
    }

    /// Parses YAML text (no environment), then validates it.
    pub fn from_yaml(text: &str) -> Result<Config, ConfigError> {
        let config = parse(text)?;
        config.validate()?;
        Ok(config)
    }

    /// The brand with this id.
    pub fn brand(&self, id: &str) -> Option<&BrandConfig> {
        self.brands.iter().find(|b| b.id == id)
    }

    /// The consumer group of a service.
    pub fn group_id(&self, service: &str) -> String {
        format!("{}.{service}", self.kafka.group_prefix)
    }
}

#[cfg(test)]
mod tests;

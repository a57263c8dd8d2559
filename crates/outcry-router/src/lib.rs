//! The escalation router: consumes scored mentions (keyed by brand, so one instance owns a
//! brand's state), applies the brand's rules and spike detection, and writes `Escalation`
//! records keyed by case id.

pub mod core;

use crate::core::RouterCore;
use outcry_proto::v1::ScoredMention;
use outcry_proto::Message as _;
use outcry_runtime::pipeline::{self, Output, PipelineSpec, Processor, Record, Reject};
use outcry_runtime::{time::now_millis, Config, Shutdown};
use std::sync::Arc;

const END_TO_END_SECONDS: &str = "outcry_router_end_to_end_seconds";

#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    #[error("router pipeline failed")]
    Pipeline(#[from] pipeline::PipelineError),
    #[error(transparent)]
    Config(#[from] outcry_runtime::ConfigError),
}

/// Checks the config the router is given, each brand's detector settings included: a
/// config built in code has not been through the load's `Config::validate`.
pub fn check_config(config: &Config) -> Result<(), RouterError> {
    Ok(config.validate()?)
}

/// The router's record handler: decode, route, encode.
pub struct Router {
    core: RouterCore,
    topic: Arc<str>,
}

impl Router {
    pub fn new(config: &Config) -> Router {
        metrics::describe_histogram!(
            END_TO_END_SECONDS,
            metrics::Unit::Seconds,
            "time from the ingestor receiving a mention to the router writing its escalation"
        );
        Router {
            core: RouterCore::new(config),
            topic: config.kafka.topics.escalations.as_str().into(),
        }
    }

    /// Routes one encoded `ScoredMention` into encoded escalation records.
    pub fn handle(&mut self, payload: &[u8], now_ms: i64) -> Result<Vec<Output>, Reject> {
        let scored = ScoredMention::decode(payload).map_err(|e| {
            Reject::new(
                "decode_error",
                format!("not an outcry.v1.ScoredMention: {e}"),
            )
        })?;
        let records = self
            .core
            .route(&scored, now_ms)
            .map_err(|e| Reject::new(e.reason(), e.to_string()))?;
        Ok(records
            .into_iter()
            .map(|e| {
                let received = outcry_proto::millis_from_timestamp(e.trigger_received_at.as_ref());
                if received > 0 {
                    metrics::histogram!(END_TO_END_SECONDS)
                        .record((now_ms - received).max(0) as f64 / 1000.0);
                }
                Output {
                    topic: self.topic.clone(),
                    key: e.case_id.clone().into_bytes(),
                    payload: e.encode_to_vec(),
                }
            })
            .collect())
    }
}

/// Every reason the router dead-letters a record for, so that each reason's counter exists
/// at 0 from the start (see `Processor::dead_letter_reasons`).
pub const DEAD_LETTER_REASONS: &[&str] = &[
    "decode_error",
    "unknown_brand",
    "missing_field",
    "invalid_event_time",
];

impl Processor for Router {
    async fn process(&mut self, record: &Record<'_>) -> Result<Vec<Output>, Reject> {
        self.handle(record.payload, now_millis())
    }

    fn dead_letter_reasons(&self) -> &'static [&'static str] {
        DEAD_LETTER_REASONS
    }
}

/// Consumes scored mentions and writes escalations until shutdown.
pub async fn run(config: Config, shutdown: Shutdown) -> Result<(), RouterError> {
    check_config(&config)?;
    let router = Router::new(&config);
    let spec = PipelineSpec::new(&config, "router", &config.kafka.topics.scored);
    pipeline::run(&config.kafka, spec, router, shutdown).await?;
    Ok(())
}

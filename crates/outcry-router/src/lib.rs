//! The escalation router: consumes scored mentions (keyed by brand, so one instance owns a
//! brand's state), applies the brand's rules and spike detection, and writes `Escalation`
//! records keyed by case id.

pub mod core;
mod restore;
pub mod state;

use crate::core::RouterCore;
use crate::state::{KafkaStore, StateStore};
use outcry_proto::v1::ScoredMention;
use outcry_proto::Message as _;
use outcry_runtime::pipeline::{self, Output, PipelineSpec, Processor, Record, Reject};
use outcry_runtime::{time::now_millis, Config, Shutdown};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub use restore::state_topic_problems;
use restore::{brands_on, check_state_topic, describe_state_metrics, note_brand, restore};

const END_TO_END_SECONDS: &str = "outcry_router_end_to_end_seconds";
const RESTORES: &str = "outcry_router_state_restores_total";
const REPLAYED: &str = "outcry_router_state_replayed_total";
const SNAPSHOTS: &str = "outcry_router_state_snapshots_total";
const SNAPSHOT_BYTES: &str = "outcry_router_state_snapshot_bytes";
const RESTORE_SECONDS: &str = "outcry_router_state_restore_seconds";
/// Every `result` of a restore, exported at 0 from the start.
const RESTORE_RESULTS: [&str; 3] = ["snapshot", "replay", "failed"];

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

/// The router's record handler: decode, route, encode; and, with a [`StateStore`], snapshot
/// and restore the brands' state (see [`state`]).
pub struct Router {
    core: RouterCore,
    topic: Arc<str>,
    keeper: Option<Keeper>,
}

/// What the router keeps per input partition to snapshot and restore it.
struct Keeper {
    store: Arc<dyn StateStore>,
    topic: Arc<str>,
    checkpoint_ms: i64,
    checkpoint_records: u64,
    max_replay: u64,
    restore_timeout: Duration,
    chunk_bytes: usize,
    partitions: std::collections::BTreeMap<i32, Owned>,
    /// the input partition each brand was last routed from
    brand_partition: HashMap<String, i32>,
    /// the last (brand, partition) noted in `brand_partition`
    last_noted: Option<(String, i32)>,
}

/// A partition this router is routing.
struct Owned {
    /// the offset of the record expected next: any other means the partition was assigned
    /// afresh (a start, a rebalance) and its brands' state has to be restored
    next: i64,
    /// when the last snapshot (or the restore) was, on the wall clock
    last_snapshot_ms: i64,
    /// records routed since the last snapshot (or the restore)
    since_snapshot: u64,
    /// the slot the next snapshot goes to: never the one the last restore read
    slot: usize,
    /// false when the state topic has no such partition: nothing is written to it
    writable: bool,
}

fn decode(payload: &[u8]) -> Result<ScoredMention, Reject> {
    ScoredMention::decode(payload).map_err(|e| {
        Reject::new(
            "decode_error",
            format!("not an outcry.v1.ScoredMention: {e}"),
        )
    })
}

impl Router {
    /// A router whose state lives only as long as it does.
    pub fn new(config: &Config) -> Router {
        metrics::describe_histogram!(
            END_TO_END_SECONDS,
            metrics::Unit::Seconds,
            "time from the ingestor receiving a mention to the router writing its escalation"
        );
        Router {
            core: RouterCore::new(config),
            topic: config.kafka.topics.escalations.as_str().into(),
            keeper: None,
        }
    }

    /// A router that snapshots its state to `kafka.topics.router_state` and restores it from
    /// `store` when it is assigned a partition, as `router.state` says.
    pub fn with_state(config: &Config, store: Arc<dyn StateStore>) -> Router {
        let mut router = Router::new(config);
        describe_state_metrics();
        let settings = &config.router.state;
        router.keeper = Some(Keeper {
            store,
            topic: config.kafka.topics.router_state.as_str().into(),
            checkpoint_ms: i64::try_from(settings.checkpoint_secs.saturating_mul(1000))
                .unwrap_or(i64::MAX),
            checkpoint_records: settings.checkpoint_records,
            max_replay: settings.max_replay,
            restore_timeout: Duration::from_secs(settings.restore_timeout_secs),
            // a quarter of the largest record the producer sends, and at most 256 KiB
            chunk_bytes: (outcry_runtime::kafka::message_max_bytes(&config.kafka) / 4)
                .clamp(1024, 256 * 1024),
            partitions: std::collections::BTreeMap::new(),
            brand_partition: HashMap::new(),
            last_noted: None,
        });
        router
    }

    /// Routes one record of the scored topic on the clock `now_ms` (routing, checkpoints and
    /// the time the escalations are stamped as written): restores its partition's state first
    /// when the partition is new to this router, and snapshots it when a checkpoint is due.
    pub fn handle_record(
        &mut self,
        record: &Record<'_>,
        now_ms: i64,
    ) -> Result<Vec<Output>, Reject> {
        self.handle_record_at(record, now_ms, now_ms)
    }

    /// [`Router::handle_record`] on the routing clock `now_ms`, the escalations stamped as
    /// written at the wall clock's `written_ms`, which also times the checkpoints.
    fn handle_record_at(
        &mut self,
        record: &Record<'_>,
        now_ms: i64,
        written_ms: i64,
    ) -> Result<Vec<Output>, Reject> {
        let scored = decode(record.payload);
        let Some(keeper) = self.keeper.as_mut() else {
            return route(&mut self.core, &self.topic, scored?, now_ms, written_ms);
        };
        let (partition, offset) = (record.partition, record.offset);
        if keeper
            .partitions
            .get(&partition)
            .is_none_or(|p| p.next != offset)
        {
            restore(&mut self.core, keeper, partition, offset, written_ms);
        }
        if let Ok(sm) = &scored {
            note_brand(keeper, &sm.brand_id, partition);
        }
        let owned = keeper
            .partitions
            .get_mut(&partition)
            .expect("restore registers the partition");
        owned.next = offset + 1;
        owned.since_snapshot += 1;
        let mut out = route(&mut self.core, &self.topic, scored?, now_ms, written_ms)?;
        // on the wall clock, not the routing clock: a router catching up on a backlog routes
        // a minute of record time in milliseconds, and a snapshot for each would slow it down
        // when it most needs to keep up
        let due = owned.since_snapshot >= keeper.checkpoint_records
            || written_ms.saturating_sub(owned.last_snapshot_ms) >= keeper.checkpoint_ms;
        if owned.writable && due {
            owned.last_snapshot_ms = written_ms;
            owned.since_snapshot = 0;
            let slot = owned.slot;
            match self
                .core
                .save(brands_on(&keeper.brand_partition, partition))
            {
                Ok(snapshot) => {
                    owned.slot = 1 - slot;
                    metrics::counter!(SNAPSHOTS, "partition" => partition.to_string()).increment(1);
                    metrics::gauge!(SNAPSHOT_BYTES, "partition" => partition.to_string())
                        .set(snapshot.len() as f64);
                    let records = state::encode(
                        state::SLOTS[slot],
                        offset + 1,
                        &snapshot,
                        keeper.chunk_bytes,
                    );
                    out.extend(records.into_iter().map(|(key, payload)| Output {
                        topic: keeper.topic.clone(),
                        partition: Some(partition),
                        key,
                        payload,
                    }));
                }
                Err(error) => {
                    tracing::error!(partition, %error, "cannot snapshot the router's state; the last snapshot stays");
                }
            }
        }
        Ok(out)
    }

    /// Routes one encoded `ScoredMention` into encoded escalation records.
    pub fn handle(&mut self, payload: &[u8], now_ms: i64) -> Result<Vec<Output>, Reject> {
        route(
            &mut self.core,
            &self.topic,
            decode(payload)?,
            now_ms,
            now_ms,
        )
    }
}

/// Routes `scored` on the routing clock `now_ms` into encoded escalation records for
/// `topic`, stamped as written at `written_ms`.
fn route(
    core: &mut RouterCore,
    topic: &Arc<str>,
    scored: ScoredMention,
    now_ms: i64,
    written_ms: i64,
) -> Result<Vec<Output>, Reject> {
    let records = core
        .route(&scored, now_ms)
        .map_err(|e| Reject::new(e.reason(), e.to_string()))?;
    Ok(records
        .into_iter()
        .map(|mut e| {
            e.emitted_at = Some(outcry_proto::timestamp_from_millis(written_ms));
            let received = outcry_proto::millis_from_timestamp(e.trigger_received_at.as_ref());
            if received > 0 {
                metrics::histogram!(END_TO_END_SECONDS)
                    .record((written_ms - received).max(0) as f64 / 1000.0);
            }
            Output {
                topic: topic.clone(),
                partition: None,
                key: e.case_id.clone().into_bytes(),
                payload: e.encode_to_vec(),
            }
        })
        .collect())
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
    /// Routes on the scored record's timestamp (when the scorer wrote it), not on the time it
    /// is read: a restore replays the same records on the same clock, so it rebuilds the
    /// state (and the SLAs of the cases it holds) exactly as they were, and a record
    /// routed again after a crash gets the same SLA. A record without a timestamp is routed
    /// on the wall clock. The escalations say when they were written.
    async fn process(&mut self, record: &Record<'_>) -> Result<Vec<Output>, Reject> {
        let written_ms = now_millis();
        let now_ms = record.timestamp_ms.filter(|&t| t > 0).unwrap_or(written_ms);
        self.handle_record_at(record, now_ms, written_ms)
    }

    fn dead_letter_reasons(&self) -> &'static [&'static str] {
        DEAD_LETTER_REASONS
    }
}

/// Consumes scored mentions and writes escalations until shutdown.
pub async fn run(config: Config, shutdown: Shutdown) -> Result<(), RouterError> {
    check_config(&config)?;
    let router = if config.router.state.enabled {
        // in the background: a broker slow to answer (or one that does not answer
        // DescribeConfigs) must not hold up routing
        let checked = config.clone();
        tokio::task::spawn_blocking(move || check_state_topic(&checked));
        let store = KafkaStore {
            kafka: config.kafka.clone(),
            timeout: Duration::from_secs(config.router.state.restore_timeout_secs),
        };
        Router::with_state(&config, Arc::new(store))
    } else {
        Router::new(&config)
    };
    let spec = PipelineSpec::new(&config, "router", &config.kafka.topics.scored);
    pipeline::run(&config.kafka, spec, router, shutdown).await?;
    Ok(())
}

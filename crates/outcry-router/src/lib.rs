//! The escalation router: consumes scored mentions (keyed by brand, so one instance owns a
//! brand's state), applies the brand's rules and spike detection, and writes `Escalation`
//! records keyed by case id.

pub mod core;
pub mod state;

use crate::core::RouterCore;
use crate::state::{KafkaStore, StateStore};
use outcry_proto::v1::ScoredMention;
use outcry_proto::Message as _;
use outcry_runtime::pipeline::{self, Output, PipelineSpec, Processor, Record, Reject};
use outcry_runtime::{time::now_millis, Config, Shutdown};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

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
    /// when the last snapshot (or the restore) was, on the routing clock
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

    /// Routes one record of the scored topic: restores its partition's state first when the
    /// partition is new to this router, and snapshots it when a checkpoint is due.
    pub fn handle_record(
        &mut self,
        record: &Record<'_>,
        now_ms: i64,
    ) -> Result<Vec<Output>, Reject> {
        let Some(keeper) = self.keeper.as_mut() else {
            return self.handle(record.payload, now_ms);
        };
        let (partition, offset) = (record.partition, record.offset);
        if keeper
            .partitions
            .get(&partition)
            .is_none_or(|p| p.next != offset)
        {
            restore(&mut self.core, keeper, partition, offset, now_ms);
        }
        let scored = decode(record.payload);
        if let Ok(sm) = &scored {
            note_brand(keeper, &sm.brand_id, partition);
        }
        let owned = keeper
            .partitions
            .get_mut(&partition)
            .expect("restore registers the partition");
        owned.next = offset + 1;
        owned.since_snapshot += 1;
        let mut out = route(&mut self.core, &self.topic, scored?, now_ms)?;
        // on the clock the record was routed by, which the pipeline has just read
        let due = owned.since_snapshot >= keeper.checkpoint_records
            || now_ms.saturating_sub(owned.last_snapshot_ms) >= keeper.checkpoint_ms;
        if owned.writable && due {
            owned.last_snapshot_ms = now_ms;
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
        route(&mut self.core, &self.topic, decode(payload)?, now_ms)
    }
}

/// Routes `scored` into encoded escalation records for `topic`.
fn route(
    core: &mut RouterCore,
    topic: &Arc<str>,
    scored: ScoredMention,
    now_ms: i64,
) -> Result<Vec<Output>, Reject> {
    let records = core
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

fn describe_state_metrics() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(RESTORES, "partitions whose brands' state was restored when this router was assigned them, by result: snapshot (the newest snapshot the committed offset has passed, and the mentions after it replayed), replay (no snapshot: up to router.state.max_replay mentions before the committed offset replayed), failed (the state topic or the replay could not be read in time; the partition goes on with what was restored)");
    describe_counter!(
        REPLAYED,
        "scored mentions routed again, silently, to rebuild state after a restore"
    );
    describe_counter!(
        SNAPSHOTS,
        "snapshots of a partition's brands written to the state topic, by partition"
    );
    describe_gauge!(
        SNAPSHOT_BYTES,
        metrics::Unit::Bytes,
        "size of the last snapshot of a partition's brands, by partition"
    );
    describe_histogram!(
        RESTORE_SECONDS,
        metrics::Unit::Seconds,
        "time to restore a partition's brands (reading the snapshot and replaying)"
    );
    for result in RESTORE_RESULTS {
        metrics::counter!(RESTORES, "result" => result).absolute(0);
    }
}

/// The brands last routed from `partition`.
fn brands_on(brand_partition: &HashMap<String, i32>, partition: i32) -> impl Iterator<Item = &str> {
    brand_partition
        .iter()
        .filter(move |&(_, &p)| p == partition)
        .map(|(b, _)| b.as_str())
}

/// Records that `brand` is routed from `partition`: its state goes into that partition's
/// snapshots, and is restored with it.
fn note_brand(keeper: &mut Keeper, brand: &str, partition: i32) {
    // most records are of the brand before them
    if keeper
        .last_noted
        .as_ref()
        .is_some_and(|(b, p)| *p == partition && b == brand)
    {
        return;
    }
    if keeper.brand_partition.get(brand) != Some(&partition) {
        keeper.brand_partition.insert(brand.to_string(), partition);
    }
    keeper.last_noted = Some((brand.to_string(), partition));
}

/// Rebuilds the state of the brands of `partition`, whose records this router reads from
/// `committed` on: the newest snapshot `committed` has passed, then the scored mentions from
/// its `through` to `committed` routed again without output or metrics. Whatever fails, the
/// partition is registered and routing goes on (with what could be restored, and a count in
/// `outcry_router_state_restores_total{result="failed"}`): a router that stopped would stop
/// its brands' escalations too.
fn restore(
    core: &mut RouterCore,
    keeper: &mut Keeper,
    partition: i32,
    committed: i64,
    now_ms: i64,
) {
    let started = Instant::now();
    // the brands this router had from the partition may have moved on elsewhere since
    let stale: Vec<String> = brands_on(&keeper.brand_partition, partition)
        .map(str::to_string)
        .collect();
    for brand in &stale {
        core.reset(brand);
        keeper.brand_partition.remove(brand);
    }
    keeper.last_noted = None;
    let store = keeper.store.clone();
    // where a replay with no snapshot to start from begins
    let without_snapshot = committed
        .saturating_sub(i64::try_from(keeper.max_replay).unwrap_or(i64::MAX))
        .max(0);
    let mut owned = Owned {
        next: committed,
        last_snapshot_ms: now_ms,
        since_snapshot: 0,
        slot: 0,
        writable: true,
    };
    let mut replayed = 0usize;
    let mut from_snapshot = false;
    let mut outcome = blocking(|| -> Result<(), state::StoreError> {
        let records = match store.snapshots(partition) {
            Ok(records) => records,
            Err(error) => {
                if matches!(
                    &error,
                    state::StoreError::Read {
                        source: outcry_runtime::kafka::ReadToEndError::Missing,
                        ..
                    }
                ) {
                    // nothing can be written there either: producing to a partition that is
                    // not there would stall the router
                    owned.writable = false;
                }
                return Err(error);
            }
        };
        let found = state::newest(
            records.iter().map(|(k, v)| (k.as_slice(), v.as_slice())),
            committed,
        );
        let from = match found {
            Some(found) => {
                match core.load(&found.snapshot, |brand| {
                    keeper
                        .brand_partition
                        .get(brand)
                        .is_none_or(|&p| p == partition)
                }) {
                    Ok(brands) => {
                        for brand in brands {
                            keeper.brand_partition.insert(brand, partition);
                        }
                        from_snapshot = true;
                        // the next snapshot goes to the other slot, so this one stays
                        owned.slot = usize::from(found.slot == state::SLOTS[0]);
                        found.through
                    }
                    Err(error) => {
                        tracing::warn!(partition, %error, "cannot read the router's snapshot; rebuilding from the mentions before the committed offset");
                        without_snapshot
                    }
                }
            }
            None => without_snapshot,
        };
        if from >= committed {
            return Ok(());
        }
        core.set_replaying(true);
        let result = store.replay(
            partition,
            from,
            committed,
            &mut |_offset, at_ms, payload| {
                replayed += 1;
                let Ok(sm) = ScoredMention::decode(payload) else {
                    return;
                };
                note_brand(keeper, &sm.brand_id, partition);
                let _ = core.route(&sm, if at_ms > 0 { at_ms } else { now_millis() });
            },
        );
        core.set_replaying(false);
        result.map(|_| ())
    });
    if started.elapsed() > keeper.restore_timeout && outcome.is_ok() {
        tracing::warn!(
            partition,
            seconds = started.elapsed().as_secs_f64(),
            "restoring the router's state took longer than router.state.restore_timeout_secs"
        );
    }
    let result = match &mut outcome {
        Ok(()) if from_snapshot => "snapshot",
        Ok(()) => "replay",
        Err(error) => {
            tracing::error!(partition, error = %outcry_runtime::cli::error_chain(error), replayed, "cannot restore the router's state of this partition; going on with what was restored");
            "failed"
        }
    };
    metrics::counter!(RESTORES, "result" => result).increment(1);
    metrics::counter!(REPLAYED).increment(replayed as u64);
    metrics::histogram!(RESTORE_SECONDS).record(started.elapsed().as_secs_f64());
    tracing::info!(
        partition,
        committed,
        result,
        replayed,
        seconds = started.elapsed().as_secs_f64(),
        "restored the router's state"
    );
    keeper.partitions.insert(partition, owned);
}

/// Runs `f`, which blocks on Kafka, without holding up the other tasks of a multi-threaded
/// runtime.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

impl Processor for Router {
    async fn process(&mut self, record: &Record<'_>) -> Result<Vec<Output>, Reject> {
        self.handle_record(record, now_millis())
    }

    fn dead_letter_reasons(&self) -> &'static [&'static str] {
        DEAD_LETTER_REASONS
    }
}

/// What is wrong with the state topic `name` (`None`: it does not exist) for a scored topic of
/// `scored_partitions` partitions, each as a sentence for the log; empty when nothing is.
pub fn state_topic_problems(
    name: &str,
    state: Option<&outcry_runtime::kafka::TopicFacts>,
    scored_partitions: Option<usize>,
) -> Vec<String> {
    let Some(state) = state else {
        return vec![format!(
            "the state topic {name} does not exist: the router routes on but keeps no state across restarts; create it compacted, with as many partitions as the scored topic"
        )];
    };
    let mut problems = Vec::new();
    if let Some(scored) = scored_partitions.filter(|&n| n > state.partitions) {
        problems.push(format!(
            "the state topic {name} has {} partitions and the scored topic {scored}: the brands of partitions {} and above keep no state across restarts",
            state.partitions, state.partitions
        ));
    }
    if let Some(policy) = state
        .cleanup_policy
        .as_deref()
        .filter(|p| !p.contains("compact"))
    {
        problems.push(format!(
            "the state topic {name} has cleanup.policy={policy}: a restore reads every snapshot it retains instead of the last of each slot; make it compacted"
        ));
    }
    problems
}

/// Logs what is wrong with the state topic, once at start: the router runs without it, but
/// an operator should hear of it before the first restart needs it. Blocks on the broker.
fn check_state_topic(config: &Config) {
    use outcry_runtime::kafka::topic_facts;
    let started = Instant::now();
    let topics = &config.kafka.topics;
    match topic_facts(&config.kafka, &topics.router_state) {
        Ok(state) => {
            let scored = topic_facts(&config.kafka, &topics.scored)
                .ok()
                .flatten()
                .map(|f| f.partitions);
            for problem in state_topic_problems(&topics.router_state, state.as_ref(), scored) {
                tracing::warn!(topic = %topics.router_state, "{problem}");
            }
            tracing::debug!(
                seconds = started.elapsed().as_secs_f64(),
                "checked the state topic"
            );
        }
        Err(error) => {
            tracing::warn!(topic = %topics.router_state, %error, "cannot check the state topic");
        }
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

//! Restoring the brands of a partition when the router is assigned it, and the start-up
//! check of the topic their state is kept on.

use super::*;
use std::time::Instant;

pub(crate) fn describe_state_metrics() {
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
pub(crate) fn brands_on(
    brand_partition: &HashMap<String, i32>,
    partition: i32,
) -> impl Iterator<Item = &str> {
    brand_partition
        .iter()
        .filter(move |&(_, &p)| p == partition)
        .map(|(b, _)| b.as_str())
}

/// Records that `brand` is routed from `partition`: its state goes into that partition's
/// snapshots, and is restored with it.
pub(crate) fn note_brand(keeper: &mut Keeper, brand: &str, partition: i32) {
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
/// its brands' escalations too. The next checkpoint is due `checkpoint_secs` after
/// `written_ms`, on the wall clock.
pub(crate) fn restore(
    core: &mut RouterCore,
    keeper: &mut Keeper,
    partition: i32,
    committed: i64,
    written_ms: i64,
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
        last_snapshot_ms: written_ms,
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
pub(crate) fn check_state_topic(config: &Config) {
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

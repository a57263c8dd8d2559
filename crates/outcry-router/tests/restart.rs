//! The router's state across a crash and across partitions moving between instances: a
//! router that takes over a partition from its committed offset writes exactly what one that
//! never stopped writes (same cases, same updates, same ids), because it restores the newest
//! snapshot the committed offset has passed and replays the mentions after it, on the clock
//! the service routes on: the scored records' timestamps.

mod common;

use common::{config, record_at, scored, MemoryStore, BUCKET, DAY_BUCKETS, T0};
use outcry_proto::v1::{CaseState, Escalation, EscalationKind, ScoredMention};
use outcry_proto::Message as _;
use outcry_router::Router;
use outcry_runtime::pipeline::Record;
use outcry_runtime::telemetry::{sample_sum, sample_value};
use outcry_runtime::Config;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

const STATE_TOPIC: &str = "outcry.router-state.v1";

/// Two calm days, then a six-bucket pile-on of complaints and a calm tail, with one author
/// complaining every ten minutes from three hours before the pile-on to its end: by event
/// time, each stamped when it happened.
fn input() -> Vec<ScoredMention> {
    let mut all: Vec<ScoredMention> = Vec::new();
    let spike_start = T0 + 2 * DAY_BUCKETS * BUCKET;
    for b in 0..(2 * DAY_BUCKETS) {
        for k in 0..(4 + (b % 3)) {
            let at = T0 + b * BUCKET + k * 1000;
            all.push(scored(
                &format!("calm:{at}"),
                &format!("calm{k}"),
                at,
                0.1,
                0.4,
            ));
        }
    }
    for b in 0..6 {
        for k in 0..150 {
            let at = spike_start + b * BUCKET + k * 1000;
            all.push(scored(
                &format!("pile:{at}"),
                &format!("user{b}-{k}"),
                at,
                0.95,
                -0.8,
            ));
        }
    }
    for b in 6..60 {
        for k in 0..5 {
            let at = spike_start + b * BUCKET + k * 1000;
            all.push(scored(
                &format!("tail:{at}"),
                &format!("calm{k}"),
                at,
                0.1,
                0.4,
            ));
        }
    }
    let mut at = spike_start - 3 * 3_600_000 + 500;
    while at < spike_start + 6 * BUCKET {
        all.push(scored(&format!("ann:{at}"), "ann", at, 0.9, -0.6));
        at += 600_000;
    }
    all.sort_by_key(common::event_ms);
    all
}

/// The config of the routers under test: snapshots every `every` records.
fn stateful(every: u64) -> Config {
    let mut config = config();
    config.router.state.checkpoint_secs = 1_000_000;
    config.router.state.checkpoint_records = every;
    config
}

/// The scored topic's partition 0 holding `input`; returns the store.
fn store_with(input: &[ScoredMention]) -> Arc<MemoryStore> {
    let store = Arc::new(MemoryStore::default());
    for sm in input {
        store.append_scored(0, common::event_ms(sm), sm.encode_to_vec());
    }
    store
}

/// Has `router` route offsets `from .. to` of partition 0, each at the time it happened;
/// writes the snapshots to `store` and returns the escalations by offset.
fn run(
    router: &mut Router,
    store: &MemoryStore,
    from: i64,
    to: i64,
) -> BTreeMap<i64, Vec<Escalation>> {
    let log = store.scored.lock().unwrap().get(&0).cloned().unwrap();
    let mut out = BTreeMap::new();
    for offset in from..to {
        let (at, payload) = &log[offset as usize];
        let outputs = router
            .handle_record(&record_at(offset, *at, payload), *at)
            .expect("routable");
        let escalations = store
            .write(STATE_TOPIC, outputs)
            .iter()
            .map(|o| Escalation::decode(o.payload.as_slice()).unwrap())
            .collect::<Vec<_>>();
        if !escalations.is_empty() {
            out.insert(offset, escalations);
        }
    }
    out
}

/// The escalations of `all` at `from` and after.
fn after(all: &BTreeMap<i64, Vec<Escalation>>, from: i64) -> BTreeMap<i64, Vec<Escalation>> {
    all.range(from..).map(|(k, v)| (*k, v.clone())).collect()
}

fn with_metrics<T>(f: impl FnOnce() -> T) -> (T, String) {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let value = metrics::with_local_recorder(&recorder, f);
    (value, handle.render())
}

fn opened(out: &BTreeMap<i64, Vec<Escalation>>) -> HashSet<String> {
    out.values()
        .flatten()
        .filter(|e| e.state == CaseState::Open as i32)
        .map(|e| e.case_id.clone())
        .collect()
}

#[test]
fn a_router_restarted_from_its_committed_offset_goes_on_as_if_it_never_stopped() {
    let input = input();
    let end = input.len() as i64;
    let store = store_with(&input);
    // the router that never stops
    let uninterrupted = run(&mut Router::new(&config()), &store, 0, end);
    let spike_case = uninterrupted
        .values()
        .flatten()
        .find(|e| e.kind == EscalationKind::Spike as i32)
        .expect("the pile-on opens a spike case")
        .case_id
        .clone();

    // one snapshot, after offset 2,999; the crash comes at 3,500, in the pile-on, with the
    // spike case and ann's case open; the last offsets stored before it were 3,494
    let (crash, committed) = (3_500, 3_495);
    let mut first = Router::with_state(&stateful(3_000), store.clone());
    let before = run(&mut first, &store, 0, crash);
    drop(first);
    assert!(
        before.values().flatten().any(|e| e.case_id == spike_case),
        "the spike case opened before the crash"
    );

    let mut second = Router::with_state(&stateful(3_000), store.clone());
    let (resumed, metrics) = with_metrics(|| run(&mut second, &store, committed, end));
    assert_eq!(
        sample_value(
            &metrics,
            r#"outcry_router_state_restores_total{result="snapshot"}"#
        ),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        sample_value(&metrics, "outcry_router_state_replayed_total"),
        Some((committed - 3_000) as f64),
        "the mentions between the snapshot and the committed offset are replayed"
    );
    // the replay wrote nothing and counted no escalation twice: only what was routed after
    let counted: f64 = resumed.values().map(|v| v.len() as f64).sum();
    assert_eq!(
        sample_sum(&metrics, "outcry_router_escalations_total"),
        counted
    );
    assert_eq!(
        resumed,
        after(&uninterrupted, committed),
        "the same escalations, ids and contents, from the committed offset on"
    );
    assert!(resumed
        .values()
        .flatten()
        .any(|e| e.case_id == spike_case && e.state == CaseState::Resolved as i32));

    // without the state, the same restart opens cases the uninterrupted router never had:
    // the pile-on, which the spike case absorbed, becomes cases of its own
    let fresh = run(&mut Router::new(&config()), &store, committed, end);
    let unknown: Vec<String> = opened(&fresh)
        .difference(&opened(&uninterrupted))
        .cloned()
        .collect();
    assert!(
        !unknown.is_empty(),
        "a restart without state is indistinguishable, so this test proves nothing"
    );
}

#[test]
fn a_partition_that_moves_to_another_router_and_back_keeps_one_history() {
    let input = input();
    let end = input.len() as i64;
    let store = store_with(&input);
    let uninterrupted = run(&mut Router::new(&config()), &store, 0, end);
    // two instances of the group; partition 0 goes from one to the other at a rebalance and
    // comes back at the next one, in the pile-on; each time the new owner reads from the
    // committed offset, which a snapshot every 1,000 records has passed
    let mut one = Router::with_state(&stateful(1_000), store.clone());
    let mut two = Router::with_state(&stateful(1_000), store.clone());
    let mut got = run(&mut one, &store, 0, 3_050);
    let (moved, metrics) = with_metrics(|| run(&mut two, &store, 3_050, 3_600));
    assert_eq!(
        sample_value(
            &metrics,
            r#"outcry_router_state_restores_total{result="snapshot"}"#
        ),
        Some(1.0)
    );
    got.extend(moved);
    // back to the first instance, whose own state of the partition is 550 records old: it
    // restores, rather than going on from what it had
    let (back, metrics) = with_metrics(|| run(&mut one, &store, 3_600, end));
    assert_eq!(
        sample_value(
            &metrics,
            r#"outcry_router_state_restores_total{result="snapshot"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        sample_value(&metrics, "outcry_router_state_replayed_total"),
        Some(600.0),
        "from the snapshot at 3,000, written by the first instance"
    );
    got.extend(back);
    assert_eq!(got, uninterrupted);
}

#[test]
fn with_no_snapshot_the_mentions_before_the_committed_offset_rebuild_the_state() {
    // the first start of a router with state, on a group that has offsets: the last
    // `max_replay` mentions before them are replayed
    let input = input();
    let end = input.len() as i64;
    let store = store_with(&input);
    let uninterrupted = run(&mut Router::new(&config()), &store, 0, end);
    let mut config = stateful(1_000_000);
    config.router.state.max_replay = 10_000;
    let mut router = Router::with_state(&config, store.clone());
    let (resumed, metrics) = with_metrics(|| run(&mut router, &store, 3_495, end));
    assert_eq!(
        sample_value(
            &metrics,
            r#"outcry_router_state_restores_total{result="replay"}"#
        ),
        Some(1.0)
    );
    assert_eq!(resumed, after(&uninterrupted, 3_495));
}

#[test]
fn a_missing_short_or_uncompacted_state_topic_is_named_in_the_log() {
    use outcry_router::state_topic_problems;
    use outcry_runtime::kafka::TopicFacts;
    let good = TopicFacts {
        partitions: 6,
        cleanup_policy: Some("compact".into()),
    };
    assert!(state_topic_problems("s", Some(&good), Some(6)).is_empty());
    // a broker that does not say its policy is not taken to be wrong
    let unknown = TopicFacts {
        cleanup_policy: None,
        ..good.clone()
    };
    assert!(state_topic_problems("s", Some(&unknown), Some(6)).is_empty());
    let missing = state_topic_problems("s", None, Some(6));
    assert!(missing[0].contains("does not exist"), "{missing:?}");
    let short = TopicFacts {
        partitions: 3,
        cleanup_policy: Some("delete".into()),
    };
    let problems = state_topic_problems("s", Some(&short), Some(6));
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems[0].contains("partitions 3 and above"),
        "{problems:?}"
    );
    assert!(
        problems[1].contains("cleanup.policy=delete"),
        "{problems:?}"
    );
}

/// A router that snapshots a minute after the last snapshot (never by count), and a store
/// of ten mentions of ann's, `gap_ms` apart from `from`.
fn minutely(from: i64, gap_ms: i64) -> (Router, Arc<MemoryStore>) {
    let input: Vec<ScoredMention> = (0..10)
        .map(|i| scored(&format!("x:{i}"), "ann", from + i * gap_ms, 0.9, -0.6))
        .collect();
    let store = store_with(&input);
    let mut config = config();
    config.router.state.checkpoint_secs = 60;
    config.router.state.checkpoint_records = 1_000_000;
    (Router::with_state(&config, store.clone()), store)
}

#[test]
fn a_partition_is_snapshotted_once_checkpoint_secs_have_passed() {
    let (mut router, store) = minutely(T0, 10_000);
    // a mention every ten seconds, each routed when it happened: the restore at the first,
    // then a snapshot with the one a minute later (offset 6, so `through` is 7)
    run(&mut router, &store, 0, 10);
    let records = store.snapshots_of(0);
    let slots =
        outcry_router::state::slots(records.iter().map(|(k, v)| (k.as_slice(), v.as_slice())));
    let throughs: Vec<i64> = slots.iter().map(|s| s.manifest.through).collect();
    assert_eq!(throughs, [7]);
}

/// The service routes on the scored record's timestamp, the clock the tests above route on
/// and the one a replay has: so a restore rebuilds the SLAs the cases had, and a record
/// routed again after a crash is given the same SLA. The escalation still says when it was
/// written; a record without a timestamp is routed on the wall clock.
#[tokio::test]
async fn the_service_routes_on_the_records_timestamp_and_stamps_when_it_wrote() {
    use outcry_proto::millis_from_timestamp as millis;
    use outcry_runtime::pipeline::Processor as _;
    use outcry_runtime::time::now_millis;
    // the complaint rule's SLA
    const SLA_MS: i64 = 240 * 60_000;
    let mut router = Router::new(&config());
    // scored ten minutes ago, read now (a router catching up on a backlog)
    let written_at = now_millis() - 600_000;
    let payload = scored("x:1", "ann", written_at - 1_000, 0.9, -0.6).encode_to_vec();
    let record = record_at(0, written_at, &payload);
    let before = now_millis();
    let out = router.process(&record).await.expect("routable");
    let after = now_millis();
    let opened = Escalation::decode(out[0].payload.as_slice()).unwrap();
    assert_eq!(opened.state, CaseState::Open as i32);
    assert_eq!(millis(opened.sla_due.as_ref()), written_at + SLA_MS);
    let emitted = millis(opened.emitted_at.as_ref());
    assert!(
        (before..=after).contains(&emitted),
        "{emitted} not within {before}..={after}"
    );

    let payload = scored("x:2", "bob", written_at, 0.9, -0.6).encode_to_vec();
    let untimed = Record {
        offset: 1,
        payload: &payload,
        timestamp_ms: None,
        ..record
    };
    let before = now_millis();
    let out = router.process(&untimed).await.expect("routable");
    let after = now_millis();
    let opened = Escalation::decode(out[0].payload.as_slice()).unwrap();
    let due = millis(opened.sla_due.as_ref());
    assert!(
        (before + SLA_MS..=after + SLA_MS).contains(&due),
        "{due} not within the wall clock's SLA"
    );
}

/// Checkpoints are timed on the wall clock, not on the records' timestamps: a router catching
/// up on a backlog routes minutes of record time in milliseconds, and a snapshot for each
/// minute would slow it down when it most needs to keep up.
#[tokio::test]
async fn a_backlog_caught_up_on_is_snapshotted_on_the_wall_clock() {
    use outcry_runtime::pipeline::Processor as _;
    // ten mentions a minute apart, an hour ago, all read now
    let (mut router, store) = minutely(outcry_runtime::time::now_millis() - 3_600_000, 60_000);
    let log = store.scored.lock().unwrap().get(&0).cloned().unwrap();
    for (offset, (at, payload)) in (0..).zip(&log) {
        let outputs = router
            .process(&record_at(offset, *at, payload))
            .await
            .expect("routable");
        store.write(STATE_TOPIC, outputs);
    }
    assert!(
        store.snapshots_of(0).is_empty(),
        "nine minutes of record time routed in well under a minute of wall time: no checkpoint is due"
    );
}

//! `outcry router-state`: what the router's state topic holds, partition by partition and
//! slot by slot, for an operator asking why a restore did what it did.

use anyhow::Context as _;
use outcry_router::core::RouterCore;
use outcry_router::state;
use outcry_runtime::config::KafkaConfig;
use rdkafka::message::Message as _;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// How many snapshots were listed, and how many of them could not be read back whole.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub snapshots: usize,
    pub broken: usize,
}

/// The JSON line of one slot of `partition`, whose router group has committed `committed`
/// on the scored topic; `taken` when a restore from that offset would take this slot.
pub fn slot_json(partition: i32, slot: &state::Slot, committed: Option<i64>, taken: bool) -> Value {
    let mut line = json!({
        "partition": partition,
        "slot": slot.slot,
        "through": slot.manifest.through,
        "chunks": slot.manifest.chunks,
        "bytes": slot.manifest.bytes,
        "whole": slot.snapshot.is_some(),
        "committed": committed,
        "restore_takes": taken,
    });
    match slot.snapshot.as_deref().map(RouterCore::summarize) {
        Some(Ok(brands)) => line["brands"] = json!(brands),
        Some(Err(error)) => line["error"] = json!(error.to_string()),
        None => {
            line["error"] = json!(
                "its chunks do not match the manifest: written while the router stopped, or compacted away; a restore takes the other slot"
            )
        }
    }
    line
}

/// Where the router's group is on the scored topic, to say which slot a restore would take.
pub struct Router<'a> {
    pub group: &'a str,
    pub scored_topic: &'a str,
}

/// Writes a JSON line per slot of every partition of `topic` (or only of `partition`).
pub fn run(
    kafka: &KafkaConfig,
    topic: &str,
    router: &Router<'_>,
    partition: Option<i32>,
    out: &mut impl std::io::Write,
) -> anyhow::Result<Report> {
    let mut by_partition: BTreeMap<i32, state::Records> = BTreeMap::new();
    let mut keep = |m: &rdkafka::message::BorrowedMessage<'_>| {
        by_partition.entry(m.partition()).or_default().push((
            m.key().unwrap_or_default().to_vec(),
            m.payload().unwrap_or_default().to_vec(),
        ));
    };
    let timeout = Duration::from_secs(60);
    match partition {
        Some(p) => outcry_runtime::kafka::read_range(
            kafka,
            "router-state",
            topic,
            p,
            (None, None),
            timeout,
            &mut keep,
        ),
        None => {
            outcry_runtime::kafka::read_to_end(kafka, "router-state", topic, timeout, &mut keep)
        }
    }
    .with_context(|| format!("reading {topic}"))?;
    let partitions: Vec<i32> = by_partition.keys().copied().collect();
    let committed = outcry_runtime::kafka::committed_offsets(
        kafka,
        router.group,
        router.scored_topic,
        &partitions,
        Duration::from_secs(10),
    )
    .with_context(|| format!("reading the committed offsets of group {}", router.group))?;
    let mut report = Report::default();
    for (p, records) in &by_partition {
        let pairs = || records.iter().map(|(k, v)| (k.as_slice(), v.as_slice()));
        let at = committed.get(p).copied();
        let taken = at.and_then(|c| state::newest(pairs(), c)).map(|f| f.slot);
        for slot in state::slots(pairs()) {
            report.snapshots += 1;
            report.broken += usize::from(slot.snapshot.is_none());
            let line = slot_json(*p, &slot, at, taken == Some(slot.slot));
            writeln!(out, "{line}")?;
        }
    }
    Ok(report)
}

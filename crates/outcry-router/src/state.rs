//! The router's state across restarts and rebalances: snapshots on a compacted topic, and a
//! silent replay of what came after them.
//!
//! Partition `p` of the state topic holds the snapshots of the brands routed from partition
//! `p` of the scored topic. A snapshot is the state after the record at offset `through - 1`;
//! it is written as outputs of that record, so it is acknowledged before the record's offset
//! is stored. It goes in chunks (a snapshot can be larger than a Kafka record) to one of two
//! slots, `a` and `b`, in turn, chunks first and the slot's manifest last:
//!
//! | key | value |
//! |---|---|
//! | `a/0`, `a/1`, ... | the bytes of the snapshot, in order |
//! | `a` | the manifest: `through`, the number of chunks, their length and FNV-1a hash |
//!
//! A router assigned partition `p` reads it to its end, keeps the last value of each key (what
//! compaction keeps), and takes the newest slot whose chunks match their manifest and whose
//! `through` its committed offset has passed: a snapshot written while the crash came is
//! cut short (its chunks do not match) or ahead of the committed offset (its record's outputs
//! may not all have been acknowledged), and the other slot still holds the one before.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::Duration;

/// The two slots snapshots go to, in turn.
pub const SLOTS: [&str; 2] = ["a", "b"];

/// What a slot's manifest says of its snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// the snapshot is the state after the record at `through - 1`
    pub through: i64,
    pub chunks: u32,
    pub bytes: u64,
    pub fnv: u64,
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The records that write `snapshot` to `slot`, as (key, value): its chunks of at most
/// `chunk_bytes`, then the manifest.
pub fn encode(
    slot: &str,
    through: i64,
    snapshot: &[u8],
    chunk_bytes: usize,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    let chunks: Vec<&[u8]> = snapshot.chunks(chunk_bytes.max(1)).collect();
    let manifest = Manifest {
        through,
        chunks: u32::try_from(chunks.len()).unwrap_or(u32::MAX),
        bytes: snapshot.len() as u64,
        fnv: fnv1a(snapshot),
    };
    let mut records: Vec<(Vec<u8>, Vec<u8>)> = chunks
        .iter()
        .enumerate()
        .map(|(n, chunk)| (format!("{slot}/{n}").into_bytes(), chunk.to_vec()))
        .collect();
    records.push((
        slot.as_bytes().to_vec(),
        serde_json::to_vec(&manifest).expect("a manifest is plain numbers"),
    ));
    records
}

/// A snapshot read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub slot: &'static str,
    pub through: i64,
    pub snapshot: Vec<u8>,
}

/// What a slot of a state partition holds, as the partition's records leave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    pub slot: &'static str,
    pub manifest: Manifest,
    /// the snapshot, when its chunks are all there and match the manifest's length and hash
    pub snapshot: Option<Vec<u8>>,
}

/// The slots among `records` (a state partition's, in log order) that have a manifest.
pub fn slots<'a>(records: impl IntoIterator<Item = (&'a [u8], &'a [u8])>) -> Vec<Slot> {
    let mut last: HashMap<&[u8], &[u8]> = HashMap::new();
    for (key, value) in records {
        last.insert(key, value);
    }
    SLOTS
        .iter()
        .filter_map(|&slot| {
            let manifest: Manifest = serde_json::from_slice(last.get(slot.as_bytes())?).ok()?;
            let mut snapshot = Vec::new();
            let whole =
                (0..manifest.chunks).all(|n| match last.get(format!("{slot}/{n}").as_bytes()) {
                    Some(chunk) => {
                        snapshot.extend_from_slice(chunk);
                        true
                    }
                    None => false,
                }) && snapshot.len() as u64 == manifest.bytes
                    && fnv1a(&snapshot) == manifest.fnv;
            Some(Slot {
                slot,
                manifest,
                snapshot: whole.then_some(snapshot),
            })
        })
        .collect()
}

/// The newest whole snapshot among `records` (a state partition's, in log order) that
/// `committed` has passed (`through <= committed`).
pub fn newest<'a>(
    records: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
    committed: i64,
) -> Option<Found> {
    slots(records)
        .into_iter()
        .filter(|s| s.manifest.through <= committed)
        .filter_map(|s| {
            Some(Found {
                slot: s.slot,
                through: s.manifest.through,
                snapshot: s.snapshot?,
            })
        })
        .max_by_key(|f| f.through)
}

/// A state partition's records, in log order, as (key, value).
pub type Records = Vec<(Vec<u8>, Vec<u8>)>;

/// Why a restore could not read what it needs.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot read {topic} partition {partition}")]
    Read {
        topic: String,
        partition: i32,
        #[source]
        source: outcry_runtime::kafka::ReadToEndError,
    },
}

/// What a restore reads: the snapshots of a partition and the scored mentions after them.
pub trait StateStore: Send + Sync {
    /// Every record of partition `partition` of the state topic, in log order, as (key,
    /// value).
    fn snapshots(&self, partition: i32) -> Result<Records, StoreError>;

    /// The scored records of `partition` from offset `from` to `to` (exclusive), in order,
    /// each handed to `each` as (offset, timestamp in ms, payload); returns how many.
    fn replay(
        &self,
        partition: i32,
        from: i64,
        to: i64,
        each: &mut dyn FnMut(i64, i64, &[u8]),
    ) -> Result<usize, StoreError>;
}

/// The store on the deployment's Kafka.
pub struct KafkaStore {
    pub kafka: outcry_runtime::config::KafkaConfig,
    pub timeout: Duration,
}

impl KafkaStore {
    fn read(
        &self,
        role: &str,
        topic: &str,
        partition: i32,
        range: (Option<i64>, Option<i64>),
        mut each: impl FnMut(&rdkafka::message::BorrowedMessage<'_>),
    ) -> Result<usize, StoreError> {
        outcry_runtime::kafka::read_range(
            &self.kafka,
            role,
            topic,
            partition,
            range,
            self.timeout,
            &mut each,
        )
        .map_err(|source| StoreError::Read {
            topic: topic.to_string(),
            partition,
            source,
        })
    }
}

impl StateStore for KafkaStore {
    fn snapshots(&self, partition: i32) -> Result<Records, StoreError> {
        use rdkafka::message::Message;
        let mut records = Vec::new();
        let topic = self.kafka.topics.router_state.clone();
        self.read("router-state", &topic, partition, (None, None), |m| {
            records.push((
                m.key().unwrap_or_default().to_vec(),
                m.payload().unwrap_or_default().to_vec(),
            ));
        })?;
        Ok(records)
    }

    fn replay(
        &self,
        partition: i32,
        from: i64,
        to: i64,
        each: &mut dyn FnMut(i64, i64, &[u8]),
    ) -> Result<usize, StoreError> {
        use rdkafka::message::Message;
        let topic = self.kafka.topics.scored.clone();
        self.read(
            "router-replay",
            &topic,
            partition,
            (Some(from), Some(to)),
            |m| {
                let at = m.timestamp().to_millis().unwrap_or(0);
                each(m.offset(), at, m.payload().unwrap_or_default());
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(records: &[(Vec<u8>, Vec<u8>)]) -> Vec<(&[u8], &[u8])> {
        records
            .iter()
            .map(|(k, v)| (k.as_slice(), v.as_slice()))
            .collect()
    }

    #[test]
    fn a_snapshot_in_chunks_reads_back_whole() {
        let snapshot: Vec<u8> = (0..1000u32).flat_map(|i| i.to_le_bytes()).collect();
        let records = encode("a", 42, &snapshot, 300);
        assert_eq!(
            records.len(),
            15,
            "4,000 bytes in 14 chunks, then the manifest"
        );
        assert_eq!(records.last().unwrap().0, b"a");
        let found = newest(log(&records), 42).unwrap();
        assert_eq!((found.slot, found.through), ("a", 42));
        assert_eq!(found.snapshot, snapshot);
    }

    #[test]
    fn a_snapshot_ahead_of_the_committed_offset_is_passed_over_for_the_one_before() {
        let mut records = encode("a", 10, b"older", 4);
        records.extend(encode("b", 20, b"newer", 4));
        assert_eq!(newest(log(&records), 25).unwrap().snapshot, b"newer");
        assert_eq!(newest(log(&records), 19).unwrap().snapshot, b"older");
        assert_eq!(newest(log(&records), 9), None);
    }

    #[test]
    fn a_snapshot_cut_short_by_a_crash_is_passed_over_for_the_other_slot() {
        let mut records = encode("a", 10, b"first snapshot", 4);
        records.extend(encode("b", 20, b"second one", 4));
        // the third goes to slot a again; the crash comes after two of its chunks: slot a's
        // manifest is still the first's, its chunks no longer
        let third = encode("a", 30, b"third, longer snapshot", 4);
        records.extend(third[..2].iter().cloned());
        let found = newest(log(&records), 40).unwrap();
        assert_eq!(
            (found.slot, found.snapshot.as_slice()),
            ("b", &b"second one"[..])
        );
        // and with slot b gone as well, nothing is taken rather than a mixed snapshot
        let without_b: Vec<_> = records
            .iter()
            .filter(|(k, _)| !k.starts_with(b"b"))
            .cloned()
            .collect();
        assert_eq!(newest(log(&without_b), 40), None);
    }
}

// shared helpers for the router's integration tests
#![allow(dead_code)]

use outcry_proto::timestamp_from_millis;
use outcry_proto::v1::{Author, Escalation, Mention, Priority, ScoredMention, Sentiment};
use outcry_router::core::RouterCore;
use outcry_runtime::pipeline::Record;
use outcry_runtime::Config;

pub const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z, a Thursday
pub const BUCKET: i64 = 300_000;
pub const DAY_BUCKETS: i64 = 288;

pub fn config() -> Config {
    Config::from_yaml(
        r#"
router:
  case_window_secs: 3600
brands:
  - id: acme
    name: Acme Air
    team: acme-care
    rules:
      - name: legal
        signals_any: [legal_threat]
        team: acme-legal
        priority: 1
        sla_minutes: 30
      - name: complaint
        min_complaint_probability: 0.6
        max_compound: -0.2
        priority: 3
        sla_minutes: 240
    spike:
      priority: 2
      detector:
        warmup_secs: 86400
"#,
    )
    .unwrap()
}

pub fn scored(id: &str, author: &str, at_ms: i64, complaint: f64, compound: f64) -> ScoredMention {
    ScoredMention {
        mention: Some(Mention {
            id: id.into(),
            author: Some(Author {
                id: author.into(),
                handle: author.into(),
                followers: 100,
                ..Default::default()
            }),
            event_time: Some(timestamp_from_millis(at_ms)),
            receive_time: Some(timestamp_from_millis(at_ms)),
            brand_ids: vec!["acme".into()],
            ..Default::default()
        }),
        brand_id: "acme".into(),
        sentiment: Some(Sentiment {
            compound,
            ..Default::default()
        }),
        complaint_probability: complaint,
        is_complaint: complaint >= 0.5,
        priority: Priority::P3 as i32,
        ..Default::default()
    }
}

/// Offset `offset` of scored partition 0, written at `at`.
pub fn record_at(offset: i64, at: i64, payload: &[u8]) -> Record<'_> {
    Record {
        topic: "outcry.scored.v1",
        offset,
        key: Some(b"acme"),
        payload,
        timestamp_ms: Some(at),
        ..Record::default()
    }
}

/// Event time of a scored mention.
pub fn event_ms(sm: &ScoredMention) -> i64 {
    outcry_proto::millis_from_timestamp(sm.mention.as_ref().and_then(|m| m.event_time.as_ref()))
}

/// Routes each mention as if processed the moment it happened.
pub fn route_all(core: &mut RouterCore, input: &[ScoredMention]) -> Vec<Escalation> {
    input
        .iter()
        .flat_map(|sm| core.route(sm, event_ms(sm)).unwrap())
        .collect()
}

/// Calm praise for `buckets` buckets from `start` (4 to 6 mentions per bucket), each routed
/// when it happened; ids are `calm:<n>`.
pub fn calm(core: &mut RouterCore, start: i64, buckets: i64, out: &mut Vec<Escalation>) {
    for b in 0..buckets {
        for k in 0..(4 + (b % 3)) {
            let at = start + b * BUCKET + k * 1000;
            let sm = scored(&format!("calm:{at}"), &format!("calm{k}"), at, 0.1, 0.4);
            out.extend(core.route(&sm, at).unwrap());
        }
    }
}

/// A scored partition in memory: (timestamp in ms, payload) by offset.
pub type ScoredLog = Vec<(i64, Vec<u8>)>;

/// The two topics a router's restore reads, in memory: the scored topic's records by
/// partition (offset = position), and the state topic's, compacted as they are written (a
/// key's last value kept, in the order of the writes).
#[derive(Default)]
pub struct MemoryStore {
    pub scored: std::sync::Mutex<std::collections::HashMap<i32, ScoredLog>>,
    pub state: std::sync::Mutex<std::collections::HashMap<i32, outcry_router::state::Records>>,
}

impl MemoryStore {
    /// Appends a scored record, stamped `at_ms`, to `partition`; returns its offset.
    pub fn append_scored(&self, partition: i32, at_ms: i64, payload: Vec<u8>) -> i64 {
        let mut scored = self.scored.lock().unwrap();
        let log = scored.entry(partition).or_default();
        log.push((at_ms, payload));
        log.len() as i64 - 1
    }

    /// The state topic's records of `partition`, as written (compacted).
    pub fn snapshots_of(&self, partition: i32) -> outcry_router::state::Records {
        self.state
            .lock()
            .unwrap()
            .get(&partition)
            .cloned()
            .unwrap_or_default()
    }

    /// Writes the outputs that go to the state topic `topic`; returns the others.
    pub fn write(
        &self,
        topic: &str,
        outputs: Vec<outcry_runtime::pipeline::Output>,
    ) -> Vec<outcry_runtime::pipeline::Output> {
        let mut state = self.state.lock().unwrap();
        let mut rest = Vec::new();
        for o in outputs {
            if &*o.topic != topic {
                rest.push(o);
                continue;
            }
            let log = state
                .entry(o.partition.expect("state has its partition"))
                .or_default();
            log.retain(|(k, _)| *k != o.key);
            log.push((o.key, o.payload));
        }
        rest
    }
}

impl outcry_router::state::StateStore for MemoryStore {
    fn snapshots(
        &self,
        partition: i32,
    ) -> Result<outcry_router::state::Records, outcry_router::state::StoreError> {
        Ok(self.snapshots_of(partition))
    }

    fn replay(
        &self,
        partition: i32,
        from: i64,
        to: i64,
        each: &mut dyn FnMut(i64, i64, &[u8]),
    ) -> Result<usize, outcry_router::state::StoreError> {
        let scored = self.scored.lock().unwrap();
        let log = scored.get(&partition).map_or(&[][..], |l| l.as_slice());
        let mut n = 0;
        for (offset, (at, payload)) in log.iter().enumerate() {
            let offset = offset as i64;
            if (from..to).contains(&offset) {
                each(offset, *at, payload);
                n += 1;
            }
        }
        Ok(n)
    }
}

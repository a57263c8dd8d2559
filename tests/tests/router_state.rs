//! The router binary killed with SIGKILL mid-stream, on a real broker: the router that
//! starts after it restores the brands' state from the state topic, so an author's open case
//! goes on (one case id, its sequence going on) instead of a second case opening for the
//! same complaint. What the killed router wrote but had not committed is written again with
//! the same escalation ids, which a consumer deduplicates.

use outcry_e2e::{payload, read_until, unique, Backend, TestBroker};
use outcry_proto::v1::{Author, Escalation, Mention, Priority, ScoredMention, Sentiment};
use outcry_proto::{timestamp_from_millis, Message as _};
use outcry_runtime::kafka::default_topics;
use outcry_runtime::Config;
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::collections::{BTreeSet, HashSet};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const CONFIG: &str = r#"
router:
  case_window_secs: 3600
  state:
    checkpoint_secs: 3600
    checkpoint_records: 15
brands:
  - id: acme
    name: Acme Air
    team: acme-care
    rules:
      - name: complaint
        min_complaint_probability: 0.6
        priority: 3
        sla_minutes: 240
    spike:
      enabled: false
  - id: globex
    team: globex-care
    rules:
      - name: complaint
        min_complaint_probability: 0.6
        priority: 3
        sla_minutes: 240
    spike:
      enabled: false
"#;

/// The router binary `cargo test --workspace` builds next to this test's own.
fn router_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .and_then(|deps| deps.parent())
        .unwrap()
        .join("outcry-router");
    assert!(
        bin.exists(),
        "{} is not built: run `cargo build -p outcry-router` (or `make test`) first",
        bin.display()
    );
    bin
}

struct Router(Child);

impl Drop for Router {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_router(config_file: &std::path::Path, log: &std::path::Path) -> Router {
    let log = std::fs::File::create(log).unwrap();
    Router(
        Command::new(router_bin())
            .arg("--config")
            .arg(config_file)
            .env("OUTCRY__TELEMETRY__ADMIN_ADDR", "127.0.0.1:0")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    )
}

/// The `n`th complaint of `author` about `brand`.
fn complaint(brand: &str, author: &str, n: u64, at_ms: i64) -> ScoredMention {
    ScoredMention {
        mention: Some(Mention {
            id: format!("x:{author}-{n}"),
            author: Some(Author {
                id: author.into(),
                handle: author.into(),
                followers: 300,
                ..Default::default()
            }),
            event_time: Some(timestamp_from_millis(at_ms)),
            receive_time: Some(timestamp_from_millis(at_ms)),
            brand_ids: vec![brand.into()],
            text: format!("@{brand} still no refund, message {n}"),
            ..Default::default()
        }),
        brand_id: brand.into(),
        sentiment: Some(Sentiment {
            compound: -0.6,
            ..Default::default()
        }),
        complaint_probability: 0.9,
        is_complaint: true,
        priority: Priority::P3 as i32,
        ..Default::default()
    }
}

/// Complaints `from .. to` of ann about acme, to the partition of acme's key.
async fn produce(config: &Config, from: u64, to: u64) {
    produce_to(config, "acme", "ann", None, from, to).await;
}

/// Complaints `from .. to` of `author` about `brand`, to `partition` or that of the key.
async fn produce_to(
    config: &Config,
    brand: &str,
    author: &str,
    partition: Option<i32>,
    from: u64,
    to: u64,
) {
    let producer: FutureProducer = outcry_runtime::kafka::producer(&config.kafka, "test").unwrap();
    let start = outcry_runtime::time::now_millis() - 600_000;
    for n in from..to {
        let sm = complaint(brand, author, n, start + n as i64 * 1000);
        let bytes = sm.encode_to_vec();
        let mut record = FutureRecord::to(&config.kafka.topics.scored)
            .key(brand)
            .payload(&bytes);
        if let Some(p) = partition {
            record = record.partition(p);
        }
        producer
            .send(record, Duration::from_secs(10))
            .await
            .unwrap();
    }
}

/// A real broker with the topics of a config of its own (two partitions each), and that
/// config written where the router binary reads it.
struct Setup {
    _broker: TestBroker,
    config: Config,
    dir: PathBuf,
    config_file: PathBuf,
}

async fn setup() -> Setup {
    let broker = TestBroker::start(Backend::Real).unwrap();
    let mut config = Config::from_yaml(CONFIG).unwrap();
    config.kafka.brokers = broker.bootstrap_servers();
    config.kafka.group_prefix = unique("state");
    config.kafka.topics.add_suffix(&format!("-{}", unique("t")));
    // a killed router's partitions go to another when its session times out
    for (key, value) in [
        ("session.timeout.ms", "6000"),
        ("heartbeat.interval.ms", "1000"),
    ] {
        config.kafka.properties.insert(key.into(), value.into());
    }
    broker
        .create_topics(&config.kafka, &default_topics(&config.kafka, 2))
        .await
        .unwrap();
    let dir = std::env::temp_dir().join(unique("outcry-router-state"));
    std::fs::create_dir_all(&dir).unwrap();
    let config_file = dir.join("outcry.json");
    // JSON is YAML: the config as the binary reads it
    std::fs::write(&config_file, serde_json::to_string(&config).unwrap()).unwrap();
    Setup {
        _broker: broker,
        config,
        dir,
        config_file,
    }
}

/// Each case in `all`, by case id: (its distinct escalation ids, its largest sequence, that
/// record's mention count).
fn by_case(all: &[Escalation]) -> std::collections::BTreeMap<String, (usize, u64, u64)> {
    let mut cases: std::collections::BTreeMap<String, (BTreeSet<String>, u64, u64)> =
        Default::default();
    for e in all {
        let entry = cases.entry(e.case_id.clone()).or_default();
        entry.0.insert(e.escalation_id.clone());
        if e.sequence >= entry.1 {
            entry.1 = e.sequence;
            entry.2 = e.mention_count;
        }
    }
    cases
        .into_iter()
        .map(|(id, (ids, seq, count))| (id, (ids.len(), seq, count)))
        .collect()
}

/// The escalations on the topic once `want` distinct escalation ids are there (or after a
/// minute).
async fn escalations(config: &Config, want: usize) -> Vec<Escalation> {
    let read = read_until(
        &config.kafka,
        &config.kafka.topics.escalations,
        Duration::from_secs(60),
        |msgs| {
            msgs.iter()
                .filter_map(|m| Escalation::decode(payload(m)).ok())
                .map(|e| e.escalation_id)
                .collect::<HashSet<_>>()
                .len()
                >= want
        },
    )
    .await
    .unwrap();
    read.iter()
        .map(|m| Escalation::decode(payload(m)).unwrap())
        .collect()
}

/// The router group's committed offsets on the scored topic, summed over its two partitions,
/// once they reach `want` (or after 20 seconds).
async fn committed(config: &Config, want: i64) -> i64 {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let sum: i64 = outcry_runtime::kafka::committed_offsets(
            &config.kafka,
            &config.group_id("router"),
            &config.kafka.topics.scored,
            &[0, 1],
            Duration::from_secs(5),
        )
        .map(|offsets| offsets.values().sum())
        .unwrap_or(0);
        if sum >= want || std::time::Instant::now() > deadline {
            return sum;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_killed_mid_stream_does_not_open_a_second_case_after_it_restarts() {
    let Setup {
        _broker,
        config,
        dir,
        config_file,
    } = setup().await;

    // ann complains 40 times: one case, opened by the first and updated by each after
    produce(&config, 0, 40).await;
    let router = start_router(&config_file, &dir.join("first.log"));
    let first = escalations(&config, 40).await;
    assert_eq!(
        first
            .iter()
            .map(|e| &e.case_id)
            .collect::<BTreeSet<_>>()
            .len(),
        1,
        "log: {}",
        std::fs::read_to_string(dir.join("first.log")).unwrap_or_default()
    );
    // the group's offsets reach 40 (committed each second); then the router is killed, not
    // stopped: no drain, no last commit. A restarted router without state would now open a
    // second case for ann's next complaint.
    assert_eq!(committed(&config, 40).await, 40);
    drop(router);

    // ten more while it is down, then a new router for the same group
    produce(&config, 40, 50).await;
    let _router = start_router(&config_file, &dir.join("second.log"));
    let all = escalations(&config, 50).await;
    let log = std::fs::read_to_string(dir.join("second.log")).unwrap_or_default();
    let cases: BTreeSet<&str> = all.iter().map(|e| e.case_id.as_str()).collect();
    assert_eq!(
        cases.len(),
        1,
        "a second case opened after the restart; log: {log}"
    );
    let ids: BTreeSet<&str> = all.iter().map(|e| e.escalation_id.as_str()).collect();
    assert_eq!(ids.len(), 50, "one escalation id per mention; log: {log}");
    let sequences: BTreeSet<u64> = all.iter().map(|e| e.sequence).collect();
    assert_eq!(sequences, (1..=50).collect(), "the case's sequence goes on");
    let last = all.iter().max_by_key(|e| e.sequence).unwrap();
    assert_eq!(last.mention_count, 50, "every mention counted once");
    assert!(log.contains("restored the router's state"), "{log}");
    assert!(
        !log.contains("the state topic"),
        "the helpers' state topic is as the router needs it: {log}"
    );
    // what was written twice (routed before the kill, not yet committed) is the same record
    for id in &ids {
        let copies: BTreeSet<(u64, u64, i32)> = all
            .iter()
            .filter(|e| e.escalation_id == *id)
            .map(|e| (e.sequence, e.mention_count, e.state))
            .collect();
        assert_eq!(copies.len(), 1, "{id} written twice with other contents");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_moving_between_routers_keep_each_brands_case() {
    let Setup {
        _broker,
        config,
        dir,
        config_file,
    } = setup().await;
    let log = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_default();
    // ann complains about acme on partition 0, bob about globex on partition 1
    let phase = |from, to| {
        let config = config.clone();
        async move {
            produce_to(&config, "acme", "ann", Some(0), from, to).await;
            produce_to(&config, "globex", "bob", Some(1), from, to).await;
        }
    };
    phase(0, 20).await;
    let one = start_router(&config_file, &dir.join("one.log"));
    escalations(&config, 40).await;
    assert_eq!(committed(&config, 40).await, 40, "{}", log("one.log"));
    // a second router joins: the group gives it one of the two partitions, which it
    // restores from the first router's snapshots
    let two = start_router(&config_file, &dir.join("two.log"));
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let given = |log: &str| {
        log.lines()
            .any(|l| l.contains("partitions assigned") && l.contains(&config.kafka.topics.scored))
    };
    while !given(&log("two.log")) {
        assert!(
            std::time::Instant::now() < deadline,
            "the second router was given no partition: {}",
            log("two.log")
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    phase(20, 30).await;
    escalations(&config, 60).await;
    assert_eq!(committed(&config, 60).await, 60);
    assert!(
        log("two.log").contains("restored the router's state"),
        "{}",
        log("two.log")
    );
    // the first is killed: the second takes its partition too, restoring it as well
    drop(one);
    phase(30, 40).await;
    let all = escalations(&config, 80).await;
    let cases = by_case(&all);
    assert_eq!(
        cases.len(),
        2,
        "{cases:?}; one: {}; two: {}",
        log("one.log"),
        log("two.log")
    );
    for (case, (ids, last_sequence, mention_count)) in &cases {
        assert_eq!(
            (*ids, *last_sequence, *mention_count),
            (40, 40, 40),
            "{case}: one escalation id per complaint, the sequence and the count going on"
        );
    }
    drop(two);
    let _ = std::fs::remove_dir_all(&dir);
}

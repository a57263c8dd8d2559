//! `outcry router-state` on librdkafka's mock cluster, from the real binary: a whole snapshot
//! listed with its brands and as the one a restore from the group's offset would take, and
//! one cut short said to be so.

use outcry_proto::timestamp_from_millis;
use outcry_proto::v1::{Author, Mention, ScoredMention, Sentiment};
use outcry_router::core::RouterCore;
use outcry_router::state;
use outcry_runtime::config::KafkaConfig;
use outcry_runtime::Config;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::Value;
use std::process::Command;
use std::time::Duration;

const TOPIC: &str = "outcry.router-state.v1";

fn complaint(id: &str, at_ms: i64) -> ScoredMention {
    ScoredMention {
        mention: Some(Mention {
            id: id.into(),
            author: Some(Author {
                id: "ann".into(),
                handle: "ann".into(),
                ..Default::default()
            }),
            event_time: Some(timestamp_from_millis(at_ms)),
            ..Default::default()
        }),
        brand_id: "acme".into(),
        sentiment: Some(Sentiment {
            compound: -0.6,
            ..Default::default()
        }),
        complaint_probability: 0.9,
        is_complaint: true,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_are_listed_with_their_brands_and_a_broken_one_is_named() {
    let cluster = MockCluster::new(1).unwrap();
    let brokers = cluster.bootstrap_servers();
    cluster.create_topic(TOPIC, 2, 1).unwrap();
    cluster.create_topic("outcry.scored.v1", 2, 1).unwrap();
    let kafka = KafkaConfig {
        brokers: brokers.clone(),
        ..Default::default()
    };
    let config = Config::from_yaml(
        "brands:\n  - id: acme\n    team: care\n    rules:\n      - name: c\n        min_complaint_probability: 0.5\n",
    )
    .unwrap();
    let mut core = RouterCore::new(&config);
    let at = 1_767_225_600_000;
    for (i, id) in ["x:1", "x:2", "x:3"].iter().enumerate() {
        core.route(&complaint(id, at + i as i64 * 1000), at)
            .unwrap();
    }
    let snapshot = core.save(["acme"]).unwrap();
    // slot a whole, after offset 41; slot b, a later snapshot, lost its second chunk
    let mut records = state::encode("a", 42, &snapshot, 64);
    let mut later = state::encode("b", 90, &snapshot, 64);
    later.remove(1);
    records.extend(later);
    let producer: FutureProducer = outcry_runtime::kafka::producer(&kafka, "test").unwrap();
    for (key, payload) in &records {
        producer
            .send(
                FutureRecord::to(TOPIC)
                    .partition(1)
                    .key(key)
                    .payload(payload),
                Duration::from_secs(5),
            )
            .await
            .unwrap();
    }

    // the router group has committed offset 50 on scored partition 1: a restore there takes
    // slot a (after 41); slot b, after 89, is ahead of it (and broken besides)
    {
        use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
        let consumer: BaseConsumer = outcry_runtime::kafka::client_config(&kafka, "test")
            .set("group.id", "outcry.router")
            .create()
            .unwrap();
        let mut offsets = rdkafka::TopicPartitionList::new();
        offsets
            .add_partition_offset("outcry.scored.v1", 1, rdkafka::Offset::Offset(50))
            .unwrap();
        consumer.commit(&offsets, CommitMode::Sync).unwrap();
    }

    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_outcry"))
            .args(["router-state", "--brokers", &brokers])
            .env_remove("OUTCRY_CONFIG")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    let a = &lines[0];
    assert_eq!(
        (a["partition"].as_i64(), a["slot"].as_str()),
        (Some(1), Some("a"))
    );
    assert_eq!(a["through"], 42);
    assert_eq!(a["whole"], true);
    assert_eq!(a["bytes"], snapshot.len() as u64);
    assert_eq!(a["brands"][0]["brand"], "acme");
    assert_eq!(a["brands"][0]["mention_cases"], 1, "ann's one case");
    assert_eq!(a["brands"][0]["seen_mentions"], 3);
    assert_eq!(
        (a["committed"].as_i64(), a["restore_takes"].as_bool()),
        (Some(50), Some(true))
    );
    let b = &lines[1];
    assert_eq!(
        (b["slot"].as_str(), b["whole"].as_bool()),
        (Some("b"), Some(false))
    );
    assert!(b["error"].as_str().unwrap().contains("do not match"), "{b}");
    assert_eq!(b["restore_takes"], false);
    assert!(
        stderr.contains("2 snapshots listed, 1 not whole"),
        "{stderr}"
    );
}

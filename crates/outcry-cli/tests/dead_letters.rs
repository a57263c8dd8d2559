//! `outcry dead-letters` on librdkafka's mock cluster (over loopback, from the real binary):
//! the letters listed and filtered, and `--replay` writing the originals back, except one
//! cut to fit.

use outcry_proto::v1::DeadLetter;
use outcry_proto::Message as _;
use outcry_runtime::config::KafkaConfig;
use rdkafka::message::Message as _;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::Value;
use std::process::Command;
use std::time::Duration;

fn letter(stage: &str, reason: &str, source: &str, original: &[u8], error: &str) -> Vec<u8> {
    DeadLetter {
        original: original.to_vec(),
        original_key: b"k1".to_vec(),
        source_topic: source.into(),
        source_partition: 0,
        source_offset: 41,
        stage: stage.into(),
        reason: reason.into(),
        error: error.into(),
        ..Default::default()
    }
    .encode_to_vec()
}

/// `outcry dead-letters --brokers ... ARGS`: its stdout lines as JSON and its stderr.
fn dead_letters(brokers: &str, args: &[&str]) -> (Vec<Value>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_outcry"))
        .args(["dead-letters", "--brokers", brokers])
        .args(args)
        .env_remove("OUTCRY_CONFIG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");
    let lines = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (lines, stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_listed_filtered_and_replayed() {
    let cluster = MockCluster::new(1).unwrap();
    let brokers = cluster.bootstrap_servers();
    let kafka = KafkaConfig {
        brokers: brokers.clone(),
        ..Default::default()
    };
    for topic in ["outcry.deadletter.v1", "t-in", "t-scored"] {
        cluster.create_topic(topic, 1, 1).unwrap();
    }
    let producer: FutureProducer = outcry_runtime::kafka::producer(&kafka, "test").unwrap();
    let records = [
        letter(
            "scorer",
            "decode_error",
            "t-in",
            b"\xff\x00raw",
            "not a Mention",
        ),
        letter(
            "router",
            "unknown_brand",
            "t-scored",
            b"hello",
            "no brand ghost",
        ),
        letter(
            "scorer",
            "output_too_large",
            "t-in",
            b"partial",
            "too large; dead letter cut to fit: original 7 of 9000 bytes, key 2 of 2 bytes",
        ),
        b"\xff\xff\xff not a dead letter".to_vec(),
    ];
    for payload in &records {
        producer
            .send(
                FutureRecord::to("outcry.deadletter.v1")
                    .key("k")
                    .payload(payload),
                Duration::from_secs(5),
            )
            .await
            .unwrap();
    }

    let listing = {
        let brokers = brokers.clone();
        tokio::task::spawn_blocking(move || dead_letters(&brokers, &["--stage", "router"]))
    };
    let (lines, stderr) = listing.await.unwrap();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["reason"], "unknown_brand");
    assert_eq!(lines[0]["original"], "hello");
    assert_eq!(lines[0]["source_offset"], 41);
    assert_eq!(lines[0]["offset"], 1);
    assert!(
        stderr.contains("1 dead letters listed, 0 replayed, 1 records not dead letters"),
        "{stderr}"
    );

    let replay = {
        let brokers = brokers.clone();
        tokio::task::spawn_blocking(move || dead_letters(&brokers, &["--replay"]))
    };
    let (lines, stderr) = replay.await.unwrap();
    assert_eq!(lines.len(), 3, "{lines:?}");
    // a non-UTF-8 original is shown as base64
    assert_eq!(lines[0]["original"]["base64"], "/wByYXc=");
    assert_eq!(lines[2]["replayable"], false);
    assert!(
        stderr.contains("3 dead letters listed, 2 replayed"),
        "{stderr}"
    );
    let back = outcry_runtime::kafka::read_partition(&kafka, "t-in", 0, 2, Duration::from_secs(3))
        .unwrap();
    assert_eq!(back.len(), 1, "the letter cut to fit is not replayed");
    assert_eq!(back[0].payload(), Some(&b"\xff\x00raw"[..]));
    assert_eq!(back[0].key(), Some(&b"k1"[..]));
    let back =
        outcry_runtime::kafka::read_partition(&kafka, "t-scored", 0, 1, Duration::from_secs(3))
            .unwrap();
    assert_eq!(back[0].payload(), Some(&b"hello"[..]));
}

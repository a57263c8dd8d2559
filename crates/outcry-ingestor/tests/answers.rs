//! What the ingestor answers and counts, against the mock cluster: bad and oversized mentions
//! get a 4xx and are counted per mention, acknowledged mentions are counted whatever the answer.

mod common;

use common::{cluster, keys, mention, metrics, post, post_with, serve, value};
use outcry_ingestor::parse::MAX_MENTION_BYTES;

const NDJSON: &str = "application/x-ndjson";

#[tokio::test]
async fn a_mention_over_the_size_ceiling_is_refused_as_too_large_not_503() {
    let (recorder, metrics) = metrics();
    let _local = metrics::set_default_local_recorder(&recorder);
    let (_cluster, config) = cluster(1, 1);
    let ingestor = serve(&config).await;
    // each field within its cap, but far more than any record kafka takes by default
    let brands = vec!["acme"; MAX_MENTION_BYTES / 6 + 1];
    let body =
        serde_json::json!({"source": "x", "external_id": "1", "text": "acme", "brands": brands});
    let answer = post(
        ingestor.addr,
        "application/json",
        body.to_string().as_bytes(),
    )
    .await;
    assert_eq!(answer.status, 400, "{:?}", answer.body);
    assert_eq!(answer.body["reason"], "too_large");
    assert_eq!(answer.body["field"], ".");
    assert_eq!(answer.body["line"], 1);
    let rejected = r#"outcry_ingestor_mentions_rejected_total{reason="too_large"}"#;
    assert_eq!(value(&metrics, rejected), 1.0);
    assert_eq!(value(&metrics, "outcry_ingestor_write_failures_total"), 0.0);
    assert!(keys(&config.kafka, &config.kafka.topics.mentions, 1, 0).is_empty());
    ingestor.stop().await;
}

#[tokio::test]
async fn a_mention_kafka_refuses_as_too_large_gets_a_400_and_the_rest_is_written() {
    let (recorder, metrics) = metrics();
    let _local = metrics::set_default_local_recorder(&recorder);
    let (_cluster, mut config) = cluster(1, 1);
    // an operator's producer limit below what the ingestor accepts
    config
        .kafka
        .properties
        .insert("message.max.bytes".into(), "1000".into());
    let ingestor = serve(&config).await;
    let big = serde_json::json!({"source": "x", "external_id": "2", "text": format!("acme {}", "a".repeat(3000))});
    let body = format!("{}\n{big}\n", mention("1"));
    let answer = post(ingestor.addr, NDJSON, body.as_bytes()).await;
    assert_eq!(answer.status, 400, "{:?}", answer.body);
    assert_eq!(answer.body["reason"], "too_large");
    assert_eq!(answer.body["line"], 2);
    assert_eq!(answer.body["accepted"], 1);
    assert!(answer.header("retry-after").is_none());
    let rejected = r#"outcry_ingestor_mentions_rejected_total{reason="too_large"}"#;
    assert_eq!(value(&metrics, rejected), 1.0);
    assert_eq!(
        value(&metrics, "outcry_ingestor_mentions_accepted_total"),
        1.0
    );
    assert_eq!(value(&metrics, "outcry_ingestor_write_failures_total"), 0.0);
    assert_eq!(
        keys(&config.kafka, &config.kafka.topics.mentions, 1, 1),
        vec!["x:1"]
    );
    ingestor.stop().await;
}

#[tokio::test]
async fn every_mention_of_a_refused_request_is_counted() {
    let (recorder, metrics) = metrics();
    let _local = metrics::set_default_local_recorder(&recorder);
    let (_cluster, mut config) = cluster(1, 1);
    config.ingestor.auth_tokens = vec!["secret".into()];
    config.ingestor.max_batch = 3;
    let ingestor = serve(&config).await;
    let auth = "authorization: Bearer secret\r\n";
    let series =
        |reason: &str| format!(r#"outcry_ingestor_mentions_rejected_total{{reason="{reason}"}}"#);

    // one bad line refuses the whole batch: the bad line under its reason, the others with it
    let body = format!(
        "{}\n{{\"source\":\"x\",\"external_id\":\"2\"}}\n{}\n",
        mention("1"),
        mention("3")
    );
    let answer = post_with(ingestor.addr, NDJSON, body.as_bytes(), auth).await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.body["errors"][0]["reason"], "invalid_field");
    assert_eq!(value(&metrics, &series("invalid_field")), 1.0);
    assert_eq!(value(&metrics, &series("batch_rejected")), 2.0);

    // five lines past a limit of three: the two past it, and the three refused with them
    let body: Vec<_> = (10..15).map(|i| mention(&i.to_string())).collect();
    let answer = post_with(ingestor.addr, NDJSON, body.join("\n").as_bytes(), auth).await;
    assert_eq!(answer.status, 400);
    assert_eq!(value(&metrics, &series("batch_too_large")), 2.0);
    assert_eq!(value(&metrics, &series("batch_rejected")), 5.0);

    // a batch without the token: all four of its mentions
    let body: Vec<_> = (20..24).map(|i| mention(&i.to_string())).collect();
    let answer = post(ingestor.addr, NDJSON, body.join("\n").as_bytes()).await;
    assert_eq!(answer.status, 401);
    assert_eq!(value(&metrics, &series("unauthorized")), 4.0);

    assert_eq!(
        value(&metrics, "outcry_ingestor_mentions_accepted_total"),
        0.0
    );
    assert!(keys(&config.kafka, &config.kafka.topics.mentions, 1, 0).is_empty());
    ingestor.stop().await;
}

#[tokio::test]
async fn a_partly_written_batch_counts_what_was_written_and_the_retry_writes_the_rest() {
    let (recorder, metrics) = metrics();
    let _local = metrics::set_default_local_recorder(&recorder);
    let (cluster, config) = cluster(2, 2);
    let topic = &config.kafka.topics.mentions;
    cluster.partition_leader(topic, 0, Some(1)).unwrap();
    cluster.partition_leader(topic, 1, Some(2)).unwrap();
    let ingestor = serve(&config).await;
    let body: Vec<_> = (0..20).map(|i| mention(&i.to_string())).collect();
    let body = body.join("\n");
    // the mentions keyed to partition 1 cannot be written
    cluster.broker_down(2).unwrap();
    let answer = post(ingestor.addr, NDJSON, body.as_bytes()).await;
    assert_eq!(answer.status, 503, "{:?}", answer.body);
    let written = answer.body["written"].as_u64().unwrap();
    let failed = answer.body["failed"].as_u64().unwrap();
    assert_eq!(written + failed, 20);
    assert!(written > 0 && failed > 0, "{:?}", answer.body);
    let accepted = "outcry_ingestor_mentions_accepted_total";
    assert_eq!(value(&metrics, accepted), written as f64);
    assert_eq!(
        value(&metrics, "outcry_ingestor_write_failures_total"),
        failed as f64
    );
    cluster.broker_up(2).unwrap();
    // the client retries as told; what was written is answered as duplicates
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let answer = loop {
        let answer = post(ingestor.addr, NDJSON, body.as_bytes()).await;
        if answer.status == 202 {
            break answer;
        }
        assert_eq!(answer.status, 503, "{:?}", answer.body);
        assert!(std::time::Instant::now() < deadline, "never written");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    // (an earlier retry may have written some more)
    assert!(answer.body["duplicates"].as_u64().unwrap() >= written);
    assert_eq!(value(&metrics, accepted), 20.0);
    let mut expected: Vec<_> = (0..20).map(|i| format!("x:{i}")).collect();
    expected.sort();
    assert_eq!(keys(&config.kafka, topic, 2, 20), expected);
    ingestor.stop().await;
}

//! Requests at the same time: one mention re-sent while its first write is in flight is written
//! once, requests past the concurrency limit are shed, and shutdown does not wait for ever on
//! a request that does not finish.

mod common;

use common::{cluster, finish, keys, mention, metrics, post, serve, start_slow, value};
use std::time::Duration;

#[tokio::test]
async fn a_mention_re_sent_during_its_first_write_is_written_once() {
    let (recorder, metrics) = metrics();
    let _local = metrics::set_default_local_recorder(&recorder);
    let (cluster, mut config) = cluster(1, 1);
    config.kafka.delivery_timeout_ms = 10_000;
    let ingestor = serve(&config).await;
    // connected and holding a producer id, so that only the write itself is slow
    let warm = post(ingestor.addr, "application/json", mention("1").as_bytes()).await;
    assert_eq!(warm.status, 202);
    // a slow broker: the re-send arrives while the first write waits for its acknowledgement
    cluster
        .broker_round_trip_time(1, Duration::from_millis(500))
        .unwrap();
    let body = mention("7");
    let (a, b) = tokio::join!(
        post(ingestor.addr, "application/json", body.as_bytes()),
        post(ingestor.addr, "application/json", body.as_bytes()),
    );
    assert_eq!(
        (a.status, b.status),
        (202, 202),
        "{:?} {:?}",
        a.body,
        b.body
    );
    let accepted: Vec<_> = [&a, &b]
        .iter()
        .map(|r| r.body["accepted"].clone())
        .collect();
    let duplicates: Vec<_> = [&a, &b]
        .iter()
        .map(|r| r.body["duplicates"].clone())
        .collect();
    assert!(
        accepted == [1, 0] && duplicates == [0, 1] || accepted == [0, 1] && duplicates == [1, 0],
        "{accepted:?} {duplicates:?}"
    );
    assert_eq!(
        value(&metrics, "outcry_ingestor_mentions_accepted_total"),
        2.0
    );
    assert_eq!(
        value(&metrics, "outcry_ingestor_mentions_duplicate_total"),
        1.0
    );
    cluster.broker_round_trip_time(1, Duration::ZERO).unwrap();
    assert_eq!(
        keys(&config.kafka, &config.kafka.topics.mentions, 1, 2),
        vec!["x:1", "x:7"]
    );
    ingestor.stop().await;
}

#[tokio::test]
async fn a_re_send_during_a_failing_write_writes_the_mention_itself() {
    let (recorder, metrics) = metrics();
    let _local = metrics::set_default_local_recorder(&recorder);
    let (cluster, config) = cluster(1, 1);
    let ingestor = serve(&config).await;
    cluster.broker_down(1).unwrap();
    let body = mention("8");
    let first = post(ingestor.addr, "application/json", body.as_bytes());
    let second = async {
        // sent while the first write is in progress, retried once that one failed
        common::wait_for(&metrics, "outcry_ingestor_requests_in_progress", 1.0).await;
        let answer = post(ingestor.addr, "application/json", body.as_bytes()).await;
        assert_eq!(answer.status, 503, "{:?}", answer.body);
        cluster.broker_up(1).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let answer = post(ingestor.addr, "application/json", body.as_bytes()).await;
            if answer.status == 202 {
                break answer;
            }
            assert!(std::time::Instant::now() < deadline, "{:?}", answer.body);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let (first, second) = tokio::join!(first, second);
    assert_eq!(first.status, 503, "{:?}", first.body);
    // the failed write freed the id: the retry wrote it, not answered it as a duplicate
    assert_eq!(second.body["accepted"], 1, "{:?}", second.body);
    assert_eq!(
        value(&metrics, "outcry_ingestor_mentions_accepted_total"),
        1.0
    );
    assert_eq!(
        keys(&config.kafka, &config.kafka.topics.mentions, 1, 1),
        vec!["x:8"]
    );
    ingestor.stop().await;
}

#[tokio::test]
async fn requests_past_the_concurrency_limit_are_shed_with_503_and_retry_after() {
    let (recorder, metrics) = metrics();
    let _local = metrics::set_default_local_recorder(&recorder);
    let (_cluster, mut config) = cluster(1, 1);
    config.ingestor.max_concurrent_requests = 1;
    let ingestor = serve(&config).await;
    let slow_body = mention("1");
    let slow = start_slow(ingestor.addr, slow_body.as_bytes()).await;
    let in_progress = "outcry_ingestor_requests_in_progress";
    common::wait_for(&metrics, in_progress, 1.0).await;
    let shed = post(ingestor.addr, "application/json", mention("2").as_bytes()).await;
    assert_eq!(shed.status, 503, "{:?}", shed.body);
    assert_eq!(shed.header("retry-after"), Some("5"));
    assert_eq!(value(&metrics, "outcry_ingestor_requests_shed_total"), 1.0);
    assert_eq!(
        value(&metrics, r#"outcry_ingestor_requests_total{status="503"}"#),
        1.0
    );
    // the request being served is not disturbed, and its end frees the slot
    let served = finish(slow, slow_body.as_bytes()).await;
    assert_eq!(served.status, 202, "{:?}", served.body);
    let retried = post(ingestor.addr, "application/json", mention("2").as_bytes()).await;
    assert_eq!(retried.status, 202, "{:?}", retried.body);
    assert_eq!(value(&metrics, in_progress), 0.0);
    assert_eq!(value(&metrics, "outcry_ingestor_requests_shed_total"), 1.0);
    ingestor.stop().await;
}

#[tokio::test]
async fn shutdown_does_not_wait_past_the_drain_timeout_for_a_stuck_request() {
    let (recorder, metrics) = metrics();
    let _local = metrics::set_default_local_recorder(&recorder);
    let (_cluster, mut config) = cluster(1, 1);
    config.shutdown.drain_timeout_secs = 1;
    let ingestor = serve(&config).await;
    // a client that sends half its request and then nothing
    let body = mention("1");
    let _stuck = start_slow(ingestor.addr, body.as_bytes()).await;
    common::wait_for(&metrics, "outcry_ingestor_requests_in_progress", 1.0).await;
    ingestor.trigger.trigger();
    let stopped = tokio::time::timeout(Duration::from_secs(20), ingestor.task).await;
    assert!(
        matches!(stopped, Ok(Ok(Ok(())))),
        "the ingestor did not stop: {stopped:?}"
    );
}

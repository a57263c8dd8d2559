//! The delivery log against librdkafka's mock cluster: a notifier that starts over from the
//! beginning of the escalations topic (its offsets lost, as after a crash before they were
//! committed) delivers nothing a webhook already accepted.

use axum::http::{HeaderMap, StatusCode};
use outcry_proto::v1::{CaseState, Delivery, Escalation};
use outcry_proto::Message as _;
use outcry_runtime::config::WebhookConfig;
use outcry_runtime::{Config, Shutdown};
use rdkafka::message::Message as _;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A webhook on loopback that keeps the `Idempotency-Key` of every request it accepts.
async fn receiver() -> (String, Arc<Mutex<Vec<String>>>) {
    let keys: Arc<Mutex<Vec<String>>> = Arc::default();
    let kept = keys.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap| {
            let kept = kept.clone();
            async move {
                let key = headers
                    .get("idempotency-key")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                kept.lock().unwrap().push(key);
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, keys)
}

async fn produce(config: &Config, ids: &[&str]) {
    let producer: FutureProducer = outcry_runtime::kafka::producer(&config.kafka, "test").unwrap();
    for id in ids {
        let e = Escalation {
            escalation_id: format!("{id}:1"),
            case_id: (*id).to_string(),
            state: CaseState::Open as i32,
            sequence: 1,
            ..Default::default()
        };
        producer
            .send(
                FutureRecord::to(&config.kafka.topics.escalations)
                    .key(id.as_bytes())
                    .payload(&e.encode_to_vec()),
                Duration::from_secs(5),
            )
            .await
            .unwrap();
    }
}

/// The deliveries on partition 0 of `topic`, with their keys, read for at most `wait`.
fn read_all(config: &Config, topic: &str, want: usize, wait: Duration) -> Vec<(String, Delivery)> {
    outcry_runtime::kafka::read_partition(&config.kafka, topic, 0, want, wait)
        .unwrap()
        .iter()
        .map(|m| {
            let key = String::from_utf8_lossy(m.key().unwrap_or_default()).to_string();
            (
                key,
                Delivery::decode(m.payload().unwrap_or_default()).unwrap(),
            )
        })
        .collect()
}

/// Runs a notifier in group `group` until `done` holds of the webhook's keys (or 30 s).
async fn run_until(
    config: &Config,
    group: &str,
    keys: &Arc<Mutex<Vec<String>>>,
    done: impl Fn(&[String]) -> bool,
) {
    let mut config = config.clone();
    config.kafka.group_prefix = group.into();
    let (trigger, shutdown) = Shutdown::new();
    let run = tokio::spawn(outcry_notifier::run(config, shutdown));
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done(&keys.lock().unwrap()) {
        assert!(Instant::now() < deadline, "{:?}", keys.lock().unwrap());
        assert!(!run.is_finished(), "the notifier stopped early");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    trigger.trigger();
    run.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notifier_starting_over_delivers_nothing_twice() {
    outcry_runtime::telemetry::metrics_handle();
    let cluster = MockCluster::new(1).unwrap();
    let (url, keys) = receiver().await;
    let mut config = Config::default();
    config.kafka.brokers = cluster.bootstrap_servers();
    for topic in config.kafka.topics.all() {
        cluster.create_topic(topic, 1, 1).unwrap();
    }
    config.notifier.webhooks = vec![WebhookConfig {
        name: "chat".into(),
        url,
        ..Default::default()
    }];
    config.notifier.initial_backoff_ms = 10;

    produce(&config, &["c1", "c2", "c3"]).await;
    run_until(&config, "first", &keys, |k| k.len() >= 3).await;
    let log = read_all(
        &config,
        &config.kafka.topics.deliveries,
        3,
        Duration::from_secs(10),
    );
    assert_eq!(
        log.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        ["chat/c1:1", "chat/c2:1", "chat/c3:1"]
    );
    assert_eq!(log[0].1.case_id, "c1");
    assert_eq!(log[0].1.webhook, "chat");
    assert_eq!(log[0].1.attempts, 1);

    // a new group starts at the beginning: c1..c3 again, then c4
    produce(&config, &["c4"]).await;
    run_until(&config, "second", &keys, |k| k.iter().any(|k| k == "c4:1")).await;
    let delivered = keys.lock().unwrap().clone();
    assert_eq!(
        delivered,
        ["c1:1", "c2:1", "c3:1", "c4:1"],
        "nothing delivered twice"
    );
    let text = outcry_runtime::telemetry::metrics_handle().render();
    assert_eq!(
        outcry_runtime::telemetry::sample_value(
            &text,
            r#"outcry_notifier_deliveries_skipped_total{webhook="chat"}"#
        ),
        Some(3.0),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_delivery_log_stops_the_notifier_with_a_clear_error() {
    let cluster = MockCluster::new(1).unwrap();
    let mut config = Config::default();
    config.kafka.brokers = cluster.bootstrap_servers();
    config.kafka.topics.deliveries = "no-such-log".into();
    cluster
        .create_topic(&config.kafka.topics.escalations, 1, 1)
        .unwrap();
    let (_trigger, shutdown) = Shutdown::new();
    let error = tokio::time::timeout(
        Duration::from_secs(90),
        outcry_notifier::run(config, shutdown),
    )
    .await
    .expect("it stops by itself")
    .unwrap_err()
    .to_string();
    assert!(error.contains("no-such-log"), "{error}");
}

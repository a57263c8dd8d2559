//! One scenario, two backends: mentions posted over HTTP come out as escalations on the
//! escalations topic and at a webhook, bad records become dead letters, and nothing is
//! duplicated.

use outcry_cli::stack::Stack;
use outcry_cli::webhook::Receiver;
use outcry_e2e::{payload, read_until, unique, Backend, TestBroker};
use outcry_proto::v1::{CaseState, DeadLetter, Escalation, EscalationKind, Priority};
use outcry_proto::Message as _;
use outcry_runtime::config::WebhookConfig;
use outcry_runtime::kafka::default_topics;
use outcry_runtime::Config;
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::{Duration, Instant};

const CONFIG: &str = r#"
shutdown:
  drain_timeout_secs: 10
notifier:
  initial_backoff_ms: 20
  max_backoff_ms: 200
brands:
  - id: acme
    name: Acme Air
    keywords: ["@acmeair"]
    team: acme-care
    rules:
      - name: legal
        signals_any: [legal_threat]
        team: acme-legal
        priority: 1
        sla_minutes: 30
      - name: influential-complaint
        min_complaint_probability: 0.5
        max_compound: -0.2
        min_followers: 10000
        priority: 2
        sla_minutes: 60
"#;

fn config(brokers: String, webhook: &Receiver) -> Config {
    let mut config = Config::from_yaml(CONFIG).unwrap();
    config.kafka.brokers = brokers;
    config.kafka.group_prefix = unique("e2e");
    config.kafka.topics.add_suffix(&format!("-{}", unique("t")));
    config.ingestor.listen = "127.0.0.1:0".parse().unwrap();
    config.telemetry.admin_addr = "127.0.0.1:0".parse().unwrap();
    config.notifier.webhooks = vec![WebhookConfig {
        name: "crm".into(),
        url: webhook.url(),
        ..Default::default()
    }];
    config
}

fn mention(id: &str, text: &str, followers: u64) -> Value {
    json!({"source": "x", "external_id": id, "text": text, "author": {"id": format!("a-{id}"), "handle": format!("h{id}"), "followers": followers}})
}

async fn post(url: &str, content_type: &str, body: String) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(url)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn scenario(backend: Backend) {
    let broker = TestBroker::start(backend).unwrap();
    let receiver = Receiver::start().await.unwrap();
    // the first two webhook attempts fail: the notifier must retry, not drop
    receiver.fail_next(2);
    let mut config = config(broker.bootstrap_servers(), &receiver);
    config.kafka.properties.extend(broker.client_properties());
    broker
        .create_topics(&config.kafka, &default_topics(&config.kafka, 3))
        .await
        .unwrap();
    let stack = Stack::start(config.clone()).await.unwrap();
    let url = stack.ingest_url();

    // a batch: one legal threat, one influential complaint, praise that escalates nothing
    let batch = [
        mention(
            "1",
            "@acmeair I am contacting my lawyer about my lost luggage, this is unacceptable",
            120,
        ),
        mention(
            "2",
            "@acmeair worst airline ever, cancelled my flight and nobody answers. Furious!",
            250_000,
        ),
        mention(
            "3",
            "@acmeair thanks for the lovely flight, great crew :)",
            80,
        ),
    ]
    .iter()
    .map(Value::to_string)
    .collect::<Vec<_>>()
    .join("\n");
    let (status, answer) = post(&url, "application/x-ndjson", batch.clone()).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["accepted"], 3);

    // re-sending the same batch writes nothing twice
    let (status, answer) = post(&url, "application/x-ndjson", batch).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["accepted"], 0);
    assert_eq!(answer["duplicates"], 3);

    // bad input: a clear 400 naming line and field, and nothing of the batch is written
    let bad = format!("{}\n{{\"source\":\"x\",\"external_id\":\"5\",\"text\":\"hi\",\"author\":{{\"followers\":-1}}}}", mention("4", "@acmeair my lawyer will call", 5));
    let (status, answer) = post(&url, "application/x-ndjson", bad).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["line"], 2);
    assert_eq!(answer["field"], "author.followers");

    // an undecodable record on the mentions topic becomes a dead letter; the scorer goes on
    let producer: FutureProducer = outcry_runtime::kafka::producer(&config.kafka, "test").unwrap();
    producer
        .send(
            FutureRecord::to(&config.kafka.topics.mentions)
                .key("junk")
                .payload(&b"\xff\x00not protobuf"[..]),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    let (status, _) = post(
        &url,
        "application/json",
        mention("6", "@acmeair I will sue you, see you in court", 40).to_string(),
    )
    .await;
    assert_eq!(status, 202);

    let escalations = read_until(
        &config.kafka,
        &config.kafka.topics.escalations,
        Duration::from_secs(90),
        |m| m.len() >= 3,
    )
    .await
    .unwrap();
    let decoded: Vec<Escalation> = escalations
        .iter()
        .map(|m| Escalation::decode(payload(m)).unwrap())
        .collect();
    assert_eq!(decoded.len(), 3, "{decoded:#?}");
    for (m, e) in escalations.iter().zip(&decoded) {
        assert_eq!(
            m.key(),
            Some(e.case_id.as_bytes()),
            "escalations are keyed by case id"
        );
        assert_eq!(e.kind, EscalationKind::Mention as i32);
        assert_eq!(e.state, CaseState::Open as i32);
        assert!(!e.explanation.as_ref().unwrap().text.is_empty());
    }
    let legal: Vec<_> = decoded.iter().filter(|e| e.team == "acme-legal").collect();
    assert_eq!(legal.len(), 2, "{decoded:#?}");
    assert!(legal.iter().all(|e| e.priority == Priority::P1 as i32));
    assert!(legal.iter().all(|e| e
        .explanation
        .as_ref()
        .unwrap()
        .signals
        .iter()
        .any(|s| s.name == "legal_threat")));
    let influential: Vec<_> = decoded.iter().filter(|e| e.team == "acme-care").collect();
    assert_eq!(influential.len(), 1, "{decoded:#?}");
    assert_eq!(influential[0].reach, 250_000);
    let ids: HashSet<_> = decoded.iter().map(|e| e.escalation_id.clone()).collect();
    assert_eq!(ids.len(), 3, "no duplicate records");

    let letters = read_until(
        &config.kafka,
        &config.kafka.topics.dead_letters,
        Duration::from_secs(30),
        |m| !m.is_empty(),
    )
    .await
    .unwrap();
    assert_eq!(letters.len(), 1);
    let letter = DeadLetter::decode(payload(&letters[0])).unwrap();
    assert_eq!(letter.stage, "scorer");
    assert_eq!(letter.reason, "decode_error");
    assert_eq!(letter.original, b"\xff\x00not protobuf");
    assert_eq!(letter.source_topic, config.kafka.topics.mentions);

    // the webhook got every escalation, after retrying the two failures
    let deadline = Instant::now() + Duration::from_secs(30);
    while receiver.count() < 3 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let delivered: HashSet<String> = receiver
        .received()
        .iter()
        .map(|r| r.idempotency_key.clone())
        .collect();
    assert_eq!(delivered, ids);
    assert_eq!(receiver.count(), 3, "each escalation delivered once");
    assert_eq!(receiver.attempts(), 5, "two failed attempts were retried");
    let body = &receiver.received()[0].body;
    assert!(body["case_id"].as_str().is_some() && body["priority"].as_str().is_some());

    for (service, outcome) in stack.stop().await {
        assert!(
            outcome.is_ok(),
            "{service} did not stop cleanly: {outcome:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn escalations_reach_topic_and_webhook_on_the_mock_cluster() {
    scenario(Backend::Mock).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn escalations_reach_topic_and_webhook_on_a_real_broker() {
    scenario(Backend::Real).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn escalations_reach_topic_and_webhook_on_a_real_broker_over_mutual_tls() {
    scenario(Backend::RealTls).await;
}

/// Whether a client with `properties` gets the cluster's metadata within a few seconds.
fn metadata_with(brokers: &str, properties: &[(String, String)]) -> Result<(), String> {
    let mut kafka = outcry_runtime::config::KafkaConfig {
        brokers: brokers.to_string(),
        ..Default::default()
    };
    kafka.properties.extend(properties.iter().cloned());
    let consumer: rdkafka::consumer::BaseConsumer =
        outcry_runtime::kafka::client_config(&kafka, "tls-check")
            .create()
            .map_err(|e| e.to_string())?;
    rdkafka::consumer::Consumer::fetch_metadata(&consumer, None, Duration::from_secs(4))
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[test]
fn a_tls_broker_refuses_clients_without_the_right_certificates() {
    let broker = TestBroker::start(Backend::RealTls).unwrap();
    let tls = broker.tls().unwrap();
    let brokers = broker.bootstrap_servers();
    // the right CA and a client certificate it signed
    metadata_with(&brokers, &broker.client_properties()).unwrap();
    // in plaintext: no answer
    assert!(metadata_with(&brokers, &[]).is_err());
    // a CA that did not sign the broker's certificate: the client refuses the broker
    assert!(metadata_with(&brokers, &tls.client_properties(&tls.other_ca)).is_err());
    // no client certificate: the broker side refuses the client
    let without_cert: Vec<_> = broker
        .client_properties()
        .into_iter()
        .filter(|(k, _)| !k.starts_with("ssl.certificate") && !k.starts_with("ssl.key"))
        .collect();
    assert!(metadata_with(&brokers, &without_cert).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ingestor_answers_503_with_retry_after_when_the_broker_is_down() {
    let broker = TestBroker::start(Backend::Mock).unwrap();
    let receiver = Receiver::start().await.unwrap();
    let mut config = config(broker.bootstrap_servers(), &receiver);
    config.kafka.delivery_timeout_ms = 1500;
    broker
        .create_topics(&config.kafka, &default_topics(&config.kafka, 1))
        .await
        .unwrap();
    let stack = Stack::start(config.clone()).await.unwrap();
    let (status, _) = post(
        &stack.ingest_url(),
        "application/json",
        mention("1", "@acmeair hello", 1).to_string(),
    )
    .await;
    assert_eq!(status, 202);
    broker.mock().unwrap().broker_down(1).unwrap();
    let response = reqwest::Client::new()
        .post(stack.ingest_url())
        .header("content-type", "application/json")
        .body(mention("2", "@acmeair hello again", 1).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 503);
    assert_eq!(response.headers().get("retry-after").unwrap(), "5");
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["failed"], 1);
    broker.mock().unwrap().broker_up(1).unwrap();
    // the client retries as told, and the mention is written once
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, answer) = post(
            &stack.ingest_url(),
            "application/json",
            mention("2", "@acmeair hello again", 1).to_string(),
        )
        .await;
        if status == 202 {
            assert_eq!(answer["accepted"], 1);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the ingestor did not recover: {status} {answer}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let mentions = read_until(
        &config.kafka,
        &config.kafka.topics.mentions,
        Duration::from_secs(20),
        |m| m.len() >= 2,
    )
    .await
    .unwrap();
    let keys: Vec<_> = mentions
        .iter()
        .map(|m| String::from_utf8_lossy(m.key().unwrap_or_default()).to_string())
        .collect();
    assert!(
        keys.contains(&"x:1".to_string()) && keys.contains(&"x:2".to_string()),
        "{keys:?}"
    );
    stack.stop().await;
}

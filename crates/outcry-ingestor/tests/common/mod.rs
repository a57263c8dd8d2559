//! An ingestor on loopback in front of librdkafka's in-process mock cluster, a bare HTTP/1.1
//! client (so a test can also send half a request), and the ingestor's metrics.
//!
//! Tests run on a current-thread runtime and record metrics into a recorder of their own
//! (`metrics::set_default_local_recorder`): the server's tasks run on the test's thread, so
//! counters are not shared with the tests running beside it.

#![allow(dead_code)]

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use outcry_runtime::config::KafkaConfig;
use outcry_runtime::Config;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;
use rdkafka::{Offset, TopicPartitionList};
use serde_json::Value;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub type Cluster = MockCluster<'static, DefaultProducerContext>;

/// A mock cluster of `brokers` with the mentions topic in `partitions`, and a config that
/// points an ingestor at it.
pub fn cluster(brokers: i32, partitions: i32) -> (Cluster, Config) {
    let cluster = MockCluster::new(brokers).unwrap();
    let mut config = Config::from_yaml(
        r#"
shutdown:
  drain_timeout_secs: 5
brands:
  - id: acme
    keywords: ["acme"]
    team: care
"#,
    )
    .unwrap();
    config.kafka.brokers = cluster.bootstrap_servers();
    config.kafka.delivery_timeout_ms = 1500;
    config.ingestor.listen = "127.0.0.1:0".parse().unwrap();
    cluster
        .create_topic(&config.kafka.topics.mentions, partitions, 1)
        .unwrap();
    (cluster, config)
}

/// A recorder for this test's metrics; keep the returned value alive while the test runs.
pub fn metrics() -> (PrometheusRecorder, PrometheusHandle) {
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    (recorder, handle)
}

/// The value of one series (`name` or `name{label="value"}`) in `metrics`; 0 when absent.
pub fn value(metrics: &PrometheusHandle, series: &str) -> f64 {
    outcry_runtime::telemetry::sample_value(&metrics.render(), series).unwrap_or(0.0)
}

/// Waits (bounded) until `series` reads `expected`.
pub async fn wait_for(metrics: &PrometheusHandle, series: &str, expected: f64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while value(metrics, series) != expected {
        assert!(
            Instant::now() < deadline,
            "{series} never reached {expected}:\n{}",
            metrics.render()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn mention(id: &str) -> String {
    serde_json::json!({"source": "x", "external_id": id, "text": "acme lost my bag"}).to_string()
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn head(addr: SocketAddr, content_type: &str, length: usize, extra: &str) -> String {
    format!(
        "POST /v1/mentions HTTP/1.1\r\nhost: {addr}\r\ncontent-type: {content_type}\r\ncontent-length: {length}\r\nconnection: close\r\n{extra}\r\n"
    )
}

/// Reads an answer to the end of the connection.
pub async fn answer(mut stream: TcpStream) -> Answer {
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut raw))
        .await
        .expect("no answer within a minute")
        .unwrap();
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").expect("an http answer");
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    Answer {
        status,
        headers,
        body: serde_json::from_str(body).unwrap_or(Value::Null),
    }
}

/// POSTs `body` to the ingestor at `addr`, with the `extra` header lines (each ending `\r\n`).
pub async fn post_with(addr: SocketAddr, content_type: &str, body: &[u8], extra: &str) -> Answer {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(head(addr, content_type, body.len(), extra).as_bytes())
        .await
        .unwrap();
    stream.write_all(body).await.unwrap();
    answer(stream).await
}

pub async fn post(addr: SocketAddr, content_type: &str, body: &[u8]) -> Answer {
    post_with(addr, content_type, body, "").await
}

/// Sends the headers and the first half of a request for `body`, and holds the rest: a slow
/// client. Send the rest with `finish`.
pub async fn start_slow(addr: SocketAddr, body: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(head(addr, "application/json", body.len(), "").as_bytes())
        .await
        .unwrap();
    stream.write_all(&body[..body.len() / 2]).await.unwrap();
    stream
}

pub async fn finish(mut stream: TcpStream, body: &[u8]) -> Answer {
    stream.write_all(&body[body.len() / 2..]).await.unwrap();
    answer(stream).await
}

/// The keys of every record in `topic` (partitions `0..partitions`), reading for at most 3
/// seconds or until more than `expected` arrived, so that a short wait also shows that
/// nothing extra was written.
pub fn keys(kafka: &KafkaConfig, topic: &str, partitions: i32, expected: usize) -> Vec<String> {
    let consumer: BaseConsumer = outcry_runtime::kafka::client_config(kafka, "read")
        .set("group.id", "reader")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut out = Vec::new();
    while out.len() <= expected && Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            out.push(String::from_utf8_lossy(m.key().unwrap_or_default()).to_string());
        }
    }
    out.sort();
    out
}

/// A serving ingestor.
pub struct Running {
    pub addr: SocketAddr,
    pub trigger: outcry_runtime::shutdown::ShutdownTrigger,
    pub task: tokio::task::JoinHandle<Result<(), outcry_ingestor::IngestorError>>,
}

pub async fn start(ingestor: outcry_ingestor::Ingestor) -> Running {
    let addr = ingestor.local_addr().unwrap();
    let (trigger, shutdown) = outcry_runtime::Shutdown::new();
    let task = tokio::spawn(ingestor.serve(shutdown));
    Running {
        addr,
        trigger,
        task,
    }
}

pub async fn serve(config: &Config) -> Running {
    start(outcry_ingestor::Ingestor::bind(config).await.unwrap()).await
}

impl Running {
    /// Shuts down and waits (bounded) for the drain.
    pub async fn stop(self) {
        self.trigger.trigger();
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("the ingestor did not stop")
            .unwrap()
            .unwrap();
    }
}

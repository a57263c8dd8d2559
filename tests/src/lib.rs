//! Test harness: brokers to run one scenario against, and helpers to read topics.
//!
//! Backends: librdkafka's in-process mock cluster, and a real Kafka-protocol broker process
//! (Tansu, a Kafka-compatible broker in Rust). The real broker binary is found through
//! `OUTCRY_BROKER_BIN`; `make test` installs one and sets it.

use anyhow::{bail, Context as _};
use outcry_cli::broker::Broker;
use outcry_runtime::config::KafkaConfig;
use outcry_runtime::kafka::TopicSpec;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Message, OwnedMessage};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Which broker a scenario runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Mock,
    Real,
}

/// A running broker; a real one is killed on drop.
pub struct TestBroker {
    broker: Broker,
    child: Option<Child>,
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

impl TestBroker {
    pub fn start(backend: Backend) -> anyhow::Result<TestBroker> {
        match backend {
            Backend::Mock => Ok(TestBroker {
                broker: Broker::embedded()?,
                child: None,
            }),
            Backend::Real => {
                let bin = std::env::var("OUTCRY_BROKER_BIN").context(
                    "OUTCRY_BROKER_BIN is not set: run `make test`, which installs a real Kafka-protocol broker, or point it at a tansu binary",
                )?;
                let port = free_port()?;
                let url = format!("tcp://127.0.0.1:{port}");
                let child = Command::new(&bin)
                    .args([
                        "broker",
                        "--listener-url",
                        &url,
                        "--advertised-listener-url",
                        &url,
                        "--storage-engine",
                        "memory://tansu/",
                    ])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .with_context(|| format!("starting the broker {bin}"))?;
                let broker = TestBroker {
                    broker: Broker::External(format!("127.0.0.1:{port}")),
                    child: Some(child),
                };
                let deadline = Instant::now() + Duration::from_secs(15);
                while TcpStream::connect(("127.0.0.1", port)).is_err() {
                    if Instant::now() > deadline {
                        bail!("the broker did not listen on 127.0.0.1:{port} within 15s");
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                Ok(broker)
            }
        }
    }

    pub fn bootstrap_servers(&self) -> String {
        self.broker.bootstrap_servers()
    }

    pub fn mock(
        &self,
    ) -> Option<&rdkafka::mocking::MockCluster<'static, rdkafka::producer::DefaultProducerContext>>
    {
        match &self.broker {
            Broker::Embedded(cluster) => Some(cluster),
            Broker::External(_) => None,
        }
    }

    pub async fn create_topics(
        &self,
        kafka: &KafkaConfig,
        topics: &[TopicSpec],
    ) -> anyhow::Result<()> {
        self.broker.create_topics(kafka, topics).await
    }
}

/// A name no other test run uses.
pub fn unique(prefix: &str) -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    format!(
        "{prefix}-{}-{}-{n}",
        std::process::id(),
        outcry_runtime::time::now_millis()
    )
}

/// Reads `topic` from the beginning (read_committed, a fresh group) until `done` says so or
/// `timeout` passes; returns what it read.
pub async fn read_until(
    kafka: &KafkaConfig,
    topic: &str,
    timeout: Duration,
    mut done: impl FnMut(&[OwnedMessage]) -> bool,
) -> anyhow::Result<Vec<OwnedMessage>> {
    let consumer: StreamConsumer =
        outcry_runtime::kafka::consumer(kafka, "test-reader", &unique("reader"))?;
    consumer.subscribe(&[topic])?;
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    while !done(&out) {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            break;
        }
        if let Ok(Ok(m)) = tokio::time::timeout(remaining, consumer.recv()).await {
            out.push(m.detach());
        }
    }
    outcry_runtime::kafka::close_within(consumer, Duration::from_secs(10)).await;
    Ok(out)
}

/// The payload of a message, empty when absent.
pub fn payload(m: &OwnedMessage) -> &[u8] {
    m.payload().unwrap_or_default()
}

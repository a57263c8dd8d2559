//! The delivery log: which webhook accepted which escalation record, on a topic of its own
//! (`kafka.topics.deliveries`, `outcry.v1.Delivery` keyed `<webhook>/<escalation_id>`).
//!
//! The notifier stores an escalation's offset only after every webhook accepted it, so a
//! notifier killed in between, or a partition moving to another instance, replays records
//! some webhooks already have. A CRM deduplicates on the `Idempotency-Key`; Slack, a pager
//! or a mailbox do not. So each delivery is written to the log as an output of its record
//! (acknowledged before the offset is stored), and a notifier reads the whole log when it
//! starts and skips what it lists. What is left: a crash after a webhook accepted a record
//! and before its log record was acknowledged still delivers that record again, and a record
//! that failed for some webhook becomes a dead letter without log records for the others.

use outcry_proto::v1::Delivery;
use outcry_proto::Message as _;
use outcry_runtime::config::KafkaConfig;
use outcry_runtime::dedup::DedupWindow;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Deliveries remembered, the most recent kept: at about 100 bytes each, 50 MB at most.
pub const CAPACITY: usize = 500_000;

/// The log key of `escalation_id` delivered to `webhook` (webhook names have no `/`).
pub fn key(webhook: &str, escalation_id: &str) -> String {
    format!("{webhook}/{escalation_id}")
}

/// Why the log could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("delivery log {topic}: {source}")]
    Kafka {
        topic: String,
        #[source]
        source: KafkaError,
    },
    #[error("delivery log {0} does not exist: create it (compacted, as many partitions as you like) before starting the notifier")]
    Missing(String),
    #[error("delivery log {topic}: not read to its end within {timeout:?} ({read} records read)")]
    Timeout {
        topic: String,
        timeout: Duration,
        read: usize,
    },
}

/// Reads `topic` from its start to its end as it is now, within `timeout`: the keys of
/// every delivery in it, the most recent [`CAPACITY`].
pub fn load(kafka: &KafkaConfig, topic: &str, timeout: Duration) -> Result<DedupWindow, LoadError> {
    let kafka_err = |source| LoadError::Kafka {
        topic: topic.to_string(),
        source,
    };
    let consumer: BaseConsumer = outcry_runtime::kafka::client_config(kafka, "delivery-log")
        .set(
            "group.id",
            format!("{}.notifier-log-reader", kafka.group_prefix),
        )
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .create()
        .map_err(kafka_err)?;
    let deadline = Instant::now() + timeout;
    let metadata = consumer
        .fetch_metadata(Some(topic), timeout)
        .map_err(kafka_err)?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .filter(|t| t.name() == topic && t.error().is_none())
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    if partitions.is_empty() {
        return Err(LoadError::Missing(topic.to_string()));
    }
    // the end of each partition now; what is written after is this notifier's own
    let mut ends: HashMap<i32, i64> = HashMap::new();
    let mut assignment = TopicPartitionList::new();
    for &p in &partitions {
        let left = deadline.saturating_duration_since(Instant::now());
        let (low, high) = consumer
            .fetch_watermarks(topic, p, left)
            .map_err(kafka_err)?;
        if high > low {
            ends.insert(p, high);
            assignment
                .add_partition_offset(topic, p, Offset::Beginning)
                .map_err(kafka_err)?;
        }
    }
    let mut seen = DedupWindow::new(CAPACITY);
    if ends.is_empty() {
        return Ok(seen);
    }
    consumer.assign(&assignment).map_err(kafka_err)?;
    let mut read = 0;
    while !ends.is_empty() {
        if Instant::now() >= deadline {
            return Err(LoadError::Timeout {
                topic: topic.to_string(),
                timeout,
                read,
            });
        }
        let Some(message) = consumer.poll(Duration::from_millis(200)) else {
            // nothing more to read: a partition whose last offsets are not records (the
            // markers of transactions) is read once its position passes its end
            if let Ok(positions) = consumer.position() {
                for e in positions.elements() {
                    if let (Offset::Offset(at), Some(&end)) = (e.offset(), ends.get(&e.partition()))
                    {
                        if at >= end {
                            ends.remove(&e.partition());
                        }
                    }
                }
            }
            continue;
        };
        let message = message.map_err(kafka_err)?;
        read += 1;
        // the key says it all; a value that does not decode is still a delivery
        if let Some(k) = message.key().and_then(|k| std::str::from_utf8(k).ok()) {
            seen.insert(k);
        } else if let Some(d) = message.payload().and_then(|v| Delivery::decode(v).ok()) {
            seen.insert(&key(&d.webhook, &d.escalation_id));
        }
        let p = message.partition();
        if ends.get(&p).is_some_and(|&end| message.offset() + 1 >= end) {
            ends.remove(&p);
        }
    }
    Ok(seen)
}

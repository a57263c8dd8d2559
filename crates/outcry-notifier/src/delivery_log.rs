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
use outcry_runtime::kafka::{read_to_end, ReadToEndError};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use std::time::Duration;

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
/// every delivery in it, the most recent [`CAPACITY`]. What is written after is this
/// notifier's own.
pub fn load(kafka: &KafkaConfig, topic: &str, timeout: Duration) -> Result<DedupWindow, LoadError> {
    let mut seen = DedupWindow::new(CAPACITY);
    let read = read_to_end(kafka, "notifier-log-reader", topic, timeout, |message| {
        // the key says it all; a value that does not decode is still a delivery
        if let Some(k) = message.key().and_then(|k| std::str::from_utf8(k).ok()) {
            seen.insert(k);
        } else if let Some(d) = message.payload().and_then(|v| Delivery::decode(v).ok()) {
            seen.insert(&key(&d.webhook, &d.escalation_id));
        }
    });
    match read {
        Ok(_) => Ok(seen),
        Err(ReadToEndError::Missing) => Err(LoadError::Missing(topic.to_string())),
        Err(ReadToEndError::Timeout { timeout, read }) => Err(LoadError::Timeout {
            topic: topic.to_string(),
            timeout,
            read,
        }),
        Err(ReadToEndError::Kafka(source)) => Err(LoadError::Kafka {
            topic: topic.to_string(),
            source,
        }),
    }
}

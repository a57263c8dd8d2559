//! Reading topics without joining a consumer group: what tests, tools and a service reading
//! back a log of its own at start need.

use super::client_config;
use crate::config::KafkaConfig;
use rdkafka::error::KafkaError;
use std::collections::HashMap;
use std::time::Duration;

/// Reads partition `partition` of `topic` from its start, without a consumer group, until
/// `want` records arrived or `wait` passed: for tests and tools that check what a topic holds.
pub fn read_partition(
    kafka: &KafkaConfig,
    topic: &str,
    partition: i32,
    want: usize,
    wait: Duration,
) -> Result<Vec<rdkafka::message::OwnedMessage>, KafkaError> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let consumer: BaseConsumer = client_config(kafka, "read")
        .set("group.id", format!("{}.reader", kafka.group_prefix))
        .set("enable.auto.commit", "false")
        .create()?;
    let mut assignment = rdkafka::TopicPartitionList::new();
    assignment.add_partition_offset(topic, partition, rdkafka::Offset::Beginning)?;
    consumer.assign(&assignment)?;
    let deadline = std::time::Instant::now() + wait;
    let mut out = Vec::new();
    while out.len() < want && std::time::Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            out.push(m.detach());
        }
    }
    Ok(out)
}

/// Why [`read_to_end`] stopped short.
#[derive(Debug, thiserror::Error)]
pub enum ReadToEndError {
    #[error(transparent)]
    Kafka(#[from] KafkaError),
    #[error("the topic does not exist")]
    Missing,
    #[error("not read to its end within {timeout:?} ({read} records read)")]
    Timeout { timeout: Duration, read: usize },
}

/// Reads every partition of `topic` from its start to its end as it is when called (what is
/// written after is not waited for), handing each record to `each`, within `timeout`;
/// returns how many records it read. `read_committed`, without a consumer group: for a
/// service reading back a log of its own at start, and for tools.
pub fn read_to_end(
    kafka: &KafkaConfig,
    role: &str,
    topic: &str,
    timeout: Duration,
    each: impl FnMut(&rdkafka::message::BorrowedMessage<'_>),
) -> Result<usize, ReadToEndError> {
    read_partitions(kafka, role, topic, None, timeout, each)
}

/// Reads partition `partition` of `topic` over `from .. to` (`to` exclusive; from its start,
/// and to its end as it is when called, where not given), as [`read_to_end`] reads a whole
/// topic: records before the partition's start (deleted by retention) are not there to read.
/// A partition that does not exist is [`ReadToEndError::Missing`].
pub fn read_range(
    kafka: &KafkaConfig,
    role: &str,
    topic: &str,
    partition: i32,
    (from, to): (Option<i64>, Option<i64>),
    timeout: Duration,
    each: impl FnMut(&rdkafka::message::BorrowedMessage<'_>),
) -> Result<usize, ReadToEndError> {
    read_partitions(
        kafka,
        role,
        topic,
        Some((partition, from, to)),
        timeout,
        each,
    )
}

fn read_partitions(
    kafka: &KafkaConfig,
    role: &str,
    topic: &str,
    only: Option<(i32, Option<i64>, Option<i64>)>,
    timeout: Duration,
    mut each: impl FnMut(&rdkafka::message::BorrowedMessage<'_>),
) -> Result<usize, ReadToEndError> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::Message;
    use rdkafka::{Offset, TopicPartitionList};
    let consumer: BaseConsumer = client_config(kafka, role)
        .set("group.id", format!("{}.{role}", kafka.group_prefix))
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .create()?;
    let deadline = std::time::Instant::now() + timeout;
    let metadata = consumer.fetch_metadata(Some(topic), timeout)?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .filter(|t| t.name() == topic && t.error().is_none())
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .filter(|&p| only.is_none_or(|(wanted, _, _)| p == wanted))
        .collect();
    if partitions.is_empty() {
        return Err(ReadToEndError::Missing);
    }
    let (from, to) = only.map_or((None, None), |(_, from, to)| (from, to));
    // where each partition is read to
    let mut ends: HashMap<i32, i64> = HashMap::new();
    let mut assignment = TopicPartitionList::new();
    for &p in &partitions {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let (low, high) = consumer.fetch_watermarks(topic, p, left)?;
        let start = from.map_or(low, |from| from.max(low));
        let end = to.map_or(high, |to| to.min(high));
        if end > start {
            ends.insert(p, end);
            assignment.add_partition_offset(topic, p, Offset::Offset(start))?;
        }
    }
    if ends.is_empty() {
        return Ok(0);
    }
    consumer.assign(&assignment)?;
    let mut read = 0;
    while !ends.is_empty() {
        if std::time::Instant::now() >= deadline {
            return Err(ReadToEndError::Timeout { timeout, read });
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
        let message = message?;
        let p = message.partition();
        let Some(&end) = ends.get(&p) else { continue };
        if message.offset() >= end {
            ends.remove(&p);
            continue;
        }
        read += 1;
        each(&message);
        if message.offset() + 1 >= end {
            ends.remove(&p);
        }
    }
    Ok(read)
}

/// The offsets consumer group `group` has committed on `partitions` of `topic`, without
/// joining it: a partition with none is left out. Blocks, for up to `timeout`.
pub fn committed_offsets(
    kafka: &KafkaConfig,
    group: &str,
    topic: &str,
    partitions: &[i32],
    timeout: Duration,
) -> Result<HashMap<i32, i64>, KafkaError> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let consumer: BaseConsumer = client_config(kafka, "offsets")
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()?;
    let mut wanted = rdkafka::TopicPartitionList::new();
    for &p in partitions {
        wanted.add_partition(topic, p);
    }
    let committed = consumer.committed_offsets(wanted, timeout)?;
    Ok(committed
        .elements()
        .iter()
        .filter_map(|e| Some((e.partition(), e.offset().to_raw().filter(|&o| o >= 0)?)))
        .collect())
}

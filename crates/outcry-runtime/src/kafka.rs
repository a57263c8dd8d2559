//! Kafka clients with Outcry's settings, and the one place Kafka errors are classified.

use crate::config::KafkaConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{ConsumerContext, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::FutureProducer;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

/// Common client settings: brokers, client id, and the pass-through properties.
pub fn client_config(kafka: &KafkaConfig, role: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &kafka.brokers)
        .set("client.id", format!("{}-{role}", kafka.client_id))
        .set("log_level", "4");
    for (key, value) in &kafka.properties {
        config.set(key, value);
    }
    config
}

/// An idempotent producer that waits for every in-sync replica (`acks=all`): a write is
/// acknowledged only when it cannot be lost, and retries never duplicate or reorder it.
pub fn producer(kafka: &KafkaConfig, role: &str) -> Result<FutureProducer, KafkaError> {
    let mut config = client_config(kafka, role);
    config
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("message.timeout.ms", kafka.delivery_timeout_ms.to_string())
        .set("queue.buffering.max.messages", "100000");
    // pass-through properties win, so an operator can tune batching
    for (key, value) in &kafka.properties {
        config.set(key, value);
    }
    config.create()
}

/// The largest record the producer accepts (`message.max.bytes`, librdkafka's default
/// unless the properties set it): a larger one is refused locally with `MessageSizeTooLarge`.
pub fn message_max_bytes(kafka: &KafkaConfig) -> usize {
    kafka
        .properties
        .get("message.max.bytes")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(1_000_000)
}

/// A consumer in `group` that never commits an offset the service has not stored: offsets are
/// stored by the pipeline after the output is acknowledged, and committed in the background.
pub fn consumer(
    kafka: &KafkaConfig,
    role: &str,
    group: &str,
) -> Result<StreamConsumer, KafkaError> {
    consumer_config(kafka, role, group).create()
}

/// The same consumer, also exporting its lag per partition as
/// `outcry_<service>_consumer_lag_records{topic,partition}` every 10 seconds.
pub fn lag_reporting_consumer(
    kafka: &KafkaConfig,
    service: &'static str,
    group: &str,
) -> Result<StreamConsumer<LagContext>, KafkaError> {
    let mut config = consumer_config(kafka, service, group);
    if !kafka.properties.contains_key("statistics.interval.ms") {
        config.set("statistics.interval.ms", "10000");
    }
    let gauge = format!("outcry_{service}_consumer_lag_records");
    metrics::describe_gauge!(
        gauge.clone(),
        metrics::Unit::Count,
        "records between the consumer's position and the end of each assigned partition"
    );
    config.create_with_context(LagContext {
        gauge,
        reported: Mutex::default(),
    })
}

/// Turns librdkafka's statistics into the consumer-lag gauge.
pub struct LagContext {
    gauge: String,
    /// Partitions whose lag this consumer exports, to zero once it stops fetching them.
    reported: Mutex<HashSet<(String, i32)>>,
}

impl rdkafka::client::ClientContext for LagContext {
    fn stats(&self, statistics: rdkafka::Statistics) {
        let mut reported = self
            .reported
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (topic, partition, lag) in lag_updates(&statistics, &mut reported) {
            metrics::gauge!(self.gauge.clone(), "topic" => topic, "partition" => partition.to_string())
                .set(lag as f64);
        }
    }
}

/// The lag values to export from one statistics report, as `(topic, partition, lag)`.
///
/// Only partitions this consumer is fetching count (librdkafka keeps reporting a partition
/// for a while after a rebalance took it away, with the lag it had then; partition -1 is
/// its internal unassigned queue). A partition reported before and no longer fetched goes to
/// 0: its new owner reports its lag, and a stale value here would keep the lag alert firing.
fn lag_updates(
    statistics: &rdkafka::Statistics,
    reported: &mut HashSet<(String, i32)>,
) -> Vec<(String, i32, i64)> {
    let mut updates = Vec::new();
    let mut fetching = HashSet::new();
    for (topic, t) in &statistics.topics {
        for (&partition, p) in &t.partitions {
            if partition < 0 || p.fetch_state != "active" {
                continue;
            }
            fetching.insert((topic.clone(), partition));
            // -1 while the lag is not known yet: keep what was exported
            if p.consumer_lag >= 0 {
                reported.insert((topic.clone(), partition));
                updates.push((topic.clone(), partition, p.consumer_lag));
            }
        }
    }
    reported.retain(|(topic, partition)| {
        let keep = fetching.contains(&(topic.clone(), *partition));
        if !keep {
            updates.push((topic.clone(), *partition, 0));
        }
        keep
    });
    updates
}

/// Logs each change of the group's assignment: which partitions a pod holds is what an
/// operator asks first when one lags or restores.
impl rdkafka::consumer::ConsumerContext for LagContext {
    fn post_rebalance(
        &self,
        _: &rdkafka::consumer::BaseConsumer<Self>,
        rebalance: &rdkafka::consumer::Rebalance<'_>,
    ) {
        use rdkafka::consumer::Rebalance;
        let listed = |tpl: &rdkafka::TopicPartitionList| {
            tpl.elements()
                .iter()
                .map(|e| format!("{}/{}", e.topic(), e.partition()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match rebalance {
            Rebalance::Assign(tpl) => {
                tracing::info!(partitions = %listed(tpl), "partitions assigned")
            }
            Rebalance::Revoke(tpl) => {
                tracing::info!(partitions = %listed(tpl), "partitions revoked")
            }
            Rebalance::Error(error) => tracing::warn!(%error, "rebalance failed"),
        }
    }
}

fn consumer_config(kafka: &KafkaConfig, role: &str, group: &str) -> ClientConfig {
    let mut config = client_config(kafka, role);
    config
        .set("group.id", group)
        .set("enable.auto.commit", "true")
        .set("auto.commit.interval.ms", "1000")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("isolation.level", "read_committed")
        .set("enable.partition.eof", "false");
    for (key, value) in &kafka.properties {
        config.set(key, value);
    }
    config
}

/// Closes a group consumer, waiting at most `timeout`: returns whether it closed in time.
///
/// Dropping a consumer leaves its group (its partitions are revoked and stored offsets
/// committed), and `BaseConsumer`'s drop polls until librdkafka says the group is closed, with
/// no bound. That can be for ever: a request the application makes to the group while the
/// group terminates (an assignment handed to the rebalance handler during the close, as after
/// a broker outage) is dropped unanswered, and the handler waits for the answer without a
/// timeout. So the drop runs on a thread of its own; past `timeout` it is left there and the
/// caller goes on, which keeps a service's shutdown bounded (the process exit ends the thread).
pub async fn close_within<C>(consumer: StreamConsumer<C>, timeout: Duration) -> bool
where
    C: ConsumerContext + 'static,
{
    let (closed, wait) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("kafka-close".into())
        .spawn(move || {
            drop(consumer);
            let _ = closed.send(());
        });
    if let Err(error) = spawned {
        // the consumer went with the closure: dropped here, unbounded
        tracing::warn!(%error, "cannot start a thread to close the consumer");
        return true;
    }
    let done = matches!(tokio::time::timeout(timeout, wait).await, Ok(Ok(())));
    if !done {
        tracing::warn!(
            ?timeout,
            "the consumer did not close in time; leaving it to close on its own"
        );
    }
    done
}

/// What to do about a Kafka error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Transient: wait and try again.
    Retry,
    /// The client cannot go on: stop the service so the platform restarts it, without storing
    /// offsets past what was acknowledged.
    Fatal,
    /// Affects one record or a partition we no longer own: log, count and continue.
    Skip,
}

/// Classifies a Kafka error, once, for every service.
pub fn classify(error: &KafkaError) -> ErrorClass {
    use RDKafkaErrorCode as C;
    let Some(code) = error.rdkafka_error_code() else {
        return match error {
            KafkaError::Canceled => ErrorClass::Fatal,
            _ => ErrorClass::Retry,
        };
    };
    match code {
        C::QueueFull
        | C::BrokerTransportFailure
        | C::AllBrokersDown
        | C::OperationTimedOut
        | C::RequestTimedOut
        | C::NotEnoughReplicas
        | C::NotEnoughReplicasAfterAppend
        | C::LeaderNotAvailable
        | C::NotLeaderForPartition
        | C::NetworkException
        | C::CoordinatorLoadInProgress
        | C::CoordinatorNotAvailable
        | C::NotCoordinator
        | C::RebalanceInProgress
        | C::UnknownTopicOrPartition
        | C::Resolve => ErrorClass::Retry,
        // a partition we no longer own, or one record the broker refuses for good (larger
        // than its limits, failing its validation, stamped outside the topic's time window):
        // retrying the same bytes would stop the partition for ever
        C::State
        | C::UnknownPartition
        | C::AssignmentLost
        | C::MessageSizeTooLarge
        | C::MessageBatchTooLarge
        | C::InvalidRecord
        | C::InvalidTimestamp => ErrorClass::Skip,
        C::Fatal
        | C::Authentication
        | C::SaslAuthenticationFailed
        | C::TopicAuthorizationFailed
        | C::GroupAuthorizationFailed
        | C::ClusterAuthorizationFailed
        | C::InvalidProducerEpoch
        | C::ProducerFenced
        | C::OutOfOrderSequenceNumber
        | C::UnknownProducerId => ErrorClass::Fatal,
        _ => ErrorClass::Retry,
    }
}

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

/// A topic to create with its partition count.
#[derive(Debug, Clone)]
pub struct TopicSpec {
    pub name: String,
    pub partitions: i32,
    /// `cleanup.policy=compact`: only the last record of each key is kept.
    pub compacted: bool,
}

/// Outcry's topics, each with `partitions`; the delivery log and the router's state
/// compacted.
pub fn default_topics(kafka: &KafkaConfig, partitions: i32) -> Vec<TopicSpec> {
    kafka
        .topics
        .all()
        .into_iter()
        .map(|name| TopicSpec {
            name: name.clone(),
            partitions,
            compacted: kafka.topics.is_compacted(name),
        })
        .collect()
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

/// What a service checks of a topic it keeps state on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicFacts {
    pub partitions: usize,
    /// `cleanup.policy`, when the broker said
    pub cleanup_policy: Option<String>,
}

/// The partition count and cleanup policy of `topic`; `None` when it does not exist. Blocks
/// (for up to 20 seconds): call it from `spawn_blocking`, off the async runtime's workers.
pub fn topic_facts(kafka: &KafkaConfig, topic: &str) -> Result<Option<TopicFacts>, KafkaError> {
    use rdkafka::admin::{AdminOptions as Options, ResourceSpecifier};
    // asking for a topic that is not there must not create it (with the broker's defaults)
    let admin: AdminClient<DefaultClientContext> = client_config(kafka, "admin")
        .set("allow.auto.create.topics", "false")
        .create()?;
    let metadata = admin
        .inner()
        .fetch_metadata(Some(topic), Duration::from_secs(10))?;
    let Some(found) = metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic && t.error().is_none() && !t.partitions().is_empty())
    else {
        return Ok(None);
    };
    let partitions = found.partitions().len();
    let options = Options::new().request_timeout(Some(Duration::from_secs(10)));
    let resource = ResourceSpecifier::Topic(topic);
    let described = admin.describe_configs([&resource], &options);
    // the admin client's own thread answers the future; this thread only waits for it
    let cleanup_policy = tokio::runtime::Handle::current()
        .block_on(described)
        .ok()
        .and_then(|mut results| results.pop()?.ok())
        .and_then(|resource| resource.get("cleanup.policy")?.value.clone());
    Ok(Some(TopicFacts {
        partitions,
        cleanup_policy,
    }))
}

/// Creates the topics that do not exist yet; existing ones are left as they are.
pub async fn ensure_topics(kafka: &KafkaConfig, topics: &[TopicSpec]) -> Result<(), KafkaError> {
    let admin: AdminClient<DefaultClientContext> = client_config(kafka, "admin").create()?;
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|t| {
            let topic = NewTopic::new(&t.name, t.partitions, TopicReplication::Fixed(1));
            if t.compacted {
                // a service reads these whole when it starts, and the segment being written
                // is never compacted: 64 MiB segments keep what it reads near what it needs
                topic
                    .set("cleanup.policy", "compact")
                    .set("segment.bytes", "67108864")
            } else {
                topic
            }
        })
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    for result in admin.create_topics(&new, &options).await? {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(KafkaError::AdminOp(code)).inspect_err(|_| {
                    tracing::warn!(topic, %code, "cannot create topic");
                })
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_full_is_backpressure_not_a_drop() {
        let e = KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull);
        assert_eq!(classify(&e), ErrorClass::Retry);
    }

    #[test]
    fn librdkafka_is_built_with_tls_and_sasl() {
        let native = ClientConfig::new().create_native_config().unwrap();
        let features = native.get("builtin.features").unwrap();
        let features: HashSet<&str> = features.split(',').collect();
        // TLS, SASL, and every compression codec a topic may hold (a broker recompresses to
        // the topic's `compression.type`, which consumers must then decode)
        let needed = [
            "ssl",
            "sasl",
            "sasl_plain",
            "sasl_scram",
            "gzip",
            "snappy",
            "lz4",
            "zstd",
        ];
        for needed in needed {
            assert!(features.contains(needed), "no {needed} in {features:?}");
        }
        // a SASL_SSL client with SCRAM is accepted by librdkafka, as the README documents
        let kafka = KafkaConfig {
            brokers: "127.0.0.1:9".into(),
            properties: [
                ("security.protocol", "SASL_SSL"),
                ("sasl.mechanism", "SCRAM-SHA-512"),
                ("sasl.username", "outcry"),
                ("sasl.password", "not-a-secret"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            ..KafkaConfig::default()
        };
        drop(producer(&kafka, "sasl-check").unwrap());
    }

    #[test]
    fn fenced_producer_is_fatal() {
        let e = KafkaError::MessageProduction(RDKafkaErrorCode::ProducerFenced);
        assert_eq!(classify(&e), ErrorClass::Fatal);
    }

    fn stats(partitions: &[(i32, &str, i64)]) -> rdkafka::Statistics {
        let topic = rdkafka::statistics::Topic {
            topic: "in".into(),
            partitions: partitions
                .iter()
                .map(|&(partition, fetch_state, consumer_lag)| {
                    let p = rdkafka::statistics::Partition {
                        partition,
                        fetch_state: fetch_state.into(),
                        consumer_lag,
                        ..Default::default()
                    };
                    (partition, p)
                })
                .collect(),
            ..Default::default()
        };
        rdkafka::Statistics {
            topics: [("in".to_string(), topic)].into(),
            ..Default::default()
        }
    }

    fn sorted(mut updates: Vec<(String, i32, i64)>) -> Vec<(String, i32, i64)> {
        updates.sort();
        updates
    }

    #[test]
    fn lag_is_exported_only_for_partitions_being_fetched() {
        let mut reported = HashSet::new();
        let first = stats(&[(-1, "none", -1), (0, "active", 7), (1, "active", 3)]);
        assert_eq!(
            sorted(lag_updates(&first, &mut reported)),
            vec![("in".into(), 0, 7), ("in".into(), 1, 3)]
        );
        // a rebalance took partition 1 away: librdkafka still lists it with its old lag
        let after = stats(&[(0, "active", 5), (1, "stopped", 3), (2, "offset-query", -1)]);
        assert_eq!(
            sorted(lag_updates(&after, &mut reported)),
            vec![("in".into(), 0, 5), ("in".into(), 1, 0)]
        );
        // zeroed once, then left alone; a partition that vanished is zeroed too
        let later = stats(&[(1, "stopped", 3)]);
        assert_eq!(
            sorted(lag_updates(&later, &mut reported)),
            vec![("in".into(), 0, 0)]
        );
        assert!(reported.is_empty());
    }

    #[test]
    fn lost_partition_store_is_skipped() {
        let e = KafkaError::StoreOffset(RDKafkaErrorCode::State);
        assert_eq!(classify(&e), ErrorClass::Skip);
    }

    #[test]
    fn a_record_the_broker_refuses_for_good_is_skipped_not_retried() {
        for code in [
            RDKafkaErrorCode::MessageSizeTooLarge,
            RDKafkaErrorCode::MessageBatchTooLarge,
            RDKafkaErrorCode::InvalidRecord,
            RDKafkaErrorCode::InvalidTimestamp,
        ] {
            let e = KafkaError::MessageProduction(code);
            assert_eq!(classify(&e), ErrorClass::Skip, "{code:?}");
        }
        // the broker's transient refusals are still retried
        for code in [
            RDKafkaErrorCode::NotEnoughReplicas,
            RDKafkaErrorCode::InvalidMessage,
        ] {
            let e = KafkaError::MessageProduction(code);
            assert_eq!(classify(&e), ErrorClass::Retry, "{code:?}");
        }
    }

    mod close {
        use super::*;
        use rdkafka::consumer::{BaseConsumer, Consumer, Rebalance};
        use rdkafka::mocking::MockCluster;
        use rdkafka::producer::DefaultProducerContext;
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;

        /// Takes `delay` to let go of its partitions, as a close stuck in librdkafka would.
        struct SlowRevoke {
            delay: Duration,
            revoked: Arc<AtomicBool>,
        }

        impl rdkafka::client::ClientContext for SlowRevoke {}

        impl ConsumerContext for SlowRevoke {
            fn pre_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
                if matches!(rebalance, Rebalance::Revoke(_)) {
                    std::thread::sleep(self.delay);
                    self.revoked.store(true, Ordering::SeqCst);
                }
            }
        }

        /// A consumer of `topic` on `mock` with partitions assigned, so that closing it has
        /// them to revoke.
        async fn assigned(
            mock: &MockCluster<'_, DefaultProducerContext>,
            delay: Duration,
        ) -> (StreamConsumer<SlowRevoke>, Arc<AtomicBool>) {
            let kafka = KafkaConfig {
                brokers: mock.bootstrap_servers(),
                ..KafkaConfig::default()
            };
            let revoked = Arc::new(AtomicBool::new(false));
            let context = SlowRevoke {
                delay,
                revoked: revoked.clone(),
            };
            let consumer: StreamConsumer<SlowRevoke> =
                consumer_config(&kafka, "test", "close-test")
                    .create_with_context(context)
                    .unwrap();
            consumer.subscribe(&["close-test"]).unwrap();
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            // the assignment arrives through the consumer's queue, which `recv` serves
            while consumer.assignment().map_or(0, |a| a.count()) == 0 {
                assert!(
                    std::time::Instant::now() < deadline,
                    "no partitions assigned"
                );
                let _ = tokio::time::timeout(Duration::from_millis(100), consumer.recv()).await;
            }
            (consumer, revoked)
        }

        #[tokio::test]
        async fn a_consumer_that_closes_in_time_reports_it() {
            let mock = MockCluster::new(1).unwrap();
            mock.create_topic("close-test", 2, 1).unwrap();
            let (consumer, revoked) = assigned(&mock, Duration::ZERO).await;
            assert!(close_within(consumer, Duration::from_secs(20)).await);
            assert!(
                revoked.load(Ordering::SeqCst),
                "closed without revoking its partitions"
            );
        }

        #[tokio::test]
        async fn a_close_that_takes_too_long_is_left_behind_at_the_timeout() {
            let mock = MockCluster::new(1).unwrap();
            mock.create_topic("close-test", 2, 1).unwrap();
            let (consumer, revoked) = assigned(&mock, Duration::from_secs(3)).await;
            let started = std::time::Instant::now();
            assert!(!close_within(consumer, Duration::from_millis(300)).await);
            let waited = started.elapsed();
            assert!(
                waited < Duration::from_secs(3),
                "waited {waited:?} for a close past its timeout"
            );
            assert!(!revoked.load(Ordering::SeqCst));
            // the close goes on without the caller, and finishes
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            while !revoked.load(Ordering::SeqCst) {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the close never finished"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

//! Kafka clients with Outcry's settings, and the one place Kafka errors are classified.

use crate::config::KafkaConfig;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{ConsumerContext, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::FutureProducer;
use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

mod read;
mod topics;

pub use read::*;
pub use topics::*;

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

#[cfg(test)]
mod tests;

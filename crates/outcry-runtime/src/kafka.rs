//! Kafka clients with Outcry's settings, and the one place Kafka errors are classified.

use crate::config::KafkaConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::StreamConsumer;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::FutureProducer;
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
    config.create_with_context(LagContext { gauge })
}

/// Turns librdkafka's statistics into the consumer-lag gauge.
pub struct LagContext {
    gauge: String,
}

impl rdkafka::client::ClientContext for LagContext {
    fn stats(&self, statistics: rdkafka::Statistics) {
        for (topic, t) in statistics.topics {
            for (partition, p) in t.partitions {
                // librdkafka reports -1 for partitions it does not consume, and partition -1
                // is its internal unassigned queue
                if partition >= 0 && p.consumer_lag >= 0 {
                    metrics::gauge!(self.gauge.clone(), "topic" => topic.clone(), "partition" => partition.to_string())
                        .set(p.consumer_lag as f64);
                }
            }
        }
    }
}

impl rdkafka::consumer::ConsumerContext for LagContext {}

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
        C::State | C::UnknownPartition | C::AssignmentLost | C::MessageSizeTooLarge => {
            ErrorClass::Skip
        }
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

/// A topic to create with its partition count.
#[derive(Debug, Clone)]
pub struct TopicSpec {
    pub name: String,
    pub partitions: i32,
}

/// The four topics with the partition counts Outcry recommends.
pub fn default_topics(kafka: &KafkaConfig, partitions: i32) -> Vec<TopicSpec> {
    kafka
        .topics
        .all()
        .into_iter()
        .map(|name| TopicSpec {
            name: name.clone(),
            partitions,
        })
        .collect()
}

/// Creates the topics that do not exist yet; existing ones are left as they are.
pub async fn ensure_topics(kafka: &KafkaConfig, topics: &[TopicSpec]) -> Result<(), KafkaError> {
    let admin: AdminClient<DefaultClientContext> = client_config(kafka, "admin").create()?;
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|t| NewTopic::new(&t.name, t.partitions, TopicReplication::Fixed(1)))
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
    fn fenced_producer_is_fatal() {
        let e = KafkaError::MessageProduction(RDKafkaErrorCode::ProducerFenced);
        assert_eq!(classify(&e), ErrorClass::Fatal);
    }

    #[test]
    fn lost_partition_store_is_skipped() {
        let e = KafkaError::StoreOffset(RDKafkaErrorCode::State);
        assert_eq!(classify(&e), ErrorClass::Skip);
    }
}

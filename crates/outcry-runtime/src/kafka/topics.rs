//! Creating Outcry's topics and checking the ones a service keeps state on.

use super::client_config;
use crate::config::KafkaConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use std::time::Duration;

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

//! Where the demo and the tests get a Kafka-protocol broker: librdkafka's in-process mock
//! cluster (the embedded default) or an external broker given by address.

use outcry_runtime::config::KafkaConfig;
use outcry_runtime::kafka::{ensure_topics, TopicSpec};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;

/// A broker for one run. The embedded one lives as long as this value.
pub enum Broker {
    Embedded(MockCluster<'static, DefaultProducerContext>),
    External(String),
}

impl Broker {
    /// An in-process mock cluster with one broker.
    pub fn embedded() -> anyhow::Result<Broker> {
        Ok(Broker::Embedded(MockCluster::new(1)?))
    }

    pub fn bootstrap_servers(&self) -> String {
        match self {
            Broker::Embedded(cluster) => cluster.bootstrap_servers(),
            Broker::External(brokers) => brokers.clone(),
        }
    }

    pub fn is_embedded(&self) -> bool {
        matches!(self, Broker::Embedded(_))
    }

    /// Creates the topics (existing ones are kept).
    pub async fn create_topics(
        &self,
        kafka: &KafkaConfig,
        topics: &[TopicSpec],
    ) -> anyhow::Result<()> {
        match self {
            Broker::Embedded(cluster) => {
                for t in topics {
                    cluster.create_topic(&t.name, t.partitions, 1)?;
                }
            }
            Broker::External(_) => ensure_topics(kafka, topics).await?,
        }
        Ok(())
    }
}

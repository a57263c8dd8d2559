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
        let consumer: StreamConsumer<SlowRevoke> = consumer_config(&kafka, "test", "close-test")
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

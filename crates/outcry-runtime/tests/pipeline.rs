//! The shared loop against librdkafka's in-process mock cluster: offsets are committed only
//! for records whose outputs the broker acknowledged.

use outcry_runtime::config::KafkaConfig;
use outcry_runtime::pipeline::{
    self, Output, PipelineError, PipelineSpec, Processor, Record, Reject,
};
use outcry_runtime::shutdown::ShutdownTrigger;
use outcry_runtime::Shutdown;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use rdkafka::{Offset, TopicPartitionList};
use std::sync::Arc;
use std::time::Duration;

/// Copies each record to `out`; rejects records whose payload is `bad`.
struct Copy {
    out: Arc<str>,
}

impl Processor for Copy {
    async fn process(&mut self, record: &Record<'_>) -> Result<Vec<Output>, Reject> {
        if record.payload == b"bad" {
            return Err(Reject::new("decode_error", "a bad record"));
        }
        Ok(vec![Output {
            topic: self.out.clone(),
            partition: None,
            key: b"k".to_vec(),
            payload: record.payload.to_vec(),
        }])
    }
}

/// Declares the reasons it can reject a record with, and never rejects one.
struct Declares;

impl Processor for Declares {
    async fn process(&mut self, _: &Record<'_>) -> Result<Vec<Output>, Reject> {
        Ok(Vec::new())
    }

    fn dead_letter_reasons(&self) -> &'static [&'static str] {
        &["unknown_brand", "delivery_failed"]
    }
}

/// Sends `stuck` to `held`, a topic whose writes are never acknowledged, and never finishes
/// processing `hang` (it says when it started on it).
struct Stalls {
    hanging: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Processor for Stalls {
    async fn process(&mut self, record: &Record<'_>) -> Result<Vec<Output>, Reject> {
        if record.payload == b"hang" {
            if let Some(hanging) = self.hanging.take() {
                let _ = hanging.send(());
            }
            std::future::pending::<()>().await;
        }
        Ok(vec![Output {
            topic: "held".into(),
            partition: None,
            key: b"k".to_vec(),
            payload: record.payload.to_vec(),
        }])
    }
}

fn kafka(brokers: String) -> KafkaConfig {
    KafkaConfig {
        brokers,
        delivery_timeout_ms: 2_000,
        ..Default::default()
    }
}

fn spec(group: &str) -> PipelineSpec {
    spec_of("test", group)
}

/// A spec for its own service name, so a test's metrics are its own.
fn spec_of(service: &'static str, group: &str) -> PipelineSpec {
    PipelineSpec {
        service,
        input_topic: "in".into(),
        group_id: group.into(),
        dead_letter_topic: "dlq".into(),
        drain_timeout: Duration::from_secs(5),
    }
}

async fn produce(kafka: &KafkaConfig, payloads: &[&[u8]]) {
    let producer: FutureProducer = outcry_runtime::kafka::producer(kafka, "test").unwrap();
    for p in payloads {
        producer
            .send(
                FutureRecord::to("in").key("k").payload(*p),
                Duration::from_secs(5),
            )
            .await
            .unwrap();
    }
}

fn committed(kafka: &KafkaConfig, group: &str) -> Offset {
    let consumer: BaseConsumer = outcry_runtime::kafka::client_config(kafka, "check")
        .set("group.id", group)
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition("in", 0);
    let offsets = consumer
        .committed_offsets(tpl, Duration::from_secs(5))
        .unwrap();
    offsets.find_partition("in", 0).unwrap().offset()
}

/// Reads up to `n` records of partition 0 of `topic` from the start, for at most 3 seconds.
/// Waits, at most 20 s, until the group has committed up to `offset`.
async fn wait_committed(kafka: &KafkaConfig, group: &str, offset: i64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while committed(kafka, group) != Offset::Offset(offset) {
        assert!(
            std::time::Instant::now() < deadline,
            "offsets not committed: {:?}",
            committed(kafka, group)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The copying pipeline, running in a task until the trigger fires.
fn spawn_copy(
    kafka: &KafkaConfig,
    spec: PipelineSpec,
) -> (
    ShutdownTrigger,
    tokio::task::JoinHandle<Result<(), PipelineError>>,
) {
    let (trigger, shutdown) = Shutdown::new();
    let kafka = kafka.clone();
    let run = tokio::spawn(async move {
        pipeline::run(&kafka, spec, Copy { out: "out".into() }, shutdown).await
    });
    (trigger, run)
}

/// The payloads of partition 0 of `topic`; asks for `n`, waiting at most 3 seconds, so a
/// caller asking for one more than expected also sees that nothing extra arrived.
fn read(kafka: &KafkaConfig, topic: &str, n: usize) -> Vec<Vec<u8>> {
    use rdkafka::message::Message;
    outcry_runtime::kafka::read_partition(kafka, topic, 0, n, Duration::from_secs(3))
        .unwrap()
        .iter()
        .map(|m| m.payload().unwrap_or_default().to_vec())
        .collect()
}

fn cluster() -> MockCluster<'static, rdkafka::producer::DefaultProducerContext> {
    let cluster = MockCluster::new(1).unwrap();
    for topic in ["in", "out", "dlq"] {
        cluster.create_topic(topic, 1, 1).unwrap();
    }
    cluster
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_every_acknowledged_record_and_dead_letters_bad_ones() {
    let metrics = outcry_runtime::telemetry::metrics_handle();
    let cluster = cluster();
    let mut kafka = kafka(cluster.bootstrap_servers());
    kafka
        .properties
        .insert("statistics.interval.ms".into(), "200".into());
    produce(&kafka, &[b"a", b"bad", b"c"]).await;
    let (trigger, run) = spawn_copy(&kafka, spec("g1"));
    wait_committed(&kafka, "g1", 3).await;
    // SREs see the lag: zero once everything is consumed
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let lag = r#"outcry_test_consumer_lag_records{topic="in",partition="0"} 0"#;
    while !metrics.render().contains(lag) {
        assert!(
            std::time::Instant::now() < deadline,
            "no lag gauge in:\n{}",
            metrics.render()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    trigger.trigger();
    run.await.unwrap().unwrap();
    assert_eq!(committed(&kafka, "g1"), Offset::Offset(3));
    assert_eq!(read(&kafka, "out", 3), vec![b"a".to_vec(), b"c".to_vec()]);
    let letters = read(&kafka, "dlq", 2);
    assert_eq!(letters.len(), 1);
    let letter =
        <outcry_proto::v1::DeadLetter as outcry_proto::Message>::decode(letters[0].as_slice())
            .unwrap();
    assert_eq!(
        (
            letter.reason.as_str(),
            letter.stage.as_str(),
            letter.original.as_slice(),
            letter.source_offset
        ),
        ("decode_error", "test", &b"bad"[..], 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_records_in_every_compression_codec() {
    // upstream producers, or the broker recompressing to a topic's compression.type, may
    // write any codec Kafka has; a consumer without it could not read the partition at all
    for codec in ["gzip", "snappy", "lz4", "zstd"] {
        let cluster = cluster();
        let kafka = kafka(cluster.bootstrap_servers());
        let mut writer = kafka.clone();
        writer
            .properties
            .insert("compression.type".into(), codec.into());
        let long = format!("{codec} complaint ").repeat(64);
        produce(&writer, &[long.as_bytes(), b"b"]).await;
        let group = format!("compressed-{codec}");
        let (trigger, run) = spawn_copy(&kafka, spec(&group));
        wait_committed(&kafka, &group, 2).await;
        trigger.trigger();
        run.await.unwrap().unwrap();
        assert_eq!(
            read(&kafka, "out", 2),
            vec![long.into_bytes(), b"b".to_vec()],
            "{codec}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn does_not_commit_past_an_unacknowledged_output() {
    let cluster = cluster();
    let kafka = kafka(cluster.bootstrap_servers());
    produce(&kafka, &[b"a", b"b", b"c"]).await;
    // every write to the output topic is refused for good
    cluster
        .topic_error(
            "out",
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
        )
        .unwrap();
    let (_trigger, shutdown) = Shutdown::new();
    let result = tokio::time::timeout(
        Duration::from_secs(30),
        pipeline::run(&kafka, spec("g2"), Copy { out: "out".into() }, shutdown),
    )
    .await
    .expect("the loop must stop on its own when outputs cannot be written");
    assert!(
        matches!(result, Err(PipelineError::Delivery { .. })),
        "{result:?}"
    );
    // nothing was acknowledged, so nothing is committed: a restart replays all three
    assert!(
        matches!(committed(&kafka, "g2"), Offset::Invalid | Offset::Offset(0)),
        "{:?}",
        committed(&kafka, "g2")
    );
}

/// Waits until the rendered metrics contain `line`, for at most 20 seconds.
async fn metric_line(line: &str) {
    let metrics = outcry_runtime::telemetry::metrics_handle();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !metrics.render().contains(line) {
        assert!(
            std::time::Instant::now() < deadline,
            "no {line} in:\n{}",
            metrics.render()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_output_too_large_becomes_a_dead_letter_and_the_loop_goes_on() {
    // the recorder exists before the loop counts its dead letter
    outcry_runtime::telemetry::metrics_handle();
    let cluster = cluster();
    let writer = kafka(cluster.bootstrap_servers());
    // the input is under the broker's limit but over the pipeline producer's: the copy
    // the processor makes is refused locally with MessageSizeTooLarge
    let big = vec![b'x'; 20_000];
    produce(&writer, &[b"a", &big, b"c"]).await;
    let mut limited = writer.clone();
    limited
        .properties
        .insert("message.max.bytes".into(), "10000".into());
    let (trigger, run) = spawn_copy(&limited, spec_of("toolarge", "g3"));
    wait_committed(&writer, "g3", 3).await;
    metric_line(r#"outcry_toolarge_dead_letters_total{reason="output_too_large"} 1"#).await;
    trigger.trigger();
    run.await.unwrap().unwrap();
    // the record after the refused one was processed
    assert_eq!(read(&writer, "out", 3), vec![b"a".to_vec(), b"c".to_vec()]);
    let letters = read(&writer, "dlq", 2);
    assert_eq!(letters.len(), 1);
    assert!(letters[0].len() <= 10_000, "{} bytes", letters[0].len());
    let letter =
        <outcry_proto::v1::DeadLetter as outcry_proto::Message>::decode(letters[0].as_slice())
            .unwrap();
    assert_eq!(
        (
            letter.reason.as_str(),
            letter.stage.as_str(),
            letter.source_offset,
            letter.original_key.as_slice()
        ),
        ("output_too_large", "toolarge", 1, &b"k"[..])
    );
    // a prefix of the original, cut so the letter fits, and the error says both
    assert!(
        letter.original.len() > 5_000 && letter.original.len() < 10_000,
        "{}",
        letter.original.len()
    );
    assert!(big.starts_with(&letter.original));
    assert!(
        letter
            .error
            .contains("output of 20000 bytes to out refused")
            && letter.error.contains("of 20000 bytes"),
        "{}",
        letter.error
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letter_series_exist_at_zero_from_the_start() {
    let cluster = cluster();
    let kafka = kafka(cluster.bootstrap_servers());
    let (trigger, shutdown) = Shutdown::new();
    let k = kafka.clone();
    let run = tokio::spawn(async move {
        pipeline::run(&k, spec_of("zeroed", "g4"), Declares, shutdown).await
    });
    // the processor's reasons and the runtime's own, before any dead letter
    for reason in [
        "unknown_brand",
        "delivery_failed",
        "decode_error",
        "output_too_large",
        "output_rejected",
    ] {
        metric_line(&format!(
            "outcry_zeroed_dead_letters_total{{reason=\"{reason}\"}} 0\n"
        ))
        .await;
    }
    trigger.trigger();
    run.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_is_bounded_by_the_drain_timeout_from_the_signal() {
    let cluster = cluster();
    cluster.create_topic("held", 1, 1).unwrap();
    let mut kafka = kafka(cluster.bootstrap_servers());
    produce(&kafka, &[b"stuck", b"hang"]).await;
    // the output of `stuck` waits for a leader that never comes, far longer than the drain
    cluster
        .topic_error(
            "held",
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
        )
        .unwrap();
    kafka.delivery_timeout_ms = 120_000;
    let drain = Duration::from_secs(6);
    let (hanging, hung) = tokio::sync::oneshot::channel();
    let (trigger, shutdown) = Shutdown::new();
    let run = tokio::spawn(async move {
        let spec = PipelineSpec {
            drain_timeout: drain,
            ..spec_of("bounded", "g5")
        };
        let processor = Stalls {
            hanging: Some(hanging),
        };
        pipeline::run(&kafka, spec, processor, shutdown).await
    });
    tokio::time::timeout(Duration::from_secs(20), hung)
        .await
        .expect("the second record never reached the processor")
        .unwrap();
    // a record stuck in the processor and one whose output is never acknowledged: the grace
    // and the drain both run out, and still the whole shutdown fits in the drain timeout
    // plus the second for leaving the group (and a margin for a slow machine)
    let signalled = std::time::Instant::now();
    trigger.trigger();
    let result = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("shutdown never finished")
        .unwrap();
    let took = signalled.elapsed();
    assert!(
        matches!(result, Err(PipelineError::DrainTimeout(d)) if d == drain),
        "{result:?}"
    );
    assert!(
        took <= drain + Duration::from_millis(2_500),
        "shutdown took {took:?} with a drain timeout of {drain:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_output_the_broker_refuses_becomes_a_dead_letter_and_the_loop_goes_on() {
    // the mock cluster has no topic configs, so it cannot enforce a topic's
    // `max.message.bytes`: it answers the pipeline's first produce request with the error
    // a broker sends then, which reaches the loop in the delivery report
    refused_output_becomes_a_dead_letter(
        RDKafkaRespErr::RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE,
        "output_too_large",
        "g6",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_output_failing_the_brokers_validation_becomes_a_dead_letter_not_a_stall() {
    // a broker refuses a record for good when it fails validation (a compacted topic's
    // record without a key, a broker-side policy): retrying it would stop the partition
    refused_output_becomes_a_dead_letter(
        RDKafkaRespErr::RD_KAFKA_RESP_ERR_INVALID_RECORD,
        "output_rejected",
        "g6b",
    )
    .await;
}

async fn refused_output_becomes_a_dead_letter(error: RDKafkaRespErr, reason: &str, group: &str) {
    // the recorder exists before the loop counts its dead letter
    outcry_runtime::telemetry::metrics_handle();
    let cluster = cluster();
    let kafka = kafka(cluster.bootstrap_servers());
    produce(&kafka, &[b"a"]).await;
    cluster.request_errors(RDKafkaApiKey::Produce, &[error]);
    let (trigger, run) = spawn_copy(&kafka, spec_of("refused", group));
    // the refused record is committed once its dead letter is acknowledged
    wait_committed(&kafka, group, 1).await;
    metric_line(&format!(
        r#"outcry_refused_dead_letters_total{{reason="{reason}"}} 1"#
    ))
    .await;
    // and the loop goes on with the next one
    produce(&kafka, &[b"c"]).await;
    wait_committed(&kafka, group, 2).await;
    trigger.trigger();
    run.await.unwrap().unwrap();
    assert_eq!(read(&kafka, "out", 2), vec![b"c".to_vec()]);
    let letters = read(&kafka, "dlq", 2);
    assert_eq!(letters.len(), 1);
    let letter =
        <outcry_proto::v1::DeadLetter as outcry_proto::Message>::decode(letters[0].as_slice())
            .unwrap();
    assert_eq!(
        (
            letter.reason.as_str(),
            letter.stage.as_str(),
            letter.source_topic.as_str(),
            letter.source_offset,
            letter.original.as_slice(),
            letter.original_key.as_slice()
        ),
        (reason, "refused", "in", 0, &b"a"[..], &b"k"[..])
    );
    assert!(
        letter.error.contains("output of 1 bytes to out refused"),
        "{}",
        letter.error
    );
}

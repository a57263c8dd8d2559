//! The one consume-process-produce loop every Kafka-fed service runs.
//!
//! At-least-once by construction: a record's offset is stored only after every output it
//! produced (or its dead letter) was acknowledged by the broker, and offsets are stored in
//! consumption order, so a crash replays from the oldest unacknowledged record and loses
//! nothing. `QueueFull` from the producer is backpressure: the loop waits for acknowledgements
//! and tries again, it never drops. A record the processor cannot handle goes to the
//! dead-letter topic with the reason, and the loop goes on; so does an output refused for good,
//! by the producer (larger than its `message.max.bytes`) or by the broker in the delivery
//! report (larger than the topic's `max.message.bytes`), as `output_too_large`.

use crate::admin::Readiness;
use crate::config::KafkaConfig;
use crate::kafka::{self, classify, ErrorClass};
use crate::shutdown::Shutdown;
use futures::stream::{FuturesOrdered, StreamExt};
use futures::FutureExt;
use metrics::{Counter, Gauge, Histogram};
use outcry_proto::v1::DeadLetter;
use outcry_proto::Message as _;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::message::OwnedMessage;
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
use rdkafka::util::Timeout;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod dead_letters;
mod delivery;

use dead_letters::*;
pub use dead_letters::{OUTPUT_REJECTED, OUTPUT_TOO_LARGE};
use delivery::*;

/// One consumed record, borrowed from the consumer. `Default` is an empty record of no
/// topic at offset 0, for tests and tools to fill in what they need.
#[derive(Debug, Clone, Copy, Default)]
pub struct Record<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<&'a [u8]>,
    pub payload: &'a [u8],
    /// The record's Kafka timestamp in ms since the epoch (the time its producer wrote it, or
    /// the broker's append time on a topic set to `LogAppendTime`), if it has one.
    pub timestamp_ms: Option<i64>,
}

/// A record to produce.
#[derive(Debug, Clone)]
pub struct Output {
    pub topic: Arc<str>,
    /// The partition to write to; the producer's partitioner picks one by key when `None`.
    pub partition: Option<i32>,
    pub key: Vec<u8>,
    pub payload: Vec<u8>,
}

/// Why a record could not be processed; it becomes a dead letter.
#[derive(Debug, Clone)]
pub struct Reject {
    /// Stable reason from a small set (a metric label), for example `decode_error`.
    pub reason: &'static str,
    /// What exactly was wrong.
    pub detail: String,
    /// Attempts made, for deliveries.
    pub attempts: u32,
}

impl Reject {
    pub fn new(reason: &'static str, detail: impl Into<String>) -> Reject {
        Reject {
            reason,
            detail: detail.into(),
            attempts: 0,
        }
    }
}

/// A service's per-record logic. It sees plain bytes and returns plain records; it never
/// touches Kafka, so it is tested without a broker.
pub trait Processor: Send {
    fn process(
        &mut self,
        record: &Record<'_>,
    ) -> impl Future<Output = Result<Vec<Output>, Reject>> + Send;

    /// Every [`Reject::reason`] this processor can return. The loop exports
    /// `dead_letters_total` at 0 for each of them when it starts, so that `increase()` in
    /// the alert rules sees the first dead letter after a restart.
    fn dead_letter_reasons(&self) -> &'static [&'static str] {
        &[]
    }
}

/// Where a pipeline reads and what it is called.
#[derive(Debug, Clone)]
pub struct PipelineSpec {
    /// Service name: the metric prefix (`outcry_<service>_...`), the dead-letter stage and
    /// the consumer group suffix.
    pub service: &'static str,
    pub input_topic: String,
    pub group_id: String,
    pub dead_letter_topic: Arc<str>,
    pub drain_timeout: Duration,
}

impl PipelineSpec {
    /// The spec of `service` reading `input_topic`, with the group, dead-letter topic and
    /// drain bound from the deployment's config.
    pub fn new(config: &crate::Config, service: &'static str, input_topic: &str) -> PipelineSpec {
        PipelineSpec {
            service,
            input_topic: input_topic.to_string(),
            group_id: config.group_id(service),
            dead_letter_topic: config.kafka.topics.dead_letters.as_str().into(),
            drain_timeout: Duration::from_secs(config.shutdown.drain_timeout_secs),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("cannot create kafka client")]
    Client(#[source] KafkaError),
    #[error("cannot subscribe to {topic}")]
    Subscribe {
        topic: String,
        #[source]
        source: KafkaError,
    },
    #[error("fatal kafka error while consuming")]
    Consume(#[source] KafkaError),
    #[error(
        "output not acknowledged for {topic}/{partition}@{offset}; offsets not stored past it"
    )]
    Delivery {
        topic: String,
        partition: i32,
        offset: i64,
        #[source]
        source: KafkaError,
    },
    #[error("drain did not finish within {0:?}; unacknowledged records will be replayed")]
    DrainTimeout(Duration),
}

/// Counters and histograms of one pipeline, named `outcry_<service>_<noun>_<unit>`.
struct LoopMetrics {
    consumed: Counter,
    produced: Counter,
    backpressure: Counter,
    consume_errors: Counter,
    in_flight: Gauge,
    process_seconds: Histogram,
}

impl LoopMetrics {
    /// Also exports `dead_letters_total` at 0 for the runtime's reasons and `reasons`, so a
    /// series exists before its first dead letter and `increase()` counts that one too.
    fn new(service: &'static str, reasons: &[&'static str]) -> Self {
        let name = |noun: &str| format!("outcry_{service}_{noun}");
        metrics::describe_counter!(
            name("records_consumed_total"),
            "records read from the input topic"
        );
        metrics::describe_counter!(
            name("records_produced_total"),
            "records acknowledged on output topics, dead letters included"
        );
        metrics::describe_counter!(
            name("dead_letters_total"),
            "records sent to the dead-letter topic, by reason"
        );
        metrics::describe_counter!(
            name("backpressure_waits_total"),
            "times the producer queue was full and the loop waited instead of dropping"
        );
        metrics::describe_counter!(
            name("consume_errors_total"),
            "errors from the consumer, by class"
        );
        metrics::describe_gauge!(
            name("records_in_flight"),
            "records consumed whose outputs are not yet acknowledged"
        );
        metrics::describe_histogram!(
            name("process_seconds"),
            metrics::Unit::Seconds,
            "time to process one record, excluding the produce"
        );
        for &reason in RUNTIME_DEAD_LETTER_REASONS.iter().chain(reasons) {
            metrics::counter!(name("dead_letters_total"), "reason" => reason).increment(0);
        }
        LoopMetrics {
            consumed: metrics::counter!(name("records_consumed_total")),
            produced: metrics::counter!(name("records_produced_total")),
            backpressure: metrics::counter!(name("backpressure_waits_total")),
            consume_errors: metrics::counter!(name("consume_errors_total"), "class" => "retry"),
            in_flight: metrics::gauge!(name("records_in_flight")),
            process_seconds: metrics::histogram!(name("process_seconds")),
        }
    }
}

/// Runs the loop until `shutdown`, then drains: finishes in-flight records, stores and commits
/// their offsets, flushes the producer and leaves the consumer group, within
/// `spec.drain_timeout` of the shutdown signal, plus at most a second for leaving the group.
/// One deadline bounds it all: a record still processing at the signal gets until half of it,
/// the drain until the deadline, and leaving the group what is left (at least a second).
pub async fn run<P: Processor>(
    kafka_config: &KafkaConfig,
    spec: PipelineSpec,
    mut processor: P,
    shutdown: Shutdown,
) -> Result<(), PipelineError> {
    let readiness = Readiness::register(spec.service);
    let consumer = kafka::lag_reporting_consumer(kafka_config, spec.service, &spec.group_id)
        .map_err(PipelineError::Client)?;
    let producer: FutureProducer =
        kafka::producer(kafka_config, spec.service).map_err(PipelineError::Client)?;
    consumer
        .subscribe(&[&spec.input_topic])
        .map_err(|source| PipelineError::Subscribe {
            topic: spec.input_topic.clone(),
            source,
        })?;
    readiness.set(true);
    tracing::info!(service = spec.service, topic = %spec.input_topic, group = %spec.group_id, "pipeline started");

    let mut state = LoopState {
        consumer: &consumer,
        producer: &producer,
        pending: FuturesOrdered::new(),
        metrics: LoopMetrics::new(spec.service, processor.dead_letter_reasons()),
        spec: &spec,
        max_in_flight: kafka_config.max_in_flight,
        letters: DeadLetters {
            service: spec.service,
            topic: spec.dead_letter_topic.clone(),
            max_message_bytes: kafka::message_max_bytes(kafka_config),
        },
        failed: false,
        current: None,
    };
    let drain_deadline = || {
        shutdown
            .triggered_at()
            .unwrap_or_else(tokio::time::Instant::now)
            + spec.drain_timeout
    };
    // a record still processing (or still being produced) when the grace runs out is abandoned
    // without storing its offset: it is replayed after the restart, never lost
    let grace = async {
        shutdown.cancelled().await;
        tokio::time::sleep_until(drain_deadline() - spec.drain_timeout / 2).await;
    };
    let result = tokio::select! {
        result = state.consume(&mut processor, &shutdown) => result,
        () = grace => Ok(()),
    };
    if let Some((partition, offset)) = state.current.take() {
        tracing::warn!(
            service = spec.service,
            partition,
            offset,
            "record abandoned at shutdown, it will be replayed"
        );
    }
    readiness.set(false);
    let deadline = drain_deadline();
    let drained = tokio::time::timeout_at(deadline, state.drain()).await;
    if let Err(error) = consumer.commit_consumer_state(CommitMode::Sync) {
        // nothing stored since the last commit is the common case here
        tracing::debug!(%error, "final commit");
    }
    // leaving the group takes what is left of the drain's time (at least a second): the
    // offsets are committed by now, and librdkafka's close can hang (see `close_within`)
    drop(state);
    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
    kafka::close_within(consumer, left.max(Duration::from_secs(1))).await;
    result?;
    match drained {
        Ok(r) => r,
        Err(_) => Err(PipelineError::DrainTimeout(spec.drain_timeout)),
    }
}

struct LoopState<'a> {
    consumer: &'a StreamConsumer<kafka::LagContext>,
    producer: &'a FutureProducer,
    pending: FuturesOrdered<Pending>,
    metrics: LoopMetrics,
    spec: &'a PipelineSpec,
    max_in_flight: usize,
    letters: DeadLetters,
    /// The record being processed and produced, until its outputs are tracked.
    current: Option<(i32, i64)>,
    /// Set by the first unacknowledged output: from then on no offset is stored, so the
    /// failed record and everything after it are replayed after the restart.
    failed: bool,
}

impl LoopState<'_> {
    async fn consume<P: Processor>(
        &mut self,
        processor: &mut P,
        shutdown: &Shutdown,
    ) -> Result<(), PipelineError> {
        let mut backoff = Duration::from_millis(50);
        loop {
            let message = tokio::select! {
                biased;
                _ = shutdown.cancelled() => return Ok(()),
                Some(settled) = self.pending.next(), if !self.pending.is_empty() => {
                    self.settle(settled)?;
                    continue;
                }
                message = self.consumer.recv() => message,
            };
            let message = match message {
                Ok(m) => {
                    backoff = Duration::from_millis(50);
                    m
                }
                Err(error) => {
                    match classify(&error) {
                        ErrorClass::Fatal => return Err(PipelineError::Consume(error)),
                        ErrorClass::Skip => {
                            metrics::counter!(format!("outcry_{}_consume_errors_total", self.spec.service), "class" => "skip").increment(1);
                            tracing::warn!(%error, "skipping consumer error");
                        }
                        ErrorClass::Retry => {
                            self.metrics.consume_errors.increment(1);
                            tracing::warn!(%error, ?backoff, "consumer error, retrying");
                            tokio::time::sleep(backoff).await;
                            backoff = (backoff * 2).min(Duration::from_secs(5));
                        }
                    }
                    continue;
                }
            };
            self.metrics.consumed.increment(1);
            let record = Record {
                topic: message.topic(),
                partition: message.partition(),
                offset: message.offset(),
                key: message.key(),
                payload: message.payload().unwrap_or_default(),
                timestamp_ms: message.timestamp().to_millis(),
            };
            self.current = Some((record.partition, record.offset));
            let started = Instant::now();
            let processed = processor.process(&record).await;
            let (outputs, dead_letter) = match processed {
                Ok(outputs) => (outputs, false),
                Err(reject) => {
                    tracing::warn!(
                        service = self.spec.service,
                        topic = record.topic,
                        partition = record.partition,
                        offset = record.offset,
                        reason = reject.reason,
                        detail = %reject.detail,
                        "record sent to the dead-letter topic"
                    );
                    (vec![self.letters.letter(&record, reject)], true)
                }
            };
            self.metrics
                .process_seconds
                .record(started.elapsed().as_secs_f64());
            let mut deliveries = Vec::with_capacity(outputs.len());
            for output in &outputs {
                deliveries.push(self.send(output, dead_letter, &record).await?);
            }
            self.track(&record, deliveries);
            self.current = None;
            // settle what is already acknowledged without waiting
            while let Some(Some(settled)) = self.pending.next().now_or_never() {
                self.settle(settled)?;
            }
            while self.pending.len() >= self.max_in_flight {
                if let Some(settled) = self.pending.next().await {
                    self.settle(settled)?;
                }
            }
            self.metrics.in_flight.set(self.pending.len() as f64);
        }
    }

    /// Produces one output of `source`; on a full queue waits for acknowledgements instead of
    /// dropping. An output the producer refuses for good (too large) is replaced by a dead
    /// letter, so that one record cannot stop the partition; `dead_letter` says `output` is
    /// already one.
    async fn send(
        &mut self,
        output: &Output,
        dead_letter: bool,
        source: &Record<'_>,
    ) -> Result<Delivery, PipelineError> {
        let mut replacement: Option<Output> = None;
        loop {
            let current = replacement.as_ref().unwrap_or(output);
            let mut produced = FutureRecord::to(&current.topic)
                .key(&current.key)
                .payload(&current.payload);
            if let Some(partition) = current.partition {
                produced = produced.partition(partition);
            }
            let error = match self.producer.send_result(produced) {
                Ok(future) => {
                    return Ok(Delivery {
                        future,
                        dead_letter: dead_letter || replacement.is_some(),
                    })
                }
                Err((error, _)) => error,
            };
            if let KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull) = error {
                self.metrics.backpressure.increment(1);
                match self.pending.next().await {
                    Some(settled) => self.settle(settled)?,
                    None => tokio::time::sleep(Duration::from_millis(5)).await,
                }
                continue;
            }
            // a dead letter is cut to fit, so it is refused only when the producer itself is
            // broken: that stops the loop like any other unacknowledged output
            if dead_letter || replacement.is_some() || classify(&error) != ErrorClass::Skip {
                return Err(PipelineError::Delivery {
                    topic: current.topic.to_string(),
                    partition: source.partition,
                    offset: source.offset,
                    source: error,
                });
            }
            let letter =
                self.letters
                    .refused(source, &current.topic, current.payload.len(), &error);
            replacement = Some(letter);
        }
    }

    /// Queues the settlement of `record` once all its deliveries are acknowledged.
    fn track(&mut self, record: &Record<'_>, deliveries: Vec<Delivery>) {
        let (partition, offset) = (record.partition, record.offset);
        let outputs = deliveries.len() as u64;
        // only an output that is not a dead letter yet can need the record back
        let source = deliveries
            .iter()
            .any(|d| !d.dead_letter)
            .then(|| Source::of(record));
        let producer = self.producer.clone();
        let letters = self.letters.clone();
        self.pending.push_back(Box::pin(async move {
            let result = acknowledged(deliveries, source, &producer, &letters).await;
            Settled {
                partition,
                offset,
                outputs,
                result,
            }
        }));
    }

    /// Stores the offset of a record whose outputs are all acknowledged. Futures settle in
    /// consumption order, so a stored offset never skips an unacknowledged record.
    fn settle(&mut self, settled: Settled) -> Result<(), PipelineError> {
        if self.failed {
            return Ok(());
        }
        if let Err(source) = settled.result {
            self.failed = true;
            tracing::error!(
                service = self.spec.service,
                partition = settled.partition,
                offset = settled.offset,
                error = %source,
                "output not acknowledged, stopping without storing the offset"
            );
            return Err(PipelineError::Delivery {
                topic: self.spec.input_topic.clone(),
                partition: settled.partition,
                offset: settled.offset,
                source,
            });
        }
        self.metrics.produced.increment(settled.outputs);
        if let Err(error) =
            self.consumer
                .store_offset(&self.spec.input_topic, settled.partition, settled.offset)
        {
            // the partition moved to another instance: it will replay from its last commit
            tracing::debug!(%error, partition = settled.partition, "offset not stored");
        }
        Ok(())
    }

    async fn drain(&mut self) -> Result<(), PipelineError> {
        let waiting = self.pending.len();
        if waiting > 0 {
            tracing::info!(
                service = self.spec.service,
                waiting,
                "draining in-flight records"
            );
        }
        while let Some(settled) = self.pending.next().await {
            self.settle(settled)?;
        }
        self.metrics.in_flight.set(0.0);
        if let Err(error) = self.producer.flush(Duration::from_secs(5)) {
            tracing::warn!(%error, "producer flush");
        }
        Ok(())
    }
}

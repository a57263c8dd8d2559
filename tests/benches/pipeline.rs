//! `make bench`: pipeline throughput against raw broker throughput, side by side on the same
//! broker in the same run, so the ratio holds on a noisy machine.
//!
//! raw:      a producer writes N mention-sized records while a consumer reads them back
//! pipeline: a producer writes N encoded mentions to the mentions topic while a consumer
//!           reads the scored topic; in between the scorer consumes, scores and produces,
//!           storing offsets only after acknowledgement. One warm-up mention goes through
//!           first, so the consumer group's join (seconds) is not counted as throughput
//!
//! Each is run several times; the medians and their ratio are printed. Backends: the
//! in-process mock cluster, and the real broker when OUTCRY_BROKER_BIN is set.

use outcry_cli::sample::{generate, SampleOptions};
use outcry_e2e::{unique, Backend, TestBroker};
use outcry_proto::v1::Mention;
use outcry_proto::Message as _;
use outcry_runtime::config::KafkaConfig;
use outcry_runtime::kafka::TopicSpec;
use outcry_runtime::{Config, Shutdown};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::time::{Duration, Instant};

// the mock cluster keeps about 11k records per partition; stay well below it
const N: usize = 10_000;
const RUNS: usize = 3;
const PARTITIONS: i32 = 3;

fn mentions() -> Vec<(String, Vec<u8>)> {
    // three days, the sample's length when the figures in the README were measured
    let sample = generate(&SampleOptions {
        days: 3,
        ..SampleOptions::new(11, 1_767_225_600_000)
    });
    let brands = outcry_cli::demo::DEMO_CONFIG;
    let config = Config::from_yaml(brands).expect("demo config");
    let matcher_brand = config.brands[0].id.clone();
    sample
        .iter()
        .cycle()
        .take(N)
        .enumerate()
        .map(|(i, m)| {
            let mention = Mention {
                id: format!("bench:{i}"),
                text: m.json["text"].as_str().unwrap_or_default().to_string(),
                brand_ids: vec![m.json["brands"][0]
                    .as_str()
                    .unwrap_or(&matcher_brand)
                    .to_string()],
                ..Default::default()
            };
            (mention.id.clone(), mention.encode_to_vec())
        })
        .collect()
}

/// Writes `records` to `input` and waits until `expect` records are readable on `output`.
async fn pump(
    kafka: &KafkaConfig,
    input: &str,
    output: &str,
    records: &[(String, Vec<u8>)],
    expect: usize,
) -> f64 {
    let consumer: StreamConsumer =
        outcry_runtime::kafka::consumer(kafka, "bench-read", &unique("bench")).expect("consumer");
    // assigned, not subscribed: no group rebalance in the measurement
    let mut partitions = rdkafka::TopicPartitionList::new();
    for p in 0..PARTITIONS {
        partitions
            .add_partition_offset(output, p, rdkafka::Offset::Beginning)
            .expect("partition");
    }
    consumer.assign(&partitions).expect("assign");
    let producer: FutureProducer =
        outcry_runtime::kafka::producer(kafka, "bench-write").expect("producer");
    let started = Instant::now();
    let write = async {
        let sends = records.iter().map(|(k, v)| {
            producer.send(
                FutureRecord::to(input).key(k).payload(v),
                Duration::from_secs(30),
            )
        });
        futures::future::join_all(sends).await
    };
    let read = async {
        let mut seen = 0;
        while seen < expect {
            match tokio::time::timeout(Duration::from_secs(60), consumer.recv()).await {
                Ok(Ok(_)) => seen += 1,
                Ok(Err(_)) => {}
                Err(_) => {
                    let marks: Vec<_> = (0..PARTITIONS)
                        .map(|p| consumer.fetch_watermarks(output, p, Duration::from_secs(5)))
                        .collect();
                    panic!("timed out after {seen} of {expect} records; watermarks {marks:?}")
                }
            }
        }
    };
    let (written, ()) = tokio::join!(write, read);
    let rate = records.len() as f64 / started.elapsed().as_secs_f64();
    assert!(written.iter().all(Result::is_ok), "all writes acknowledged");
    outcry_runtime::kafka::close_within(consumer, Duration::from_secs(10)).await;
    rate
}

struct CopyProc {
    out: std::sync::Arc<str>,
}

impl outcry_runtime::pipeline::Processor for CopyProc {
    async fn process(
        &mut self,
        r: &outcry_runtime::pipeline::Record<'_>,
    ) -> Result<Vec<outcry_runtime::pipeline::Output>, outcry_runtime::pipeline::Reject> {
        Ok(vec![outcry_runtime::pipeline::Output {
            topic: self.out.clone(),
            partition: None,
            key: r.key.unwrap_or_default().to_vec(),
            payload: r.payload.to_vec(),
        }])
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

async fn bench(backend: Backend, records: &[(String, Vec<u8>)]) {
    let broker = TestBroker::start(backend).expect("broker");
    let mut raw = Vec::new();
    let mut piped = Vec::new();
    for _ in 0..RUNS {
        let mut config = Config::default();
        config.kafka.brokers = broker.bootstrap_servers();
        config.kafka.group_prefix = unique("bench");
        // OUTCRY_BENCH_PROPS="linger.ms=20,fetch.wait.max.ms=10" tries librdkafka settings
        for pair in std::env::var("OUTCRY_BENCH_PROPS")
            .unwrap_or_default()
            .split(',')
        {
            if let Some((k, v)) = pair.split_once('=') {
                config
                    .kafka
                    .properties
                    .insert(k.trim().into(), v.trim().into());
            }
        }
        config.kafka.topics.add_suffix(&format!("-{}", unique("t")));
        let raw_topic = unique("raw");
        let mut topics = outcry_runtime::kafka::default_topics(&config.kafka, PARTITIONS);
        topics.push(TopicSpec {
            name: raw_topic.clone(),
            partitions: PARTITIONS,
            compacted: false,
        });
        broker
            .create_topics(&config.kafka, &topics)
            .await
            .expect("topics");

        raw.push(
            pump(
                &config.kafka,
                &raw_topic,
                &raw_topic,
                records,
                records.len(),
            )
            .await,
        );

        let (trigger, shutdown) = Shutdown::new();
        let scorer = if std::env::var_os("OUTCRY_BENCH_COPY").is_some() {
            let spec = outcry_runtime::pipeline::PipelineSpec::new(
                &config,
                "copy",
                &config.kafka.topics.mentions,
            );
            let out: std::sync::Arc<str> = config.kafka.topics.scored.as_str().into();
            let k = config.kafka.clone();
            tokio::spawn(async move {
                outcry_runtime::pipeline::run(&k, spec, CopyProc { out }, shutdown)
                    .await
                    .map_err(|e| e.to_string())
            })
        } else {
            let c = config.clone();
            tokio::spawn(async move {
                outcry_scorer::run(c, shutdown)
                    .await
                    .map_err(|e| e.to_string())
            })
        };
        // one record through first, so the consumer group has joined before the clock starts
        let mut warm = records[..1].to_vec();
        warm[0].0 = "warm-up".into();
        pump(
            &config.kafka,
            &config.kafka.topics.mentions,
            &config.kafka.topics.scored,
            &warm,
            1,
        )
        .await;
        piped.push(
            pump(
                &config.kafka,
                &config.kafka.topics.mentions,
                &config.kafka.topics.scored,
                records,
                records.len() + 1,
            )
            .await,
        );
        trigger.trigger();
        let _ = scorer.await;
    }
    let (raw, piped) = (median(raw), median(piped));
    println!(
        "{:<6} raw broker {:>9.0} records/s   scorer stage {:>9.0} mentions/s   ratio {:.2}   (median of {RUNS}, {N} records)",
        match backend {
            Backend::Mock => "mock",
            Backend::Real => "real",
            Backend::RealTls => "tls",
        },
        raw,
        piped,
        piped / raw
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let records = mentions();
    runtime.block_on(async {
        bench(Backend::Mock, &records).await;
        if std::env::var_os("OUTCRY_BROKER_BIN").is_some() {
            bench(Backend::Real, &records).await;
        } else {
            println!("real   skipped: set OUTCRY_BROKER_BIN (make bench does)");
        }
    });
}

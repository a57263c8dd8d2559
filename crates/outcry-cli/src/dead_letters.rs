//! `outcry dead-letters`: what the dead-letter topic holds, one JSON line per record, and,
//! with `--replay`, each original written back to the topic it came from once its cause is
//! fixed (a brand added to the config, a webhook back up).
//!
//! The topic is read from its start to its end as it is when the command starts, every
//! partition. A dead letter whose original was cut to fit (`error` says so) is listed but
//! never replayed: the record it would write is not the one that failed. Neither is one
//! whose `source_topic` is empty (it came over HTTP).

use anyhow::Context as _;
use outcry_proto::v1::DeadLetter;
use outcry_proto::Message as _;
use outcry_runtime::config::KafkaConfig;
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::{json, Value};
use std::time::Duration;

/// The marker `DeadLetters` puts in `error` when it cut the original to fit.
const CUT: &str = "dead letter cut to fit";

/// Which dead letters to list (and replay): all that match every filter given.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub stage: Option<String>,
    pub reason: Option<String>,
}

impl Filter {
    fn matches(&self, letter: &DeadLetter) -> bool {
        self.stage.as_ref().is_none_or(|s| *s == letter.stage)
            && self.reason.as_ref().is_none_or(|r| *r == letter.reason)
    }
}

/// Every record of `topic`, all partitions, from the start to the end as it is now.
pub fn read_topic(
    kafka: &KafkaConfig,
    topic: &str,
    timeout: Duration,
) -> anyhow::Result<Vec<OwnedMessage>> {
    let mut out = Vec::new();
    outcry_runtime::kafka::read_to_end(kafka, "dead-letters", topic, timeout, |m| {
        out.push(m.detach());
    })
    .with_context(|| format!("reading {topic}"))?;
    Ok(out)
}

/// A byte string as JSON: its text if it is UTF-8, else `{"base64": ...}`.
fn bytes_json(bytes: &[u8]) -> Value {
    match std::str::from_utf8(bytes) {
        Ok(text) => Value::String(text.to_string()),
        Err(_) => json!({ "base64": outcry_notifier::email::base64(bytes) }),
    }
}

/// One dead letter as a JSON line, with where it sits in the dead-letter topic.
pub fn letter_json(record: &OwnedMessage, letter: &DeadLetter) -> Value {
    json!({
        "partition": record.partition(),
        "offset": record.offset(),
        "stage": letter.stage,
        "reason": letter.reason,
        "error": letter.error,
        "attempts": letter.attempts,
        "failed_at": letter.failed_at.as_ref().map(|t| outcry_runtime::time::format_rfc3339_millis(outcry_proto::millis_from_timestamp(Some(t)))),
        "source_topic": letter.source_topic,
        "source_partition": letter.source_partition,
        "source_offset": letter.source_offset,
        "original_key": bytes_json(&letter.original_key),
        "original_bytes": letter.original.len(),
        "original": bytes_json(&letter.original),
        "replayable": replayable(letter),
    })
}

fn replayable(letter: &DeadLetter) -> bool {
    !letter.source_topic.is_empty() && !letter.error.contains(CUT)
}

/// What `outcry dead-letters` did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub listed: usize,
    pub replayed: usize,
    /// records on the topic that are not `DeadLetter`s
    pub undecodable: usize,
}

/// Lists the dead letters of `topic` that match `filter` to `out`, and replays them if
/// `replay`.
pub async fn run(
    kafka: &KafkaConfig,
    topic: &str,
    filter: &Filter,
    replay: bool,
    out: &mut impl std::io::Write,
) -> anyhow::Result<Report> {
    let records = {
        let (kafka, topic) = (kafka.clone(), topic.to_string());
        tokio::task::spawn_blocking(move || read_topic(&kafka, &topic, Duration::from_secs(30)))
            .await??
    };
    let producer: Option<FutureProducer> = if replay {
        Some(outcry_runtime::kafka::producer(
            kafka,
            "dead-letter-replay",
        )?)
    } else {
        None
    };
    let mut report = Report::default();
    for record in &records {
        let Ok(letter) = DeadLetter::decode(record.payload().unwrap_or_default()) else {
            report.undecodable += 1;
            continue;
        };
        if !filter.matches(&letter) {
            continue;
        }
        report.listed += 1;
        writeln!(out, "{}", letter_json(record, &letter))?;
        if let Some(producer) = &producer {
            if !replayable(&letter) {
                continue;
            }
            let mut again = FutureRecord::to(&letter.source_topic).payload(&letter.original);
            if !letter.original_key.is_empty() {
                again = again.key(&letter.original_key);
            }
            producer
                .send(again, Duration::from_secs(30))
                .await
                .map_err(|(e, _)| e)
                .with_context(|| {
                    format!(
                        "replaying offset {} to {}",
                        record.offset(),
                        letter.source_topic
                    )
                })?;
            report.replayed += 1;
        }
    }
    Ok(report)
}

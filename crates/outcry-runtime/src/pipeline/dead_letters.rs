//! The loop's own dead letters: of a record the processor rejects, or whose output is
//! refused for good; cut to fit the producer's limit.

use super::*;

/// Dead-letter reason of an output larger than the producer's `message.max.bytes`.
pub const OUTPUT_TOO_LARGE: &str = "output_too_large";
/// Dead-letter reason of an output the producer refused for good for another reason.
pub const OUTPUT_REJECTED: &str = "output_rejected";

/// Dead-letter reasons of the loop itself, and the decode error every Kafka-fed service has.
pub(super) const RUNTIME_DEAD_LETTER_REASONS: &[&str] =
    &["decode_error", OUTPUT_TOO_LARGE, OUTPUT_REJECTED];

/// What librdkafka adds to key and value when it checks a record against `message.max.bytes`
/// (the record's framing), with room to spare.
const RECORD_OVERHEAD: usize = 512;

/// Cuts a dead letter's copies of the original value (then key) until it encodes to at most
/// `budget` bytes, and says so in its error: a letter too large to write would stop the loop.
fn fit(letter: &mut DeadLetter, budget: usize) {
    let excess = letter.encoded_len().saturating_sub(budget);
    if excess == 0 {
        return;
    }
    let (value, key) = (letter.original.len(), letter.original_key.len());
    // the note below and the length prefixes take a few dozen bytes: cut that much more
    let mut cut = excess + 128;
    let value_cut = cut.min(value);
    letter.original.truncate(value - value_cut);
    cut -= value_cut;
    letter.original_key.truncate(key - cut.min(key));
    letter.error.push_str(&format!(
        "; dead letter cut to fit: original {} of {value} bytes, key {} of {key} bytes",
        letter.original.len(),
        letter.original_key.len()
    ));
}

/// Makes the loop's dead letters, for `send` and for the delivery reports.
#[derive(Clone)]
pub(super) struct DeadLetters {
    pub(super) service: &'static str,
    pub(super) topic: Arc<str>,
    /// The producer's `message.max.bytes`: dead letters are cut to fit it.
    pub(super) max_message_bytes: usize,
}

impl DeadLetters {
    /// The dead letter of `record`, cut to fit the producer's limit, and counted.
    pub(super) fn letter(&self, record: &Record<'_>, reject: Reject) -> Output {
        metrics::counter!(format!("outcry_{}_dead_letters_total", self.service), "reason" => reject.reason)
            .increment(1);
        let key = record.key.unwrap_or_default();
        let mut letter = DeadLetter {
            original: record.payload.to_vec(),
            source_topic: record.topic.to_string(),
            source_partition: record.partition,
            source_offset: record.offset,
            stage: self.service.to_string(),
            reason: reject.reason.to_string(),
            error: reject.detail,
            failed_at: Some(outcry_proto::timestamp_from_millis(
                crate::time::now_millis(),
            )),
            original_key: key.to_vec(),
            attempts: reject.attempts,
        };
        fit(
            &mut letter,
            self.max_message_bytes
                .saturating_sub(key.len() + RECORD_OVERHEAD),
        );
        Output {
            topic: self.topic.clone(),
            partition: None,
            key: key.to_vec(),
            payload: letter.encode_to_vec(),
        }
    }

    /// The dead letter of `source`, whose output of `bytes` bytes to `topic` was refused for
    /// good with `error`, by the producer or by the broker.
    pub(super) fn refused(
        &self,
        source: &Record<'_>,
        topic: &str,
        bytes: usize,
        error: &KafkaError,
    ) -> Output {
        let reason = match error.rdkafka_error_code() {
            Some(
                RDKafkaErrorCode::MessageSizeTooLarge | RDKafkaErrorCode::MessageBatchTooLarge,
            ) => OUTPUT_TOO_LARGE,
            _ => OUTPUT_REJECTED,
        };
        tracing::warn!(
            service = self.service,
            topic = source.topic,
            partition = source.partition,
            offset = source.offset,
            output_topic = topic,
            reason,
            %error,
            "output refused, its record sent to the dead-letter topic"
        );
        let detail = format!("output of {bytes} bytes to {topic} refused: {error}");
        self.letter(source, Reject::new(reason, detail))
    }
}

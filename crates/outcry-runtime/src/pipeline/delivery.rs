//! A record's outputs on their way to the broker, until each is acknowledged or replaced by
//! a dead letter.

use super::*;

pub(super) type Pending = Pin<Box<dyn Future<Output = Settled> + Send>>;

/// An output's delivery; `dead_letter` when the output is one of the loop's own dead letters,
/// which are cut to fit and so never replaced.
pub(super) struct Delivery {
    pub(super) future: DeliveryFuture,
    pub(super) dead_letter: bool,
}

/// The record a pending delivery came from, kept until its outputs are acknowledged: the
/// broker may refuse one of them, and its dead letter carries the record.
pub(super) struct Source {
    pub(super) topic: Arc<str>,
    pub(super) partition: i32,
    pub(super) offset: i64,
    pub(super) key: Option<Vec<u8>>,
    pub(super) payload: Vec<u8>,
    pub(super) timestamp_ms: Option<i64>,
}

impl Source {
    pub(super) fn of(record: &Record<'_>) -> Source {
        Source {
            topic: record.topic.into(),
            partition: record.partition,
            offset: record.offset,
            key: record.key.map(<[u8]>::to_vec),
            payload: record.payload.to_vec(),
            timestamp_ms: record.timestamp_ms,
        }
    }

    pub(super) fn record(&self) -> Record<'_> {
        Record {
            topic: &self.topic,
            partition: self.partition,
            offset: self.offset,
            key: self.key.as_deref(),
            payload: &self.payload,
            timestamp_ms: self.timestamp_ms,
        }
    }
}

pub(super) struct Settled {
    pub(super) partition: i32,
    pub(super) offset: i64,
    pub(super) outputs: u64,
    pub(super) result: Result<(), KafkaError>,
}

/// Waits for every delivery of one record, in order. An output the broker refuses for good
/// (the topic's `max.message.bytes` is below the producer's) is replaced by a dead letter, as
/// `send` does with one the producer refuses, and the record settles only once that dead
/// letter is acknowledged too.
pub(super) async fn acknowledged(
    deliveries: Vec<Delivery>,
    source: Option<Source>,
    producer: &FutureProducer,
    letters: &DeadLetters,
) -> Result<(), KafkaError> {
    for delivery in deliveries {
        let (error, refused): (KafkaError, OwnedMessage) = match delivery.future.await {
            Ok(Ok(_)) => continue,
            Ok(Err(failed)) => failed,
            Err(_canceled) => return Err(KafkaError::Canceled),
        };
        // a dead letter is cut to fit the producer's limit: when the broker refuses one anyway
        // (the dead-letter topic's limit is lower still) nothing smaller can be written, so the
        // loop stops without storing the offset, as for any other unacknowledged output
        let source = match &source {
            Some(source) if !delivery.dead_letter && classify(&error) == ErrorClass::Skip => source,
            _ => return Err(error),
        };
        let bytes = refused.payload().map_or(0, <[u8]>::len);
        let letter = letters.refused(&source.record(), refused.topic(), bytes, &error);
        let record = FutureRecord::to(&letter.topic)
            .key(&letter.key)
            .payload(&letter.payload);
        // a full queue is backpressure here too: wait for room, never drop
        producer
            .send(record, Timeout::Never)
            .await
            .map_err(|(error, _)| error)?;
    }
    Ok(())
}

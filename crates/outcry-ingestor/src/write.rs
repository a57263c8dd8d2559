//! Writing validated mentions: each id claimed against concurrent requests, written, and the
//! answer built from what the broker acknowledged.

use crate::inflight::Reservation;
use crate::{error_response, names, rejected, retry_later, AppState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use outcry_proto::v1::Mention;
use outcry_proto::Message as _;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::FutureRecord;
use serde_json::json;

/// What became of a request's mentions.
#[derive(Default)]
struct Outcome {
    written: usize,
    duplicates: usize,
    unmatched: usize,
    /// Not acknowledged, worth retrying.
    failed: usize,
    /// Refused by the producer or the broker as too large: line and id.
    too_large: Vec<(usize, String)>,
    last_error: Option<String>,
}

pub(crate) async fn write(state: &AppState, mentions: Vec<(usize, Mention)>) -> Response {
    let total = mentions.len();
    let mut outcome = Outcome::default();
    let mut pending = Vec::with_capacity(total);
    // ids already in this batch: a set, since a batch holds up to `max_batch` mentions
    let mut in_batch = std::collections::HashSet::with_capacity(total);
    for (line, m) in mentions {
        if m.brand_ids.is_empty() {
            outcome.unmatched += 1;
        } else if !in_batch.insert(m.id.clone()) {
            outcome.duplicates += 1;
        } else {
            pending.push((line, m));
        }
    }
    drop(in_batch);
    // mentions another request is writing are retried once that write is settled; each
    // round writes what it claimed before waiting, so two requests never wait on each other
    let deadline = tokio::time::Instant::now() + state.settle_timeout;
    while !pending.is_empty() {
        let mut settled = std::pin::pin!(state.ledger.settled());
        let claimed = state.ledger.claim(
            pending,
            |(_, m): &(usize, Mention)| m.id.as_str(),
            settled.as_mut(),
        );
        outcome.duplicates += claimed.duplicates;
        send(state, claimed.mine, claimed.reservation, &mut outcome).await;
        pending = claimed.busy;
        if !pending.is_empty() && tokio::time::timeout_at(deadline, settled).await.is_err() {
            outcome.failed += pending.len();
            outcome.last_error = Some("another request was still writing them".into());
            break;
        }
    }
    respond(state, total, outcome)
}

fn is_too_large(error: &KafkaError) -> bool {
    error.rdkafka_error_code() == Some(RDKafkaErrorCode::MessageSizeTooLarge)
}

/// Writes the claimed mentions and settles their claim.
async fn send(
    state: &AppState,
    mine: Vec<(usize, Mention)>,
    reservation: Reservation<'_>,
    outcome: &mut Outcome,
) {
    if mine.is_empty() {
        return;
    }
    let encoded: Vec<(usize, String, Vec<u8>)> = mine
        .into_iter()
        .map(|(line, m)| {
            let value = m.encode_to_vec();
            (line, m.id, value)
        })
        .collect();
    let sends = encoded.iter().map(|(_, key, value)| {
        state.producer.send(
            FutureRecord::to(&state.topic).key(key).payload(value),
            state.queue_timeout,
        )
    });
    let results = futures::future::join_all(sends).await;
    let mut acknowledged = Vec::with_capacity(results.len());
    for ((line, key, _), result) in encoded.iter().zip(results) {
        let written = match result {
            Ok(_) => true,
            // a record the producer or the broker will never take: the client must hear so
            // (a 4xx), a 503 would have it retry for ever
            Err((error, _)) if is_too_large(&error) => {
                outcome.too_large.push((*line, key.clone()));
                false
            }
            Err((error, _)) => {
                outcome.failed += 1;
                outcome.last_error = Some(error.to_string());
                false
            }
        };
        outcome.written += usize::from(written);
        acknowledged.push(written);
    }
    reservation.settle(&acknowledged);
}

fn respond(state: &AppState, total: usize, outcome: Outcome) -> Response {
    let Outcome {
        written,
        duplicates,
        unmatched,
        failed,
        too_large,
        last_error,
    } = outcome;
    // whatever the answer, what the broker acknowledged is in Kafka and in the dedup window
    metrics::counter!(names::ACCEPTED).increment(written as u64);
    metrics::counter!(names::DUPLICATES).increment(duplicates as u64);
    metrics::counter!(names::UNMATCHED).increment(unmatched as u64);
    if failed > 0 {
        // the too large ones are answered when the client retries and nothing else fails
        let failed = failed + too_large.len();
        metrics::counter!(names::WRITE_FAILURES).increment(failed as u64);
        let error = last_error.unwrap_or_default();
        tracing::warn!(failed, written, %error, "mentions not acknowledged by the broker, answering 503");
        return retry_later(
            state.retry_after_secs,
            json!({
                "error": format!("the broker did not acknowledge {failed} of {} mentions: {error}; retry the whole request, acknowledged mentions are deduplicated", written + failed),
                "written": written,
                "failed": failed,
            }),
        );
    }
    if let Some((line, id)) = too_large.first() {
        rejected("too_large", too_large.len());
        tracing::warn!(
            count = too_large.len(),
            "kafka refused mentions as too large; kafka message.max.bytes is below what the ingestor accepts"
        );
        let details: Vec<_> = too_large
            .iter()
            .take(20)
            .map(|(line, id)| json!({"line": line, "field": ".", "reason": "too_large", "error": format!("kafka refused mention {id:?} as too large")}))
            .collect();
        return error_response(
            StatusCode::BAD_REQUEST,
            json!({
                "error": format!("line {line}: kafka refused mention {id:?} as too large; the other mentions were written"),
                "line": line,
                "field": ".",
                "reason": "too_large",
                "errors": details,
                "accepted": written,
                "duplicates": duplicates,
                "unmatched": unmatched,
            }),
        );
    }
    metrics::histogram!(names::BATCH_MENTIONS).record(total as f64);
    metrics::counter!(names::REQUESTS, "status" => "202").increment(1);
    (
        StatusCode::ACCEPTED,
        Json(json!({"accepted": written, "duplicates": duplicates, "unmatched": unmatched})),
    )
        .into_response()
}

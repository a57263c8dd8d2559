//! The webhook payload: an `Escalation` as JSON with stable field names, enums as lowercase
//! strings and timestamps in RFC 3339. Receivers deduplicate on `escalation_id` and upsert on
//! `case_id`.

use outcry_proto::v1::{
    CaseState, Escalation, EscalationKind, Explanation, Priority, Sentiment, Signal,
    SpikeExplanation, TermContribution,
};
use outcry_proto::{millis_from_timestamp, Timestamp};
use outcry_runtime::time::format_rfc3339_millis;
use serde_json::{json, Value};

fn ts(t: Option<&Timestamp>) -> Value {
    match t {
        Some(t) => Value::String(format_rfc3339_millis(millis_from_timestamp(Some(t)))),
        None => Value::Null,
    }
}

pub fn kind_label(kind: i32) -> &'static str {
    match EscalationKind::try_from(kind) {
        Ok(EscalationKind::Mention) => "mention",
        Ok(EscalationKind::Spike) => "spike",
        _ => "unspecified",
    }
}

pub fn state_label(state: i32) -> &'static str {
    match CaseState::try_from(state) {
        Ok(CaseState::Open) => "open",
        Ok(CaseState::Updated) => "updated",
        Ok(CaseState::Resolved) => "resolved",
        _ => "unspecified",
    }
}

fn sentiment(s: Option<&Sentiment>) -> Value {
    s.map_or(
        Value::Null,
        |s| json!({"compound": s.compound, "pos": s.pos, "neu": s.neu, "neg": s.neg}),
    )
}

fn signals(signals: &[Signal]) -> Value {
    signals
        .iter()
        .map(|s| json!({"name": s.name, "evidence": s.evidence}))
        .collect()
}

fn terms(terms: &[TermContribution]) -> Value {
    terms
        .iter()
        .map(|t| json!({"term": t.term, "weight": t.weight}))
        .collect()
}

fn spike(s: Option<&SpikeExplanation>) -> Value {
    s.map_or(Value::Null, |s| {
        json!({
            "series": s.series,
            "observed": s.observed,
            "expected": s.expected,
            "deviation": s.deviation,
            "anomaly_score": s.anomaly_score,
            "severity": s.severity,
            "bucket_start": ts(s.bucket_start.as_ref()),
            "bucket_seconds": s.bucket_seconds,
            "duration_buckets": s.duration_buckets,
        })
    })
}

fn explanation(e: Option<&Explanation>) -> Value {
    e.map_or(Value::Null, |e| {
        json!({
            "rule": e.rule,
            "text": e.text,
            "sentiment": sentiment(e.sentiment.as_ref()),
            "complaint_probability": e.complaint_probability,
            "author_influence": e.author_influence,
            "signals": signals(&e.signals),
            "top_terms": terms(&e.top_terms),
            "spike": spike(e.spike.as_ref()),
        })
    })
}

/// The JSON document a webhook receives for one escalation record.
pub fn escalation_json(e: &Escalation) -> Value {
    let priority = Priority::try_from(e.priority).unwrap_or(Priority::Unspecified);
    json!({
        "escalation_id": e.escalation_id,
        "case_id": e.case_id,
        "kind": kind_label(e.kind),
        "state": state_label(e.state),
        "sequence": e.sequence,
        "brand_id": e.brand_id,
        "team": e.team,
        "priority": priority.label(),
        "sla_due": ts(e.sla_due.as_ref()),
        "summary": e.summary,
        "explanation": explanation(e.explanation.as_ref()),
        "sample_mention_ids": e.sample_mention_ids,
        "mention_count": e.mention_count,
        "unique_authors": e.unique_authors,
        "reach": e.reach,
        "first_seen": ts(e.first_seen.as_ref()),
        "last_seen": ts(e.last_seen.as_ref()),
        "emitted_at": ts(e.emitted_at.as_ref()),
        "trigger_received_at": ts(e.trigger_received_at.as_ref()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use outcry_proto::timestamp_from_millis;

    #[test]
    fn enums_and_times_are_readable_strings() {
        let e = Escalation {
            escalation_id: "e1".into(),
            case_id: "c1".into(),
            kind: EscalationKind::Spike as i32,
            state: CaseState::Open as i32,
            sequence: 1,
            priority: Priority::P1 as i32,
            sla_due: Some(timestamp_from_millis(1_763_892_000_000)),
            ..Default::default()
        };
        let v = escalation_json(&e);
        assert_eq!(v["kind"], "spike");
        assert_eq!(v["state"], "open");
        assert_eq!(v["priority"], "P1");
        assert_eq!(v["sla_due"], "2025-11-23T10:00:00.000Z");
        assert_eq!(v["explanation"], Value::Null);
    }
}

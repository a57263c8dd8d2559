//! The body each webhook format gets for one escalation record.
//!
//! - `outcry`: the whole escalation ([`json::escalation_json`]).
//! - `slack`: a Slack incoming-webhook message. Text from the mention (signal evidence, the
//!   summary) is escaped as Slack asks (`&`, `<`, `>`), so a post cannot ping `<!channel>`
//!   or smuggle a link.
//! - `pagerduty`: an Events API v2 event. `dedup_key` is the case id, so a case is one
//!   incident however many records it gets: `trigger` while it is open or updated,
//!   `resolve` when it resolves. Severity from the priority: P1 critical, P2 error,
//!   P3 warning, P4 info.
//! - `email`: the message [`crate::email::message`] makes, as a JSON string.
//! - `alertmanager`: a one-alert array for `POST /api/v2/alerts`, labelled by case (case
//!   id, brand, team, kind: labels a case keeps, so every record of it is the same alert; its
//!   priority, which a spike can raise, is an annotation), so Alertmanager groups and
//!   deduplicates on it. Outcry does not re-send a firing alert the
//!   way Prometheus does, so an open case's alert carries `endsAt` a day after the record
//!   (Alertmanager would otherwise end it after its `resolve_timeout`, five minutes by
//!   default); the record that resolves the case ends it at once.

use crate::json;
use outcry_proto::millis_from_timestamp;
use outcry_proto::v1::{CaseState, Escalation, Priority};
use outcry_runtime::config::{WebhookConfig, WebhookFormat};
use outcry_runtime::time::format_rfc3339_millis;
use serde_json::{json, Value};

/// How long an open case's Alertmanager alert lasts without another record.
pub const ALERT_HOLD_MS: i64 = 24 * 3600 * 1000;

/// PagerDuty's limit on `payload.summary`.
const PAGERDUTY_SUMMARY_MAX: usize = 1024;

/// The body for `hook`; `outcry` is the shared body of the `outcry` format.
pub fn body(hook: &WebhookConfig, e: &Escalation, outcry: &Value) -> Value {
    match hook.format {
        WebhookFormat::Outcry => outcry.clone(),
        WebhookFormat::Slack => slack(e),
        WebhookFormat::Pagerduty => pagerduty(e, &hook.routing_key, outcry),
        WebhookFormat::Alertmanager => alertmanager(e),
        // the whole message, sent as it is
        WebhookFormat::Email => Value::String(crate::email::message(hook, e)),
    }
}

fn priority(e: &Escalation) -> &'static str {
    Priority::try_from(e.priority)
        .unwrap_or(Priority::Unspecified)
        .label()
}

fn resolved(e: &Escalation) -> bool {
    e.state == CaseState::Resolved as i32
}

/// The record's time: when the router emitted it, or the epoch if it does not say.
fn emitted_ms(e: &Escalation) -> i64 {
    millis_from_timestamp(e.emitted_at.as_ref())
}

/// Text Slack shows as written: `&`, `<` and `>` escaped, as its message formatting asks.
pub fn slack_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

fn slack(e: &Escalation) -> Value {
    let state = json::state_label(e.state);
    let mut text = format!(
        "*{}* {} case for *{}*: {}\n",
        priority(e),
        state,
        slack_escape(&e.team),
        slack_escape(&e.summary)
    );
    if let Some(x) = &e.explanation {
        for s in &x.signals {
            text.push_str(&format!(
                "• {}: \"{}\"\n",
                slack_escape(&s.name),
                slack_escape(&s.evidence)
            ));
        }
    }
    if !resolved(e) {
        let due = millis_from_timestamp(e.sla_due.as_ref());
        if due > 0 {
            text.push_str(&format!("SLA due {}\n", format_rfc3339_millis(due)));
        }
    }
    text.push_str(&format!(
        "case `{}` #{} · {} mention(s), reach {}",
        slack_escape(&e.case_id),
        e.sequence,
        e.mention_count,
        e.reach
    ));
    json!({ "text": text })
}

fn pagerduty(e: &Escalation, routing_key: &str, outcry: &Value) -> Value {
    if resolved(e) {
        return json!({
            "routing_key": routing_key,
            "event_action": "resolve",
            "dedup_key": e.case_id,
        });
    }
    let severity = match Priority::try_from(e.priority) {
        Ok(Priority::P1) => "critical",
        Ok(Priority::P2) => "error",
        Ok(Priority::P3) => "warning",
        _ => "info",
    };
    let mut summary = format!("{} {}: {}", priority(e), e.team, e.summary);
    if summary.len() > PAGERDUTY_SUMMARY_MAX {
        let mut cut = PAGERDUTY_SUMMARY_MAX - 3;
        while !summary.is_char_boundary(cut) {
            cut -= 1;
        }
        summary.truncate(cut);
        summary.push_str("...");
    }
    json!({
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": e.case_id,
        "payload": {
            "summary": summary,
            "source": format!("outcry/{}", e.brand_id),
            "severity": severity,
            "timestamp": format_rfc3339_millis(emitted_ms(e)),
            "component": e.brand_id,
            "group": e.team,
            "class": json::kind_label(e.kind),
            "custom_details": outcry,
        },
    })
}

fn alertmanager(e: &Escalation) -> Value {
    let emitted = emitted_ms(e);
    let first = millis_from_timestamp(e.first_seen.as_ref());
    let starts = if first > 0 {
        first.min(emitted)
    } else {
        emitted
    };
    let ends = if resolved(e) {
        emitted
    } else {
        emitted.saturating_add(ALERT_HOLD_MS)
    };
    let description = e
        .explanation
        .as_ref()
        .map(|x| x.text.clone())
        .unwrap_or_default();
    json!([{
        "labels": {
            "alertname": "OutcryEscalation",
            "case_id": e.case_id,
            "brand_id": e.brand_id,
            "team": e.team,
            "kind": json::kind_label(e.kind),
        },
        "annotations": {
            "priority": priority(e),
            "summary": e.summary,
            "description": description,
            "escalation_id": e.escalation_id,
            "state": json::state_label(e.state),
        },
        "startsAt": format_rfc3339_millis(starts),
        "endsAt": format_rfc3339_millis(ends),
    }])
}

#[cfg(test)]
mod tests {
    use super::*;
    use outcry_proto::timestamp_from_millis;
    use outcry_proto::v1::{EscalationKind, Explanation, Signal};

    const T: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

    fn escalation(state: CaseState, priority: Priority) -> Escalation {
        Escalation {
            escalation_id: "acme-m-1:1".into(),
            case_id: "acme-m-1".into(),
            kind: EscalationKind::Mention as i32,
            state: state as i32,
            sequence: 1,
            brand_id: "acme".into(),
            team: "acme-legal".into(),
            priority: priority as i32,
            sla_due: Some(timestamp_from_millis(T + 1_800_000)),
            summary: "Acme Air: legal threat from @ann".into(),
            explanation: Some(Explanation {
                text: "p=0.93, legal_threat".into(),
                signals: vec![Signal {
                    name: "legal_threat".into(),
                    evidence: "<!channel> my LAWYER & <https://x.example|you>".into(),
                }],
                ..Default::default()
            }),
            mention_count: 1,
            reach: 120,
            first_seen: Some(timestamp_from_millis(T - 60_000)),
            emitted_at: Some(timestamp_from_millis(T)),
            ..Default::default()
        }
    }

    fn hook(format: WebhookFormat) -> WebhookConfig {
        WebhookConfig {
            name: "h".into(),
            url: "http://127.0.0.1:9/h".into(),
            format,
            routing_key: "R0UT1NG".into(),
            ..Default::default()
        }
    }

    fn body_of(format: WebhookFormat, e: &Escalation) -> Value {
        body(&hook(format), e, &json::escalation_json(e))
    }

    #[test]
    fn outcry_format_is_the_escalation_json() {
        let e = escalation(CaseState::Open, Priority::P1);
        assert_eq!(
            body_of(WebhookFormat::Outcry, &e),
            json::escalation_json(&e)
        );
    }

    #[test]
    fn slack_text_escapes_what_the_mention_wrote() {
        let v = body_of(
            WebhookFormat::Slack,
            &escalation(CaseState::Open, Priority::P1),
        );
        let text = v["text"].as_str().unwrap();
        assert!(
            text.starts_with("*P1* open case for *acme-legal*: Acme Air"),
            "{text}"
        );
        assert!(
            text.contains(
                "legal_threat: \"&lt;!channel&gt; my LAWYER &amp; &lt;https://x.example|you&gt;\""
            ),
            "{text}"
        );
        assert!(!text.contains("<!channel>"), "{text}");
        assert!(text.contains("SLA due 2026-01-01T00:30:00.000Z"), "{text}");
        assert!(text.contains("case `acme-m-1` #1"), "{text}");
        // a resolved case has no SLA to meet
        let v = body_of(
            WebhookFormat::Slack,
            &escalation(CaseState::Resolved, Priority::P1),
        );
        assert!(!v["text"].as_str().unwrap().contains("SLA due"), "{v}");
    }

    #[test]
    fn pagerduty_has_one_incident_per_case_triggered_then_resolved() {
        let open = escalation(CaseState::Open, Priority::P1);
        let v = body_of(WebhookFormat::Pagerduty, &open);
        assert_eq!(v["routing_key"], "R0UT1NG");
        assert_eq!(v["event_action"], "trigger");
        assert_eq!(v["dedup_key"], "acme-m-1");
        assert_eq!(v["payload"]["severity"], "critical");
        assert_eq!(v["payload"]["source"], "outcry/acme");
        assert_eq!(v["payload"]["timestamp"], "2026-01-01T00:00:00.000Z");
        assert_eq!(v["payload"]["custom_details"], json::escalation_json(&open));
        let mut updated = escalation(CaseState::Updated, Priority::P3);
        updated.sequence = 2;
        let v = body_of(WebhookFormat::Pagerduty, &updated);
        assert_eq!(
            (
                &v["event_action"],
                &v["dedup_key"],
                &v["payload"]["severity"]
            ),
            (&json!("trigger"), &json!("acme-m-1"), &json!("warning"))
        );
        let v = body_of(
            WebhookFormat::Pagerduty,
            &escalation(CaseState::Resolved, Priority::P3),
        );
        assert_eq!(
            v,
            json!({"routing_key": "R0UT1NG", "event_action": "resolve", "dedup_key": "acme-m-1"})
        );
        for (p, severity) in [(Priority::P2, "error"), (Priority::P4, "info")] {
            let v = body_of(WebhookFormat::Pagerduty, &escalation(CaseState::Open, p));
            assert_eq!(v["payload"]["severity"], severity);
        }
    }

    #[test]
    fn pagerduty_summary_is_cut_to_its_limit_on_a_character() {
        let mut e = escalation(CaseState::Open, Priority::P2);
        e.summary = "é".repeat(2000);
        let v = body_of(WebhookFormat::Pagerduty, &e);
        let summary = v["payload"]["summary"].as_str().unwrap();
        assert!(summary.len() <= PAGERDUTY_SUMMARY_MAX, "{}", summary.len());
        assert!(summary.ends_with("..."));
    }

    #[test]
    fn alertmanager_alert_is_labelled_by_case_and_ends_when_it_resolves() {
        let v = body_of(
            WebhookFormat::Alertmanager,
            &escalation(CaseState::Open, Priority::P1),
        );
        let alert = &v[0];
        assert_eq!(v.as_array().map(Vec::len), Some(1));
        assert_eq!(alert["labels"]["alertname"], "OutcryEscalation");
        assert_eq!(alert["labels"]["case_id"], "acme-m-1");
        assert_eq!(alert["annotations"]["priority"], "P1");
        assert_eq!(alert["annotations"]["escalation_id"], "acme-m-1:1");
        assert_eq!(alert["startsAt"], "2025-12-31T23:59:00.000Z");
        assert_eq!(alert["endsAt"], "2026-01-02T00:00:00.000Z");
        let v = body_of(
            WebhookFormat::Alertmanager,
            &escalation(CaseState::Resolved, Priority::P1),
        );
        assert_eq!(v[0]["endsAt"], "2026-01-01T00:00:00.000Z");
        assert_eq!(v[0]["labels"], alert["labels"]);
        // a spike raised to P1 is still the same alert
        let v = body_of(
            WebhookFormat::Alertmanager,
            &escalation(CaseState::Updated, Priority::P3),
        );
        assert_eq!(v[0]["labels"], alert["labels"]);
    }
}

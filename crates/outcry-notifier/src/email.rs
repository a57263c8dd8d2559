//! Email through an SMTP relay: the message for one escalation record, and one SMTP
//! transaction to send it.
//!
//! SMTP (RFC 5321) to the relay named by the webhook's url:
//!
//! - `smtp://host[:port]` (port 25 by default): plain text, for the relay a cluster runs next
//!   to its services (a Postfix sidecar, a cloud mail relay's local endpoint);
//! - the same with `starttls: true` (the submission port 587 of a mail provider): the
//!   connection is upgraded with STARTTLS (RFC 3207) before anything else is sent, and a relay
//!   that does not offer it fails the delivery rather than getting the message in clear;
//! - `smtps://host[:port]` (port 465 by default): TLS from the first byte (RFC 8314).
//!
//! TLS checks the relay's certificate against the public web roots (`webpki-roots`) or the
//! CA certificates of the webhook's `ca_file`, and the relay's name from the url. With a
//! `username`, the client authenticates (RFC 4954) with PLAIN, or LOGIN when that is all the
//! relay offers, only ever over TLS (the config refuses AUTH on a plain connection); the
//! credentials never appear in an error.
//!
//! The message is UTF-8 text, base64 encoded, so it passes any relay whatever the mention
//! wrote; the subject is cut to 150 characters, with control characters (a newline in a handle
//! could otherwise start a header of its own) made spaces, and RFC 2047 encoded when it is
//! not ASCII. `Message-ID` is made from the escalation id (`case:3` as `case.3`), the same
//! on every retry, so a mail system that deduplicates on it shows one message per record.
//!
//! Reply codes decide retries as SMTP means them: 2xx delivered, 4xx (and a dropped
//! connection or a timeout) transient, retried; 5xx permanent, not retried. So is what no
//! retry can change: a certificate that does not verify, a relay without STARTTLS or without
//! an AUTH mechanism Outcry speaks.

use crate::json;
use outcry_proto::millis_from_timestamp;
use outcry_proto::v1::{CaseState, Escalation, Priority};
use outcry_runtime::config::WebhookConfig;
use outcry_runtime::time::format_rfc3339_millis;

mod smtp;

pub use smtp::{send, Relay, SmtpFailure};

/// Longest subject, in characters, before it is cut.
const SUBJECT_MAX: usize = 150;

/// Standard base64 with padding (RFC 4648), as MIME bodies, encoded words and SMTP AUTH
/// want it.
pub fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The subject as one header value: control characters made spaces, cut on a character,
/// and RFC 2047 encoded words (each at most 75 characters) when it is not ASCII.
fn subject_header(subject: &str) -> String {
    let clean: String = subject
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(SUBJECT_MAX)
        .collect();
    if clean.is_ascii() {
        return clean;
    }
    // 45 bytes of UTF-8 make 60 base64 characters: with `=?UTF-8?B?` and `?=`, 72
    let mut words = Vec::new();
    let mut word = String::new();
    for c in clean.chars() {
        if word.len() + c.len_utf8() > 45 {
            words.push(format!("=?UTF-8?B?{}?=", base64(word.as_bytes())));
            word.clear();
        }
        word.push(c);
    }
    if !word.is_empty() {
        words.push(format!("=?UTF-8?B?{}?=", base64(word.as_bytes())));
    }
    words.join("\r\n ")
}

/// `Wed, 02 Dec 2026 18:00:00 +0000` (RFC 5322) for unix milliseconds.
fn mail_date(ms: i64) -> String {
    let iso = format_rfc3339_millis(ms); // 2026-12-02T18:00:00.000Z
    let days = ms.max(0).div_euclid(86_400_000);
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days % 7) as usize];
    let month: usize = iso.get(5..7).and_then(|m| m.parse().ok()).unwrap_or(1);
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{weekday}, {} {} {} {} +0000",
        iso.get(8..10).unwrap_or("01"),
        months[month.clamp(1, 12) - 1],
        iso.get(0..4).unwrap_or("1970"),
        iso.get(11..19).unwrap_or("00:00:00"),
    )
}

/// The text of the message: what the case is, why, and how to find it.
fn text(e: &Escalation) -> String {
    let priority = Priority::try_from(e.priority)
        .unwrap_or(Priority::Unspecified)
        .label();
    let mut out = format!(
        "{priority} {} case for {}\n\n{}\n\n",
        json::state_label(e.state),
        e.team,
        e.summary
    );
    if let Some(x) = &e.explanation {
        if !x.text.is_empty() {
            out.push_str(&format!("Why: {}\n", x.text));
        }
        for s in &x.signals {
            out.push_str(&format!("Signal {}: \"{}\"\n", s.name, s.evidence));
        }
    }
    if e.state != CaseState::Resolved as i32 {
        let due = millis_from_timestamp(e.sla_due.as_ref());
        if due > 0 {
            out.push_str(&format!("SLA due: {}\n", format_rfc3339_millis(due)));
        }
    }
    out.push_str(&format!(
        "\nCase {} (record {}, {}), brand {}, {} mention(s) from {} author(s), reach {}\nSample mentions: {}\n",
        e.case_id,
        e.sequence,
        e.escalation_id,
        e.brand_id,
        e.mention_count,
        e.unique_authors,
        e.reach,
        e.sample_mention_ids.join(", ")
    ));
    out
}

/// The escalation id as the left part of a `Message-ID` (a dot-atom): letters, digits, `-`
/// and `_` kept, anything else (the `:` before the sequence) a `.`.
fn message_id(escalation_id: &str) -> String {
    let id: String = escalation_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '.'
            }
        })
        .collect();
    // a dot-atom neither starts nor ends with a dot, nor has two in a row
    let parts: Vec<&str> = id.split('.').filter(|p| !p.is_empty()).collect();
    if parts.is_empty() {
        "escalation".into()
    } else {
        parts.join(".")
    }
}

/// The whole message for one record, CRLF line endings, ready for `DATA` (before dot
/// stuffing).
pub fn message(hook: &WebhookConfig, e: &Escalation) -> String {
    let priority = Priority::try_from(e.priority)
        .unwrap_or(Priority::Unspecified)
        .label();
    let subject = format!(
        "[{priority}] {} {}: {}",
        e.team,
        json::state_label(e.state),
        e.summary
    );
    let body = base64(text(e).as_bytes());
    let mut lines = vec![
        format!("From: {}", hook.from),
        format!("To: {}", hook.to.join(", ")),
        format!("Subject: {}", subject_header(&subject)),
        format!(
            "Date: {}",
            mail_date(millis_from_timestamp(e.emitted_at.as_ref()))
        ),
        format!("Message-ID: <{}@outcry>", message_id(&e.escalation_id)),
        format!(
            "X-Outcry-Case-Id: {}",
            e.case_id.replace(char::is_control, " ")
        ),
        "MIME-Version: 1.0".to_string(),
        "Content-Type: text/plain; charset=utf-8".to_string(),
        "Content-Transfer-Encoding: base64".to_string(),
        String::new(),
    ];
    let bytes = body.as_bytes();
    lines.extend(
        bytes
            .chunks(76)
            .map(|l| String::from_utf8_lossy(l).into_owned()),
    );
    let mut out = lines.join("\r\n");
    out.push_str("\r\n");
    out
}

#[cfg(test)]
mod tests;

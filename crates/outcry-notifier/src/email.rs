//! Email through an SMTP relay: the message for one escalation record, and one SMTP
//! transaction to send it.
//!
//! Plain SMTP (RFC 5321) to the relay named by the webhook's `smtp://host[:port]` url (port
//! 25 by default), with no TLS and no authentication: the relay a cluster runs next to its
//! services (a Postfix or a cloud mail relay's local endpoint), which does both onwards. The
//! message is UTF-8 text, base64 encoded, so it passes any relay whatever the mention wrote;
//! the subject is cut to 150 characters, with control characters (a newline in a handle
//! could otherwise start a header of its own) made spaces, and RFC 2047 encoded when it is
//! not ASCII. `Message-ID` is made from the escalation id (`case:3` as `case.3`), the same
//! on every retry, so a mail system that deduplicates on it shows one message per record.
//!
//! Reply codes decide retries as SMTP means them: 2xx delivered, 4xx (and a dropped
//! connection or a timeout) transient, retried; 5xx permanent, not retried.

use crate::json;
use outcry_proto::millis_from_timestamp;
use outcry_proto::v1::{CaseState, Escalation, Priority};
use outcry_runtime::config::WebhookConfig;
use outcry_runtime::time::format_rfc3339_millis;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Longest subject, in characters, before it is cut.
const SUBJECT_MAX: usize = 150;

/// How one SMTP transaction failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpFailure {
    /// the reply code, if the relay answered one
    pub code: Option<u16>,
    pub detail: String,
}

impl SmtpFailure {
    /// Whether trying again may help: a 4xx reply, or no reply at all.
    pub fn transient(&self) -> bool {
        self.code.is_none_or(|c| (400..500).contains(&c))
    }

    /// The `result` label of the attempt: the reply's class, or `error`.
    pub fn label(&self) -> &'static str {
        match self.code {
            Some(400..=499) => "4xx",
            Some(500..=599) => "5xx",
            _ => "error",
        }
    }
}

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(TABLE[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
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

/// `host:port` of an `smtp://host[:port]` url.
fn relay(url: &str) -> Option<String> {
    let rest = url.strip_prefix("smtp://")?.trim_end_matches('/');
    if rest.is_empty() || rest.contains(['/', '@', '?']) {
        return None;
    }
    let has_port = rest.rsplit_once(':').is_some_and(|(host, port)| {
        !host.is_empty() && !host.ends_with(':') && port.parse::<u16>().is_ok()
    });
    Some(if has_port {
        rest.to_string()
    } else {
        format!("{rest}:25")
    })
}

/// Reads one reply, its continuation lines included: the code and the last line.
async fn reply<R: AsyncBufReadExt + Unpin>(reader: &mut R) -> Result<(u16, String), SmtpFailure> {
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader.read_line(&mut line).await.map_err(|e| SmtpFailure {
            code: None,
            detail: format!("reading the reply: {e}"),
        })?;
        if n == 0 {
            return Err(SmtpFailure {
                code: None,
                detail: "the relay closed the connection".into(),
            });
        }
        let code = line.get(..3).and_then(|c| c.parse::<u16>().ok());
        let Some(code) = code else {
            return Err(SmtpFailure {
                code: None,
                detail: format!("not an SMTP reply: {:?}", line.trim_end()),
            });
        };
        // `250-...` continues, `250 ...` (or `250`) ends the reply
        if line.as_bytes().get(3) != Some(&b'-') {
            return Ok((code, line.trim_end().to_string()));
        }
    }
}

/// Sends `command` (unless empty) and wants a reply of code `want`.
async fn step<S>(reader: &mut BufReader<S>, command: &str, want: u16) -> Result<(), SmtpFailure>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    if !command.is_empty() {
        reader
            .get_mut()
            .write_all(command.as_bytes())
            .await
            .map_err(|e| SmtpFailure {
                code: None,
                detail: format!("writing {:?}: {e}", command.split_whitespace().next()),
            })?;
    }
    let (code, text) = reply(reader).await?;
    let ok = if want == 250 {
        code == 250 || code == 251
    } else {
        code == want
    };
    if ok {
        Ok(())
    } else {
        let verb = command.split([' ', ':', '\r']).next().unwrap_or("greeting");
        Err(SmtpFailure {
            code: Some(code),
            detail: format!(
                "smtp {} answered {text:?}",
                if verb.is_empty() { "greeting" } else { verb }
            ),
        })
    }
}

/// One SMTP transaction: the message to every recipient, within `timeout`.
pub async fn send(
    hook: &WebhookConfig,
    message: &str,
    timeout: Duration,
) -> Result<(), SmtpFailure> {
    let Some(addr) = relay(&hook.url) else {
        return Err(SmtpFailure {
            code: Some(500),
            detail: format!("{:?} is not an smtp://host[:port] url", hook.url),
        });
    };
    let transaction = async {
        let stream = TcpStream::connect(&addr).await.map_err(|e| SmtpFailure {
            code: None,
            detail: format!("connecting to {addr}: {e}"),
        })?;
        let mut conn = BufReader::new(stream);
        step(&mut conn, "", 220).await?;
        step(&mut conn, "EHLO outcry\r\n", 250).await?;
        step(&mut conn, &format!("MAIL FROM:<{}>\r\n", hook.from), 250).await?;
        for to in &hook.to {
            step(&mut conn, &format!("RCPT TO:<{to}>\r\n"), 250).await?;
        }
        step(&mut conn, "DATA\r\n", 354).await?;
        // dot stuffing: a line that starts with `.` gets another
        let mut data = String::with_capacity(message.len() + 8);
        for line in message.split_inclusive("\r\n") {
            if line.starts_with('.') {
                data.push('.');
            }
            data.push_str(line);
        }
        if !data.ends_with("\r\n") {
            data.push_str("\r\n");
        }
        data.push_str(".\r\n");
        step(&mut conn, &data, 250).await?;
        // delivered; a relay that hangs up before answering QUIT changes nothing
        let _ = conn.get_mut().write_all(b"QUIT\r\n").await;
        Ok(())
    };
    match tokio::time::timeout(timeout, transaction).await {
        Ok(result) => result,
        Err(_) => Err(SmtpFailure {
            code: None,
            detail: format!("no answer from {addr} within {}ms", timeout.as_millis()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use outcry_proto::timestamp_from_millis;

    #[test]
    fn base64_matches_the_rfc_4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    #[test]
    fn dates_are_rfc_5322() {
        assert_eq!(mail_date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(
            mail_date(1_796_234_400_000),
            "Wed, 02 Dec 2026 18:00:00 +0000"
        );
    }

    #[test]
    fn a_subject_cannot_start_a_header_and_non_ascii_is_encoded() {
        assert_eq!(
            subject_header("legal threat from @ann\r\nBcc: all@example.com"),
            "legal threat from @ann  Bcc: all@example.com"
        );
        let encoded = subject_header("Café: plainte «urgente» ");
        assert!(encoded.starts_with("=?UTF-8?B?"), "{encoded}");
        assert!(encoded.split("\r\n ").all(|w| w.len() <= 75), "{encoded}");
        let long = subject_header(&"é".repeat(400));
        assert!(long.split("\r\n ").count() > 1);
        assert!(long.split("\r\n ").all(|w| w.len() <= 75), "{long}");
    }

    #[test]
    fn relay_urls_default_to_port_25() {
        assert_eq!(relay("smtp://relay.mail").as_deref(), Some("relay.mail:25"));
        assert_eq!(relay("smtp://relay:2525/").as_deref(), Some("relay:2525"));
        assert_eq!(
            relay("smtp://127.0.0.1:1025").as_deref(),
            Some("127.0.0.1:1025")
        );
        assert_eq!(relay("smtp://user@relay:25"), None);
        assert_eq!(relay("http://relay"), None);
        assert_eq!(relay("smtp://"), None);
    }

    #[test]
    fn the_message_says_what_why_and_where() {
        let hook = WebhookConfig {
            from: "outcry@example.com".into(),
            to: vec!["care@example.com".into(), "legal@example.com".into()],
            ..Default::default()
        };
        let e = Escalation {
            escalation_id: "acme-m-1:1".into(),
            case_id: "acme-m-1".into(),
            state: CaseState::Open as i32,
            priority: Priority::P1 as i32,
            team: "acme-legal".into(),
            summary: "Acme Air: legal threat".into(),
            emitted_at: Some(timestamp_from_millis(1_796_234_400_000)),
            sla_due: Some(timestamp_from_millis(1_796_236_200_000)),
            ..Default::default()
        };
        let m = message(&hook, &e);
        assert!(
            m.contains("Subject: [P1] acme-legal open: Acme Air: legal threat\r\n"),
            "{m}"
        );
        assert!(m.contains("To: care@example.com, legal@example.com\r\n"));
        assert!(m.contains("Message-ID: <acme-m-1.1@outcry>\r\n"));
        assert_eq!(message_id(":a::b c:"), "a.b.c");
        assert_eq!(message_id("::"), "escalation");
        assert!(m.contains("Date: Wed, 02 Dec 2026 18:00:00 +0000\r\n"));
        let (_, body) = m.split_once("\r\n\r\n").unwrap();
        assert!(body.lines().all(|l| l.len() <= 76));
        assert!(!m.contains("\n\n") && m.matches('\n').count() == m.matches("\r\n").count());
    }
}

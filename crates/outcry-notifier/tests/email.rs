//! Email delivery against a real SMTP server on loopback (Python's `smtpd`, see
//! `smtp_server.py`), which also decodes what it received with Python's `email` package.

use outcry_notifier::Notifier;
use outcry_proto::v1::{CaseState, Escalation, Explanation, Priority, Signal};
use outcry_proto::{timestamp_from_millis, Message as _};
use outcry_runtime::config::{NotifierConfig, WebhookConfig, WebhookFormat};
use outcry_runtime::pipeline::{Processor, Record};
use serde_json::Value;
use std::io::BufRead as _;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The SMTP server, killed on drop, and the lines it prints.
struct Server {
    child: Child,
    port: u16,
    lines: mpsc::Receiver<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn server(args: &[&str]) -> Server {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp_server.py");
    let mut child = Command::new("python3")
        .arg(script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 runs the SMTP server");
    let stdout = child.stdout.take().unwrap();
    let (send, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if send.send(line).is_err() {
                break;
            }
        }
    });
    let port = lines
        .recv_timeout(Duration::from_secs(10))
        .expect("the SMTP server prints its port")
        .trim()
        .parse()
        .unwrap();
    Server { child, port, lines }
}

fn notifier(port: u16) -> Notifier {
    Notifier::new(&NotifierConfig {
        webhooks: vec![WebhookConfig {
            name: "desk".into(),
            url: format!("smtp://127.0.0.1:{port}"),
            format: WebhookFormat::Email,
            from: "outcry@example.com".into(),
            to: vec!["care@example.com".into(), "legal@example.com".into()],
            ..Default::default()
        }],
        max_attempts: 3,
        initial_backoff_ms: 10,
        max_backoff_ms: 50,
        request_timeout_ms: 5_000,
    })
    .unwrap()
}

fn escalation() -> Vec<u8> {
    Escalation {
        escalation_id: "acme-m-1:1".into(),
        case_id: "acme-m-1".into(),
        state: CaseState::Open as i32,
        sequence: 1,
        brand_id: "acme".into(),
        team: "acme-legal".into(),
        priority: Priority::P1 as i32,
        summary: "Café Acme: legal threat from @ann".into(),
        sla_due: Some(timestamp_from_millis(1_796_236_200_000)),
        emitted_at: Some(timestamp_from_millis(1_796_234_400_000)),
        explanation: Some(Explanation {
            text: "p=0.93; legal_threat".into(),
            signals: vec![Signal {
                name: "legal_threat".into(),
                evidence: "Calling my LAWYER.".into(),
            }],
            ..Default::default()
        }),
        sample_mention_ids: vec!["x:1".into()],
        mention_count: 1,
        ..Default::default()
    }
    .encode_to_vec()
}

fn record(payload: &[u8]) -> Record<'_> {
    Record {
        topic: "outcry.escalations.v1",
        partition: 0,
        offset: 1,
        key: None,
        payload,
    }
}

#[tokio::test]
async fn an_escalation_arrives_as_an_email_after_a_transient_refusal() {
    let server = server(&["--fail-first", "1", "--fail-reply", "451 4.3.0 try later"]);
    let mut n = notifier(server.port);
    let payload = escalation();
    let out = n.process(&record(&payload)).await.unwrap();
    assert!(out.is_empty());
    let line = server
        .lines
        .recv_timeout(Duration::from_secs(10))
        .expect("the message arrives");
    let got: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(got["mailfrom"], "outcry@example.com");
    assert_eq!(
        got["rcpttos"],
        serde_json::json!(["care@example.com", "legal@example.com"])
    );
    assert_eq!(
        got["subject"],
        "[P1] acme-legal open: Café Acme: legal threat from @ann"
    );
    let body = got["body"].as_str().unwrap();
    assert!(
        body.contains("Signal legal_threat: \"Calling my LAWYER.\""),
        "{body}"
    );
    assert!(body.contains("SLA due: 2026-12-02T18:30:00.000Z"), "{body}");
    assert!(
        body.contains("Case acme-m-1 (record 1, acme-m-1:1)"),
        "{body}"
    );
    assert_eq!(got["headers"]["Message-ID"], "<acme-m-1.1@outcry>");
    // the refused first attempt sent nothing
    assert!(server.lines.try_recv().is_err());
}

#[tokio::test]
async fn a_permanent_refusal_is_not_retried() {
    let server = server(&[
        "--fail-first",
        "100",
        "--fail-reply",
        "550 5.7.1 relaying denied",
    ]);
    let mut n = notifier(server.port);
    let payload = escalation();
    let reject = n.process(&record(&payload)).await.unwrap_err();
    assert_eq!(reject.reason, "delivery_failed");
    assert_eq!(reject.attempts, 1);
    assert!(
        reject.detail.contains("550 5.7.1 relaying denied"),
        "{}",
        reject.detail
    );
}

#[tokio::test]
async fn no_relay_listening_is_retried_then_a_dead_letter() {
    // a port nothing listens on: connection refused, transient, so every attempt is made
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut n = notifier(port);
    let payload = escalation();
    let reject = n.process(&record(&payload)).await.unwrap_err();
    assert_eq!(reject.attempts, 3);
    assert!(
        reject.detail.contains("connecting to 127.0.0.1"),
        "{}",
        reject.detail
    );
}

//! Email delivery against a real SMTP server on loopback (`tests/smtp_server.py`, on
//! Python's standard library), which also decodes what it received with Python's `email`
//! package: plain SMTP to a relay, STARTTLS and smtps:// with certificates made by openssl,
//! and SMTP AUTH.

use outcry_e2e::TlsFiles;
use outcry_notifier::Notifier;
use outcry_proto::v1::{CaseState, Escalation, Explanation, Priority, Signal};
use outcry_proto::{timestamp_from_millis, Message as _};
use outcry_runtime::config::{NotifierConfig, WebhookConfig, WebhookFormat};
use outcry_runtime::pipeline::{Processor, Record, Reject};
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

impl Server {
    /// The next message the server accepted.
    fn message(&self) -> Value {
        let line = self
            .lines
            .recv_timeout(Duration::from_secs(10))
            .expect("the message arrives");
        serde_json::from_str(&line).unwrap()
    }
}

fn server(args: &[&str]) -> Server {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/smtp_server.py");
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

/// A TLS server's arguments, with the certificate openssl made for 127.0.0.1.
fn tls_args<'a>(tls: &'a TlsFiles, mode: &'a str) -> Vec<&'a str> {
    vec![
        "--cert",
        tls.server_cert.to_str().unwrap(),
        "--key",
        tls.server_key.to_str().unwrap(),
        mode,
    ]
}

fn hook(url: String) -> WebhookConfig {
    WebhookConfig {
        name: "desk".into(),
        url,
        format: WebhookFormat::Email,
        from: "outcry@example.com".into(),
        to: vec!["care@example.com".into(), "legal@example.com".into()],
        ..Default::default()
    }
}

fn notifier_for(hook: WebhookConfig) -> Notifier {
    Notifier::new(&NotifierConfig {
        webhooks: vec![hook],
        max_attempts: 3,
        initial_backoff_ms: 10,
        max_backoff_ms: 50,
        request_timeout_ms: 5_000,
    })
    .unwrap()
}

fn notifier(port: u16) -> Notifier {
    notifier_for(hook(format!("smtp://127.0.0.1:{port}")))
}

/// An email webhook over TLS trusting `ca`, authenticating as `user` when given.
fn tls_hook(
    url: String,
    starttls: bool,
    ca: &std::path::Path,
    user: Option<(&str, &str)>,
) -> WebhookConfig {
    let (username, password) = user.unwrap_or_default();
    WebhookConfig {
        starttls,
        ca_file: ca.display().to_string(),
        username: username.into(),
        password: password.into(),
        ..hook(url)
    }
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
        offset: 1,
        payload,
        ..Record::default()
    }
}

#[tokio::test]
async fn an_escalation_arrives_as_an_email_after_a_transient_refusal() {
    let server = server(&["--fail-first", "1", "--fail-reply", "451 4.3.0 try later"]);
    let mut n = notifier(server.port);
    let payload = escalation();
    let out = n.process(&record(&payload)).await.unwrap();
    assert!(out.is_empty());
    let got = server.message();
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
    assert_eq!(
        (&got["tls"], &got["auth"]),
        (&Value::Bool(false), &Value::Null)
    );
    // the refused first attempt sent nothing
    assert!(server.lines.try_recv().is_err());
}

#[tokio::test]
async fn starttls_then_auth_plain_delivers_over_tls() {
    let tls = TlsFiles::generate().unwrap();
    let mut args = tls_args(&tls, "--starttls");
    args.extend(["--user", "outcry", "--password", "s3cret pass"]);
    let server = server(&args);
    let url = format!("smtp://127.0.0.1:{}", server.port);
    let mut n = notifier_for(tls_hook(
        url,
        true,
        &tls.ca,
        Some(("outcry", "s3cret pass")),
    ));
    let payload = escalation();
    n.process(&record(&payload)).await.unwrap();
    let got = server.message();
    assert_eq!(
        (&got["tls"], &got["auth"]),
        (&Value::Bool(true), &Value::from("outcry"))
    );
    assert_eq!(got["headers"]["Message-ID"], "<acme-m-1.1@outcry>");
}

#[tokio::test]
async fn smtps_with_auth_login_delivers_over_tls() {
    let tls = TlsFiles::generate().unwrap();
    let mut args = tls_args(&tls, "--implicit-tls");
    args.extend([
        "--user",
        "outcry",
        "--password",
        "pw",
        "--mechanisms",
        "LOGIN",
    ]);
    let server = server(&args);
    let url = format!("smtps://127.0.0.1:{}", server.port);
    let mut n = notifier_for(tls_hook(url, false, &tls.ca, Some(("outcry", "pw"))));
    let payload = escalation();
    n.process(&record(&payload)).await.unwrap();
    let got = server.message();
    assert_eq!(
        (&got["tls"], &got["auth"]),
        (&Value::Bool(true), &Value::from("outcry"))
    );
    assert!(got["body"].as_str().unwrap().contains("Case acme-m-1"));
}

/// What a delivery that must fail at once (one attempt, nothing received) was refused with.
async fn refused_at_once(server: &Server, hook: WebhookConfig) -> Reject {
    let mut n = notifier_for(hook);
    let payload = escalation();
    let reject = n.process(&record(&payload)).await.unwrap_err();
    assert_eq!(
        (reject.reason, reject.attempts),
        ("delivery_failed", 1),
        "{}",
        reject.detail
    );
    assert!(server.lines.try_recv().is_err(), "a message was delivered");
    reject
}

#[tokio::test]
async fn wrong_credentials_are_permanent_and_never_in_the_error() {
    let tls = TlsFiles::generate().unwrap();
    let mut args = tls_args(&tls, "--starttls");
    args.extend(["--user", "outcry", "--password", "right"]);
    let server = server(&args);
    let url = format!("smtp://127.0.0.1:{}", server.port);
    let hook = tls_hook(url, true, &tls.ca, Some(("outcry", "wrong-secret")));
    let reject = refused_at_once(&server, hook).await;
    assert!(reject.detail.contains("535"), "{}", reject.detail);
    for secret in ["wrong-secret", "AG91dGNyeQB3cm9uZy1zZWNyZXQ="] {
        assert!(!reject.detail.contains(secret), "{}", reject.detail);
    }
}

#[tokio::test]
async fn a_relay_without_starttls_does_not_get_the_message_in_clear() {
    let tls = TlsFiles::generate().unwrap();
    // a plain relay: it offers no STARTTLS
    let server = server(&[]);
    let url = format!("smtp://127.0.0.1:{}", server.port);
    let reject = refused_at_once(&server, tls_hook(url, true, &tls.ca, None)).await;
    assert!(
        reject.detail.contains("does not offer STARTTLS"),
        "{}",
        reject.detail
    );
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused() {
    let tls = TlsFiles::generate().unwrap();
    let server = server(&tls_args(&tls, "--starttls"));
    let url = format!("smtp://127.0.0.1:{}", server.port);
    let reject = refused_at_once(&server, tls_hook(url, true, &tls.other_ca, None)).await;
    assert!(reject.detail.contains("certificate"), "{}", reject.detail);
    // and the public roots do not vouch for a test CA either
    let server2 = self::server(&tls_args(&tls, "--implicit-tls"));
    let url = format!("smtps://127.0.0.1:{}", server2.port);
    let hook = WebhookConfig {
        ca_file: String::new(),
        ..tls_hook(url, false, &tls.ca, None)
    };
    let reject = refused_at_once(&server2, hook).await;
    assert!(reject.detail.contains("certificate"), "{}", reject.detail);
}

#[tokio::test]
async fn bytes_sent_before_the_tls_handshake_are_refused() {
    let tls = TlsFiles::generate().unwrap();
    let mut args = tls_args(&tls, "--starttls");
    args.push("--inject-after-starttls");
    let server = server(&args);
    let url = format!("smtp://127.0.0.1:{}", server.port);
    let reject = refused_at_once(&server, tls_hook(url, true, &tls.ca, None)).await;
    assert!(
        reject
            .detail
            .contains("sent data after agreeing to STARTTLS"),
        "{}",
        reject.detail
    );
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

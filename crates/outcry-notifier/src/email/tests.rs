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
fn relay_urls_default_to_port_25_or_465() {
    let addr = |url: &str| relay(url).map(|(_, addr, tls)| (addr, tls));
    assert_eq!(
        addr("smtp://relay.mail"),
        Some(("relay.mail:25".into(), false))
    );
    assert_eq!(
        addr("smtp://relay:2525/"),
        Some(("relay:2525".into(), false))
    );
    assert_eq!(
        addr("smtp://127.0.0.1:1025"),
        Some(("127.0.0.1:1025".into(), false))
    );
    assert_eq!(
        addr("smtps://mail.example"),
        Some(("mail.example:465".into(), true))
    );
    assert_eq!(
        relay("smtps://[::1]:2465").map(|(host, addr, _)| (host, addr)),
        Some(("::1".into(), "[::1]:2465".into()))
    );
    assert_eq!(relay("smtp://relay:25").unwrap().0, "relay");
    assert_eq!(addr("smtp://user@relay:25"), None);
    assert_eq!(addr("http://relay"), None);
    assert_eq!(addr("smtp://"), None);
    assert_eq!(addr("smtps://"), None);
}

#[test]
fn a_ca_file_that_cannot_be_used_is_an_error_naming_it() {
    let hook = |ca_file: &str| WebhookConfig {
        url: "smtps://relay.example".into(),
        ca_file: ca_file.into(),
        ..Default::default()
    };
    let err = Relay::new(&hook("/nonexistent/ca.pem")).unwrap_err();
    assert!(err.contains("/nonexistent/ca.pem"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    let err = Relay::new(&hook(empty.to_str().unwrap())).unwrap_err();
    assert!(err.contains("no certificate"), "{err}");
    // the public roots when there is no file
    assert!(Relay::new(&hook("")).unwrap().tls.is_some());
}

#[test]
fn extensions_are_read_from_the_ehlo_reply() {
    let lines: Vec<String> = [
        "relay.example greets outcry",
        "STARTTLS",
        "AUTH=LOGIN",
        "auth cram-md5  plain",
        "SIZE 1000",
    ]
    .map(String::from)
    .to_vec();
    let e = Extensions::parse(&lines);
    assert!(e.offers("STARTTLS") && e.offers("SIZE"));
    assert_eq!(e.params("AUTH"), ["LOGIN", "CRAM-MD5", "PLAIN"]);
    // the greeting is not an extension
    assert!(!e.offers("RELAY.EXAMPLE") && !e.offers("8BITMIME"));
    assert!(Extensions::parse(&lines[..1]).params("AUTH").is_empty());
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

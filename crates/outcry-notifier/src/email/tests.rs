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

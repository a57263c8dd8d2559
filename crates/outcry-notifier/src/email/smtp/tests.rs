use super::*;

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

use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn defaults_are_valid() {
    let config = Config::load(None, env(&[])).unwrap();
    assert_eq!(config.kafka.topics.escalations, "outcry.escalations.v1");
    assert_eq!(config.telemetry.admin_addr.to_string(), "127.0.0.1:9464");
}

#[test]
fn environment_overrides_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outcry.yaml");
    std::fs::write(
        &path,
        "kafka:\n  brokers: a:9092\ntelemetry:\n  log_format: text\n",
    )
    .unwrap();
    let config = Config::load(
        Some(&path),
        env(&[
            ("OUTCRY__KAFKA__BROKERS", "b:9092,c:9092"),
            ("OUTCRY__TELEMETRY__LOG_FORMAT", "json"),
            ("OUTCRY__NOTIFIER__MAX_ATTEMPTS", "7"),
            ("UNRELATED", "x"),
        ]),
    )
    .unwrap();
    assert_eq!(config.kafka.brokers, "b:9092,c:9092");
    assert_eq!(config.telemetry.log_format, LogFormat::Json);
    assert_eq!(config.notifier.max_attempts, 7);
}

#[test]
fn kafka_properties_in_the_file_may_be_numbers_or_booleans() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outcry.yaml");
    std::fs::write(
        &path,
        "kafka:\n  client_id: 1234\n  properties:\n    linger.ms: 20\n    \
             enable.ssl.certificate.verification: false\n    security.protocol: ssl\n",
    )
    .unwrap();
    let config = Config::load(Some(&path), env(&[])).unwrap();
    let properties: Vec<_> = config
        .kafka
        .properties
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        properties,
        [
            ("enable.ssl.certificate.verification", "false"),
            ("linger.ms", "20"),
            ("security.protocol", "ssl"),
        ]
    );
    assert_eq!(config.kafka.client_id, "1234");
    let inline = Config::from_yaml("kafka: {properties: {linger.ms: 20}}").unwrap();
    assert_eq!(inline.kafka.properties["linger.ms"], "20");
}

#[test]
fn environment_overrides_of_strings_keep_the_text() {
    let config = Config::load(
        None,
        env(&[
            ("OUTCRY__KAFKA__PROPERTIES__LINGER.MS", "20"),
            (
                "OUTCRY__KAFKA__PROPERTIES__ENABLE.SSL.CERTIFICATE.VERIFICATION",
                "false",
            ),
            ("OUTCRY__KAFKA__CLIENT_ID", "007"),
            ("OUTCRY__KAFKA__GROUP_PREFIX", "1.50"),
            ("OUTCRY__KAFKA__DELIVERY_TIMEOUT_MS", "5000"),
            ("OUTCRY__INGESTOR__AUTH_TOKENS", "[a, b]"),
        ]),
    )
    .unwrap();
    assert_eq!(config.kafka.properties["linger.ms"], "20");
    assert_eq!(
        config.kafka.properties["enable.ssl.certificate.verification"],
        "false"
    );
    assert_eq!(config.kafka.client_id, "007");
    assert_eq!(config.kafka.group_prefix, "1.50");
    assert_eq!(config.kafka.delivery_timeout_ms, 5000);
    assert_eq!(config.ingestor.auth_tokens, ["a", "b"]);
}

#[test]
fn environment_overrides_reach_into_lists_the_file_has() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outcry.yaml");
    std::fs::write(
            &path,
            "notifier:\n  webhooks:\n    - {name: crm, url: 'http://crm/h', headers: {Authorization: placeholder, X-Team: care}}\n    - {name: chat, url: 'http://chat/h'}\n",
        )
        .unwrap();
    let config = Config::load(
        Some(&path),
        env(&[
            (
                "OUTCRY__NOTIFIER__WEBHOOKS__0__HEADERS__AUTHORIZATION",
                "Bearer 123",
            ),
            ("OUTCRY__NOTIFIER__WEBHOOKS__1__HEADERS__X-TOKEN", "0042"),
            (
                "OUTCRY__NOTIFIER__WEBHOOKS__1__URL",
                "https://chat.example/h",
            ),
        ]),
    )
    .unwrap();
    let hooks = &config.notifier.webhooks;
    // the file's spelling of the header is kept, and its value replaced, not doubled
    assert_eq!(
        hooks[0].headers.iter().collect::<Vec<_>>(),
        [
            (&"Authorization".to_string(), &"Bearer 123".to_string()),
            (&"X-Team".to_string(), &"care".to_string())
        ]
    );
    // a header the file does not have is added; its value stays text
    assert_eq!(hooks[1].headers["x-token"], "0042");
    assert_eq!(hooks[1].url, "https://chat.example/h");
    // an entry the file does not have, or a word where an index goes, is a clear error
    for var in [
        "OUTCRY__NOTIFIER__WEBHOOKS__2__URL",
        "OUTCRY__NOTIFIER__WEBHOOKS__CRM__URL",
    ] {
        let err = Config::load(Some(&path), env(&[(var, "http://x/h")])).unwrap_err();
        let text = err.to_string();
        assert!(text.contains(var) && text.contains("list of 2"), "{text}");
    }
}

#[test]
fn a_pagerduty_webhook_needs_its_routing_key() {
    let yaml = "notifier:\n  webhooks:\n    - {name: pager, url: 'https://events.pagerduty.com/v2/enqueue', format: pagerduty}\n";
    let err = Config::from_yaml(yaml).unwrap_err().to_string();
    assert!(
        err.contains("notifier.webhooks[0].routing_key")
            && err.contains("OUTCRY__NOTIFIER__WEBHOOKS__0__ROUTING_KEY"),
        "{err}"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outcry.yaml");
    std::fs::write(&path, yaml).unwrap();
    let config = Config::load(
        Some(&path),
        env(&[("OUTCRY__NOTIFIER__WEBHOOKS__0__ROUTING_KEY", "0123abcd")]),
    )
    .unwrap();
    let hook = &config.notifier.webhooks[0];
    assert_eq!(
        (hook.format, hook.routing_key.as_str()),
        (WebhookFormat::Pagerduty, "0123abcd")
    );
    let err = Config::from_yaml(
        "notifier:\n  webhooks:\n    - {name: x, url: 'http://a/b', format: teams}\n",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("format"), "{err}");
}

#[test]
fn an_email_webhook_needs_a_relay_a_sender_and_plain_recipients() {
    let hook = |fields: &str| {
        Config::from_yaml(&format!(
            "notifier:\n  webhooks:\n    - {{name: desk, format: email, {fields}}}\n"
        ))
    };
    let ok = hook("url: 'smtp://relay:25', from: a@x.example, to: [b@x.example]").unwrap();
    assert_eq!(ok.notifier.webhooks[0].to, ["b@x.example"]);
    // AUTH over STARTTLS or over smtps://
    for tls in [
        "url: 'smtp://relay:587', starttls: true",
        "url: 'smtps://relay'",
    ] {
        let ok = hook(&format!(
            "{tls}, from: a@x.example, to: [b@x.example], username: u, password: p"
        ))
        .unwrap();
        assert_eq!(ok.notifier.webhooks[0].username, "u");
    }
    for (fields, field) in [
        (
            "url: 'http://relay', from: a@x.example, to: [b@x.example]",
            "url",
        ),
        (
            "url: 'smtp://relay', from: nobody, to: [b@x.example]",
            "from",
        ),
        ("url: 'smtp://relay', from: a@x.example, to: []", "to"),
        // a newline would start a header of its own
        (
            "url: 'smtp://relay', from: a@x.example, to: [\"b@x.example\\nBcc: c@y\"]",
            "to",
        ),
        (
            "url: 'smtp://relay', from: 'A <a@x.example>', to: [b@x.example]",
            "from",
        ),
        // a password is never sent in clear
        (
            "url: 'smtp://relay', from: a@x.example, to: [b@x.example], username: u, password: p",
            "username",
        ),
        (
            "url: 'smtps://relay', from: a@x.example, to: [b@x.example], username: u",
            "password",
        ),
        (
            "url: 'smtps://relay', from: a@x.example, to: [b@x.example], starttls: true",
            "starttls",
        ),
        (
            "url: 'smtp://relay', from: a@x.example, to: [b@x.example], ca_file: ca.pem",
            "ca_file",
        ),
    ] {
        let err = hook(fields).unwrap_err().to_string();
        assert!(
            err.contains(&format!("notifier.webhooks[0].{field}")),
            "{fields}: {err}"
        );
    }
}

#[test]
fn unknown_keys_stay_errors_with_scalar_strings() {
    let err = Config::load(None, env(&[("OUTCRY__KAFKA__CLIENTID", "1234")])).unwrap_err();
    assert!(err.to_string().contains("clientid"), "{err}");
    let err = Config::from_yaml("kafka:\n  properties: {linger.ms: 20}\n  lnger: 1\n").unwrap_err();
    assert!(err.to_string().contains("lnger"), "{err}");
    // a property is one value, not a section
    let err = Config::from_yaml("kafka:\n  properties: {linger.ms: {a: 1}}\n").unwrap_err();
    assert!(
        err.to_string().contains("kafka.properties.linger.ms"),
        "{err}"
    );
}

#[test]
fn an_empty_file_is_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outcry.yaml");
    for text in ["", "# nothing yet\n", "~\n"] {
        std::fs::write(&path, text).unwrap();
        let config = Config::load(Some(&path), env(&[])).unwrap();
        assert_eq!(config.kafka.brokers, "127.0.0.1:9092");
    }
}

#[test]
fn unknown_keys_are_rejected_by_name() {
    let err = Config::from_yaml("kafka:\n  brokres: a:9092\n").unwrap_err();
    assert!(err.to_string().contains("brokres"), "{err}");
}

#[test]
fn invalid_rule_priority_names_the_field() {
    let yaml =
        "brands:\n  - id: acme\n    team: care\n    rules:\n      - name: r\n        priority: 9\n";
    let err = Config::from_yaml(yaml).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid config: brands[0].rules[0].priority: 9 must be within 1..=4"
    );
}

#[test]
fn router_state_settings_are_checked_and_the_state_topic_is_compacted() {
    let config = Config::from_yaml("router: {state: {checkpoint_records: 500}}\n").unwrap();
    assert!(config.router.state.enabled, "on by default");
    assert_eq!(config.router.state.checkpoint_records, 500);
    let topics = &config.kafka.topics;
    assert!(topics.is_compacted(&topics.router_state) && topics.is_compacted(&topics.deliveries));
    assert!(!topics.is_compacted(&topics.escalations));
    for (yaml, field) in [
        (
            "router: {state: {checkpoint_records: 0}}\n",
            "router.state.checkpoint_records",
        ),
        (
            "router: {state: {restore_timeout_secs: 0}}\n",
            "router.state.restore_timeout_secs",
        ),
        (
            "kafka: {topics: {router_state: \"outcry.scored.v1\"}}\n",
            "kafka.topics.router_state",
        ),
    ] {
        let err = Config::from_yaml(yaml).unwrap_err().to_string();
        assert!(err.contains(field), "{yaml}: {err}");
    }
}

#[test]
fn detector_settings_out_of_range_fail_the_load_naming_the_field() {
    let yaml =
        "brands:\n  - id: acme\n    team: care\n    spike:\n      detector: {bucket_secs: 0}\n";
    let err = Config::from_yaml(yaml).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid config: brands[0].spike.detector: bucket_secs: 0 must be within 1..=86400"
    );
}

#[test]
fn a_concurrency_limit_of_zero_is_refused() {
    let err = Config::from_yaml("ingestor:\n  max_concurrent_requests: 0\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid config: ingestor.max_concurrent_requests: must be at least 1"
    );
}

#[test]
fn duplicate_brand_ids_are_rejected() {
    let yaml = "brands:\n  - {id: acme, team: a}\n  - {id: acme, team: b}\n";
    let err = Config::from_yaml(yaml).unwrap_err();
    assert!(err.to_string().contains("brands[1].id"), "{err}");
}

#[test]
fn bad_environment_value_names_the_variable() {
    let err = Config::load(None, env(&[("OUTCRY__NOTIFIER__MAX_ATTEMPTS", "many")])).unwrap_err();
    assert!(err.to_string().contains("max_attempts"), "{err}");
}

#[test]
fn webhook_urls_must_be_http() {
    let yaml = "notifier:\n  webhooks:\n    - {name: crm, url: 'ftp://x'}\n";
    let err = Config::from_yaml(yaml).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("invalid config: notifier.webhooks[0].url"),
        "{err}"
    );
}

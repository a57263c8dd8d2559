use super::*;

const NOW: i64 = 1_763_892_000_000;

fn matcher() -> BrandMatcher {
    BrandMatcher::new(&[
        BrandConfig {
            id: "acme".into(),
            keywords: vec!["Acme".into(), "@acmeair".into()],
            team: "care".into(),
            ..Default::default()
        },
        BrandConfig {
            id: "globex".into(),
            team: "care".into(),
            ..Default::default()
        },
    ])
}

fn parse(json: &str) -> Result<Mention, FieldError> {
    parse_mention(json.as_bytes(), &matcher(), NOW)
}

#[test]
fn a_complete_mention_is_accepted() {
    let m = parse(r#"{"source":"x","external_id":"42","text":"@acmeair lost my bag","author":{"handle":"@ann","followers":120},"event_time":"2025-11-23T10:00:00Z"}"#).unwrap();
    assert_eq!(m.id, "x:42");
    assert_eq!(m.brand_ids, vec!["acme"]);
    assert_eq!(m.author.as_ref().unwrap().handle, "ann");
    assert_eq!(
        outcry_proto::millis_from_timestamp(m.event_time.as_ref()),
        1_763_892_000_000
    );
    assert_eq!(
        outcry_proto::millis_from_timestamp(m.receive_time.as_ref()),
        NOW
    );
}

#[test]
fn a_wrong_type_names_the_nested_field() {
    let err =
        parse(r#"{"source":"x","external_id":"1","text":"hi","author":{"followers":"many"}}"#)
            .unwrap_err();
    assert_eq!(err.field, "author.followers");
    assert!(err.message.contains("invalid type"), "{}", err.message);
}

#[test]
fn a_missing_field_is_named() {
    let err = parse(r#"{"source":"x","external_id":"1"}"#).unwrap_err();
    assert_eq!(err.field, "text");
}

#[test]
fn a_misspelt_field_is_named() {
    let err = parse(r#"{"source":"x","external_id":"1","text":"hi","author":{"folowers":3}}"#)
        .unwrap_err();
    assert_eq!(err.field, "author.folowers");
}

#[test]
fn malformed_json_is_reported_as_such() {
    let err = parse(r#"{"source":"x","#).unwrap_err();
    assert_eq!(err.reason, "malformed_json");
}

#[test]
fn unknown_source_and_brand_are_rejected() {
    assert_eq!(
        parse(r#"{"source":"myspace","external_id":"1","text":"hi"}"#)
            .unwrap_err()
            .field,
        "source"
    );
    let err = parse(r#"{"source":"x","external_id":"1","text":"hi","brands":["acme","initech"]}"#)
        .unwrap_err();
    assert_eq!(err.field, "brands[1]");
    assert_eq!(err.reason, "unknown_brand");
}

#[test]
fn bad_or_future_event_times_are_rejected() {
    assert_eq!(
        parse(r#"{"source":"x","external_id":"1","text":"hi","event_time":"noon"}"#)
            .unwrap_err()
            .field,
        "event_time"
    );
    assert_eq!(
        parse(
            r#"{"source":"x","external_id":"1","text":"hi","event_time":"2099-01-01T00:00:00Z"}"#
        )
        .unwrap_err()
        .field,
        "event_time"
    );
}

#[test]
fn keywords_match_whole_words_only() {
    let m = matcher();
    assert_eq!(m.find("Flying ACME today"), vec!["acme"]);
    assert!(m.find("acmeville is nice").is_empty());
    assert_eq!(m.find("thanks @acmeair!"), vec!["acme"]);
    assert_eq!(m.find("globex and acme"), vec!["acme", "globex"]);
}

#[test]
fn a_batch_with_one_bad_line_names_the_line_and_accepts_nothing() {
    let body = b"{\"source\":\"x\",\"external_id\":\"1\",\"text\":\"acme\"}\n\n{\"source\":\"x\",\"external_id\":\"2\"}\n";
    let errors = parse_batch(body, &matcher(), NOW, 100).unwrap_err();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].line, 3);
    assert_eq!(errors[0].error.field, "text");
}

#[test]
fn a_batch_over_the_limit_is_rejected() {
    let line = "{\"source\":\"x\",\"external_id\":\"1\",\"text\":\"acme\"}\n";
    let errors = parse_batch(line.repeat(3).as_bytes(), &matcher(), NOW, 2).unwrap_err();
    assert_eq!(errors[0].error.reason, "batch_too_large");
}

fn with_attributes(attributes: &BTreeMap<String, String>) -> Result<Mention, FieldError> {
    let json = serde_json::json!({"source": "x", "external_id": "1", "text": "acme", "attributes": attributes});
    parse(&json.to_string())
}

#[test]
fn attributes_are_capped_in_count_key_and_value() {
    let many: BTreeMap<_, _> = (0..=MAX_ATTRIBUTES)
        .map(|i| (format!("k{i}"), "v".to_string()))
        .collect();
    let err = with_attributes(&many).unwrap_err();
    assert_eq!(
        (err.field.as_str(), err.reason),
        ("attributes", "invalid_field")
    );
    let long_key = BTreeMap::from([("k".repeat(MAX_ATTRIBUTE_KEY_BYTES + 1), "v".into())]);
    assert_eq!(with_attributes(&long_key).unwrap_err().field, "attributes");
    let long_value = BTreeMap::from([("stars".into(), "5".repeat(MAX_ATTRIBUTE_VALUE_BYTES + 1))]);
    assert_eq!(
        with_attributes(&long_value).unwrap_err().field,
        "attributes.stars"
    );
    let at_caps: BTreeMap<_, _> = (0..MAX_ATTRIBUTES)
        .map(|i| (format!("{i:0>256}"), "v".repeat(MAX_ATTRIBUTE_VALUE_BYTES)))
        .collect();
    assert_eq!(
        with_attributes(&at_caps).unwrap().attributes.len(),
        MAX_ATTRIBUTES
    );
}

#[test]
fn reference_ids_are_capped() {
    for field in ["reply_to", "repost_of", "quote_of"] {
        let mut json = serde_json::json!({"source": "x", "external_id": "1", "text": "acme"});
        json[field] = "9".repeat(256).into();
        assert!(parse(&json.to_string()).is_ok(), "{field}");
        json[field] = "9".repeat(257).into();
        let err = parse(&json.to_string()).unwrap_err();
        assert_eq!((err.field.as_str(), err.reason), (field, "invalid_field"));
    }
}

#[test]
fn a_mention_with_every_field_at_its_cap_is_under_the_ceiling() {
    let attributes: BTreeMap<_, _> = (0..MAX_ATTRIBUTES)
        .map(|i| {
            (
                format!("{i:0>256}"),
                "\u{1F600}".repeat(MAX_ATTRIBUTE_VALUE_BYTES / 4),
            )
        })
        .collect();
    let json = serde_json::json!({
        "source": "x", "external_id": "1".repeat(256), "url": "u".repeat(2048),
        "text": format!("acme {}", "\u{1F600}".repeat(MAX_TEXT_CHARS - 5)),
        "language": "l".repeat(35),
        "author": {"id": "a".repeat(256), "handle": "h".repeat(256), "display_name": "d".repeat(512)},
        "reply_to": "r".repeat(256), "repost_of": "r".repeat(256), "quote_of": "q".repeat(256),
        "attributes": attributes,
    });
    let m = parse(&json.to_string()).unwrap();
    assert!(m.encoded_len() <= MAX_MENTION_BYTES, "{}", m.encoded_len());
}

#[test]
fn a_mention_encoding_past_the_ceiling_is_too_large() {
    // every field within its cap, but a repeated brand id makes the record too big
    let brands = vec!["acme"; MAX_MENTION_BYTES / 6 + 1];
    let json =
        serde_json::json!({"source": "x", "external_id": "1", "text": "acme", "brands": brands});
    let err = parse(&json.to_string()).unwrap_err();
    assert_eq!((err.field.as_str(), err.reason), (".", "too_large"));
    assert!(err.message.contains("262144"), "{}", err.message);
}

#[test]
fn batch_mentions_carry_their_line_numbers() {
    let body = b"\n{\"source\":\"x\",\"external_id\":\"1\",\"text\":\"acme\"}\r\n \n{\"source\":\"x\",\"external_id\":\"2\",\"text\":\"acme\"}";
    let parsed = parse_batch(body, &matcher(), NOW, 10).unwrap();
    let lines: Vec<_> = parsed
        .iter()
        .map(|(line, m)| (*line, m.id.as_str()))
        .collect();
    assert_eq!(lines, vec![(2, "x:1"), (4, "x:2")]);
    assert_eq!(count_mentions(body), 2);
    assert_eq!(count_mentions(b"oops\nnot json\n\n"), 2);
}

proptest::proptest! {
    #[test]
    fn arbitrary_bodies_never_panic(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
        let _ = parse_batch(&body, &matcher(), NOW, 10);
    }
}

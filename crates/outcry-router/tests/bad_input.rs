//! Records the router cannot route become dead letters with a reason, and change no state.

mod common;

use common::{config, route_all, scored, T0};
use outcry_proto::v1::{CaseState, ScoredMention};
use outcry_proto::{timestamp_from_millis, Message as _};
use outcry_router::core::{RouteError, RouterCore, MAX_FUTURE_SKEW_MS, MIN_EVENT_MS};
use outcry_router::{Router, DEAD_LETTER_REASONS};

/// The dead-letter reason and detail `Router::handle` gives a record.
fn rejected(router: &mut Router, sm: &ScoredMention, now_ms: i64) -> (&'static str, String) {
    match router.handle(&sm.encode_to_vec(), now_ms) {
        Err(reject) => (reject.reason, reject.detail),
        Ok(out) => panic!("routed instead of rejected: {out:?}"),
    }
}

#[test]
fn records_without_a_mention_or_its_id_are_dead_letters_not_duplicates() {
    let mut core = RouterCore::new(&config());
    let mut router = Router::new(&config());
    let no_mention = ScoredMention {
        brand_id: "acme".into(),
        complaint_probability: 0.9,
        ..Default::default()
    };
    let mut no_id = scored("", "ann", T0, 0.9, -0.6);
    no_id.mention.as_mut().unwrap().id.clear();
    let mut no_time = scored("x:9", "ann", T0, 0.9, -0.6);
    no_time.mention.as_mut().unwrap().event_time = None;
    // each one twice: the second is rejected for the same reason, not counted as a duplicate
    for _ in 0..2 {
        assert_eq!(
            core.route(&no_mention, T0),
            Err(RouteError::MissingField("mention"))
        );
        assert_eq!(
            core.route(&no_id, T0),
            Err(RouteError::MissingField("mention.id"))
        );
        assert_eq!(
            core.route(&no_time, T0),
            Err(RouteError::MissingField("mention.event_time"))
        );
    }
    assert_eq!(core.open_cases("acme"), 0);
    assert_eq!(
        rejected(&mut router, &no_mention, T0),
        ("missing_field", "scored mention has no mention".to_string())
    );
    assert_eq!(
        rejected(&mut router, &no_id, T0),
        (
            "missing_field",
            "scored mention has no mention.id".to_string()
        )
    );
    // a good record after them is routed as usual
    let out = route_all(&mut core, &[scored("x:1", "ann", T0, 0.9, -0.6)]);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].state, CaseState::Open as i32);
    assert_eq!(out[0].mention_count, 1);
}

#[test]
fn event_times_outside_year_2000_to_an_hour_ahead_are_dead_letters() {
    let mut core = RouterCore::new(&config());
    let mut router = Router::new(&config());
    let now = T0;
    let max_ms = now + MAX_FUTURE_SKEW_MS;
    let year_10000 = 253_402_300_800_000; // 10000-01-01T00:00:00Z
    let cases = [
        i64::MIN,
        i64::MIN / 1000 * 1000,
        0,
        MIN_EVENT_MS - 1,
        max_ms + 1,
        year_10000,
        i64::MAX,
    ];
    for (i, event_ms) in cases.into_iter().enumerate() {
        let mut sm = scored(&format!("x:{i}"), "ann", 0, 0.9, -0.6);
        sm.mention.as_mut().unwrap().event_time = Some(timestamp_from_millis(event_ms));
        let expected_ms =
            outcry_proto::millis_from_timestamp(sm.mention.as_ref().unwrap().event_time.as_ref());
        assert_eq!(
            core.route(&sm, now),
            Err(RouteError::InvalidEventTime {
                event_ms: expected_ms,
                min_ms: MIN_EVENT_MS,
                max_ms,
            }),
            "event time {event_ms}"
        );
        let (reason, detail) = rejected(&mut router, &sm, now);
        assert_eq!(reason, "invalid_event_time");
        assert!(detail.starts_with("mention.event_time "), "{detail}");
    }
    assert_eq!(core.open_cases("acme"), 0);
    // the bounds themselves are fine, and the router goes on
    let out = route_all(
        &mut core,
        &[
            scored("x:first", "ann", MIN_EVENT_MS, 0.9, -0.6),
            scored("x:now", "bob", now, 0.9, -0.6),
        ],
    );
    assert_eq!(out.len(), 2);
    let sm = scored("x:ahead", "cat", max_ms, 0.9, -0.6);
    assert_eq!(core.route(&sm, now).map(|out| out.len()), Ok(1));
}

#[test]
fn a_misspelt_detector_key_is_a_config_error() {
    let err = outcry_runtime::Config::from_yaml(
        r#"
brands:
  - id: acme
    team: acme-care
    spike:
      detector:
        bucket_sec: 60
"#,
    )
    .unwrap_err();
    assert!(err.to_string().contains("bucket_sec"), "{err}");
}

#[test]
fn detector_settings_out_of_range_are_config_errors_naming_the_key() {
    assert!(outcry_router::check_config(&config()).is_ok());
    type Set = fn(&mut outcry_spike::DetectorConfig);
    let cases: [(Set, &str); 4] = [
        (
            |d| d.bucket_secs = 0,
            "bucket_secs: 0 must be within 1..=86400",
        ),
        (
            |d| d.persistence_buckets = 0,
            "persistence_buckets: 0 must be within 1..=12",
        ),
        (
            |d| d.persistence_buckets = 13,
            "persistence_buckets: 13 must be within 1..=12",
        ),
        (
            |d| d.cooldown_secs = u64::MAX / 2,
            "cooldown_secs: 9223372036854775807 must be within 0..=2592000",
        ),
    ];
    for (set, reason) in cases {
        let mut config = config();
        set(&mut config.brands[0].spike.detector);
        let err = outcry_router::check_config(&config).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("invalid config: brands[0].spike.detector: {reason}")
        );
    }
}

/// Each reason the router gives is declared, so its dead-letter counter exists at 0 before
/// the first such record (an alert on increase() would miss the first one otherwise).
#[test]
fn every_dead_letter_reason_is_declared_to_the_pipeline() {
    let mut router = Router::new(&config());
    let undecodable = match router.handle(b"\xff\xff\xff", T0) {
        Err(reject) => reject.reason,
        Ok(out) => panic!("routed instead of rejected: {out:?}"),
    };
    let mut unknown = scored("x:1", "ann", T0, 0.9, -0.6);
    unknown.brand_id = "not-configured".into();
    let mut too_old = scored("x:2", "ann", T0, 0.9, -0.6);
    too_old.mention.as_mut().unwrap().event_time = Some(timestamp_from_millis(MIN_EVENT_MS - 1));
    let reasons = [
        undecodable,
        rejected(&mut router, &unknown, T0).0,
        rejected(
            &mut router,
            &ScoredMention {
                brand_id: "acme".into(),
                ..Default::default()
            },
            T0,
        )
        .0,
        rejected(&mut router, &too_old, T0).0,
    ];
    assert_eq!(reasons.as_slice(), DEAD_LETTER_REASONS);
}

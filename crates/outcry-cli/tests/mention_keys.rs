//! `outcry score` accepts the mention JSON of the ingestor's `POST /v1/mentions`; its key
//! lists are written out in `outcry-scoring` (which depends on no other project crate), so
//! they are checked here, where both crates are seen, against what the ingestor accepts.

use outcry_ingestor::parse::{parse_mention, BrandMatcher};
use outcry_runtime::config::BrandConfig;
use outcry_scoring::cli::{AUTHOR_KEYS, ENGAGEMENT_KEYS, MENTION_KEYS};

const NOW: i64 = 1_764_000_000_000;

fn matcher() -> BrandMatcher {
    BrandMatcher::new(&[BrandConfig {
        id: "acme".into(),
        team: "care".into(),
        ..Default::default()
    }])
}

/// The keys the ingestor names as expected when it refuses `unknown` inside `inner` (the
/// top-level object when `None`): serde lists every field of the object there.
fn ingestor_keys(inner: Option<&str>) -> Vec<String> {
    let json = match inner {
        None => r#"{"source":"x","external_id":"1","text":"hi","not_a_key":1}"#.to_string(),
        Some(object) => {
            format!(
                r#"{{"source":"x","external_id":"1","text":"hi","{object}":{{"not_a_key":1}}}}"#
            )
        }
    };
    let err = parse_mention(json.as_bytes(), &matcher(), NOW).unwrap_err();
    let (_, expected) = err
        .message
        .split_once("expected one of ")
        .unwrap_or_else(|| panic!("no list of keys in {:?}", err.message));
    let mut keys: Vec<String> = expected
        .split(", ")
        .map(|k| k.trim_matches('`').to_string())
        .collect();
    keys.sort();
    keys
}

fn sorted(keys: &[&str]) -> Vec<String> {
    let mut keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    keys.sort();
    keys
}

#[test]
fn outcry_score_knows_exactly_the_keys_the_ingestor_accepts() {
    assert_eq!(sorted(MENTION_KEYS), ingestor_keys(None));
    assert_eq!(sorted(AUTHOR_KEYS), ingestor_keys(Some("author")));
    assert_eq!(sorted(ENGAGEMENT_KEYS), ingestor_keys(Some("engagement")));
}

//! Turning request bodies into validated `Mention`s. Pure: no I/O, tested on its own.

use outcry_proto::timestamp_from_millis;
use outcry_proto::v1::{Author, Engagement, Mention, Source};
use outcry_proto::Message as _;
use outcry_runtime::config::BrandConfig;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Longest accepted mention text, in characters.
pub const MAX_TEXT_CHARS: usize = 10_000;
/// How far in the future an event time may be (clock skew between sources).
pub const MAX_FUTURE_SKEW_MS: i64 = 3_600_000;
/// Most `attributes` entries on one mention.
pub const MAX_ATTRIBUTES: usize = 64;
/// Longest `attributes` key, in bytes.
pub const MAX_ATTRIBUTE_KEY_BYTES: usize = 256;
/// Longest `attributes` value, in bytes.
pub const MAX_ATTRIBUTE_VALUE_BYTES: usize = 2048;
/// Largest encoded `Mention`, in bytes. Every field is capped on its own, but repeated fields
/// (`brands`) are not, and the record must stay well under the producer's and broker's 1 MB
/// default `message.max.bytes` even after the scorer wraps it in a `ScoredMention`: past this
/// the mention is refused as `too_large` (a 4xx the client can act on), instead of failing in
/// the producer, which would be answered 503 and retried for ever.
pub const MAX_MENTION_BYTES: usize = 256 * 1024;

/// The JSON a source posts for one mention. Unknown keys are rejected so that a misspelt
/// field is reported instead of ignored; free data goes into `attributes`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MentionJson {
    /// Must equal `<source>:<external_id>` when given.
    #[serde(default)]
    id: Option<String>,
    source: String,
    external_id: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    author: AuthorJson,
    text: String,
    #[serde(default)]
    language: String,
    /// RFC 3339; the receive time when absent.
    #[serde(default)]
    event_time: Option<String>,
    /// Brand ids; matched from the text by the brands' keywords when absent.
    #[serde(default)]
    brands: Vec<String>,
    #[serde(default)]
    engagement: EngagementJson,
    #[serde(default)]
    reply_to: String,
    #[serde(default)]
    repost_of: String,
    #[serde(default)]
    quote_of: String,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct AuthorJson {
    id: String,
    handle: String,
    display_name: String,
    followers: u64,
    verified: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct EngagementJson {
    likes: u64,
    reposts: u64,
    replies: u64,
    quotes: u64,
    views: u64,
}

/// A mention that cannot be accepted, naming the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// Path of the field, for example `author.followers` (`.` for the whole document).
    pub field: String,
    pub message: String,
    /// Stable reason for the metric label.
    pub reason: &'static str,
}

fn field_error(
    field: impl Into<String>,
    reason: &'static str,
    message: impl Into<String>,
) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
        reason,
    }
}

/// Case-insensitive keyword matching of brands, built once from the configuration.
#[derive(Debug, Clone, Default)]
pub struct BrandMatcher {
    brands: Vec<(String, Vec<String>)>,
}

impl BrandMatcher {
    pub fn new(brands: &[BrandConfig]) -> Self {
        BrandMatcher {
            brands: brands
                .iter()
                .map(|b| {
                    let mut words: Vec<String> = b
                        .keywords
                        .iter()
                        .map(|k| k.to_lowercase())
                        .filter(|k| !k.is_empty())
                        .collect();
                    if words.is_empty() {
                        words.push(b.id.to_lowercase());
                    }
                    (b.id.clone(), words)
                })
                .collect(),
        }
    }

    pub fn is_known(&self, id: &str) -> bool {
        self.brands.iter().any(|(b, _)| b == id)
    }

    /// Brand ids whose keywords appear in `text` as whole words.
    pub fn find(&self, text: &str) -> Vec<String> {
        let lower = text.to_lowercase();
        self.brands
            .iter()
            .filter(|(_, words)| words.iter().any(|w| contains_word(&lower, w)))
            .map(|(id, _)| id.clone())
            .collect()
    }
}

fn contains_word(haystack: &str, word: &str) -> bool {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    haystack.match_indices(word).any(|(at, _)| {
        let before = haystack[..at].chars().next_back();
        let after = haystack[at + word.len()..].chars().next();
        let starts_word = word.chars().next().is_some_and(is_word);
        let ends_word = word.chars().next_back().is_some_and(is_word);
        (!starts_word || !before.is_some_and(is_word))
            && (!ends_word || !after.is_some_and(is_word))
    })
}

/// Parses and validates one JSON mention received at `now_ms`.
pub fn parse_mention(
    json: &[u8],
    brands: &BrandMatcher,
    now_ms: i64,
) -> Result<Mention, FieldError> {
    let de = &mut serde_json::Deserializer::from_slice(json);
    let raw: MentionJson = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = inner.to_string();
        let field = missing_or_unknown_field(&message)
            .map(|f| {
                if path == "." {
                    f.to_string()
                } else {
                    format!("{path}.{f}")
                }
            })
            .unwrap_or(path);
        let reason = if inner.is_syntax() || inner.is_eof() {
            "malformed_json"
        } else {
            "invalid_field"
        };
        field_error(field, reason, strip_position(&message))
    })?;
    validate(raw, brands, now_ms)
}

/// serde reports a missing key at the parent's path (an unknown key's path already ends in it)
fn missing_or_unknown_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.split('`').next()
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_string(),
        None => message.to_string(),
    }
}

fn validate(raw: MentionJson, brands: &BrandMatcher, now_ms: i64) -> Result<Mention, FieldError> {
    let source = Source::from_label(&raw.source).ok_or_else(|| {
        field_error(
            "source",
            "invalid_field",
            format!(
                "{:?} is not one of x, mastodon, bluesky, reddit, facebook, instagram, youtube, review, web, other",
                raw.source
            ),
        )
    })?;
    let external_id = raw.external_id.trim();
    if external_id.is_empty() || external_id.len() > 256 {
        return Err(field_error(
            "external_id",
            "invalid_field",
            "must be 1 to 256 bytes",
        ));
    }
    let id = format!("{}:{external_id}", source.label());
    if let Some(given) = &raw.id {
        if *given != id {
            return Err(field_error(
                "id",
                "invalid_field",
                format!("must be {id:?} (<source>:<external_id>) or absent"),
            ));
        }
    }
    if raw.text.trim().is_empty() {
        return Err(field_error("text", "invalid_field", "must not be empty"));
    }
    if raw.text.chars().count() > MAX_TEXT_CHARS {
        return Err(field_error(
            "text",
            "invalid_field",
            format!("longer than {MAX_TEXT_CHARS} characters"),
        ));
    }
    for (field, value, max) in [
        ("url", &raw.url, 2048),
        ("language", &raw.language, 35),
        ("author.id", &raw.author.id, 256),
        ("author.handle", &raw.author.handle, 256),
        ("author.display_name", &raw.author.display_name, 512),
        // external ids of other posts, capped like `external_id`
        ("reply_to", &raw.reply_to, 256),
        ("repost_of", &raw.repost_of, 256),
        ("quote_of", &raw.quote_of, 256),
    ] {
        if value.len() > max {
            return Err(field_error(
                field,
                "invalid_field",
                format!("longer than {max} bytes"),
            ));
        }
    }
    validate_attributes(&raw.attributes)?;
    let event_ms = match &raw.event_time {
        None => now_ms,
        Some(text) => outcry_runtime::time::parse_rfc3339_millis(text).ok_or_else(|| {
            field_error(
                "event_time",
                "invalid_field",
                format!("{text:?} is not an RFC 3339 timestamp"),
            )
        })?,
    };
    if event_ms > now_ms + MAX_FUTURE_SKEW_MS {
        return Err(field_error(
            "event_time",
            "invalid_field",
            "more than one hour in the future",
        ));
    }
    let brand_ids = if raw.brands.is_empty() {
        brands.find(&raw.text)
    } else {
        for (i, brand) in raw.brands.iter().enumerate() {
            if !brands.is_known(brand) {
                return Err(field_error(
                    format!("brands[{i}]"),
                    "unknown_brand",
                    format!("{brand:?} is not a configured brand"),
                ));
            }
        }
        raw.brands
    };
    let mention = Mention {
        id,
        source: source as i32,
        external_id: external_id.to_string(),
        url: raw.url,
        author: Some(Author {
            id: raw.author.id,
            handle: raw.author.handle.trim_start_matches('@').to_string(),
            display_name: raw.author.display_name,
            followers: raw.author.followers,
            verified: raw.author.verified,
        }),
        text: raw.text,
        language: raw.language,
        event_time: Some(timestamp_from_millis(event_ms)),
        receive_time: Some(timestamp_from_millis(now_ms)),
        brand_ids,
        engagement: Some(Engagement {
            likes: raw.engagement.likes,
            reposts: raw.engagement.reposts,
            replies: raw.engagement.replies,
            quotes: raw.engagement.quotes,
            views: raw.engagement.views,
        }),
        reply_to: raw.reply_to,
        repost_of: raw.repost_of,
        quote_of: raw.quote_of,
        attributes: raw.attributes,
    };
    let encoded = mention.encoded_len();
    if encoded > MAX_MENTION_BYTES {
        return Err(field_error(
            ".",
            "too_large",
            format!("the mention encodes to {encoded} bytes, more than {MAX_MENTION_BYTES}"),
        ));
    }
    Ok(mention)
}

fn validate_attributes(attributes: &BTreeMap<String, String>) -> Result<(), FieldError> {
    if attributes.len() > MAX_ATTRIBUTES {
        return Err(field_error(
            "attributes",
            "invalid_field",
            format!("more than {MAX_ATTRIBUTES} entries"),
        ));
    }
    for (key, value) in attributes {
        if key.len() > MAX_ATTRIBUTE_KEY_BYTES {
            return Err(field_error(
                "attributes",
                "invalid_field",
                format!("a key is longer than {MAX_ATTRIBUTE_KEY_BYTES} bytes"),
            ));
        }
        if value.len() > MAX_ATTRIBUTE_VALUE_BYTES {
            return Err(field_error(
                format!("attributes.{key}"),
                "invalid_field",
                format!("longer than {MAX_ATTRIBUTE_VALUE_BYTES} bytes"),
            ));
        }
    }
    Ok(())
}

/// An error in an NDJSON batch: the 1-based line and the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    pub error: FieldError,
}

/// The non-blank lines of an NDJSON body with their 1-based line numbers: one mention each.
fn lines(body: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    body.split(|b| *b == b'\n')
        .enumerate()
        .map(|(i, line)| (i + 1, line.strip_suffix(b"\r").unwrap_or(line)))
        .filter(|(_, line)| !line.iter().all(u8::is_ascii_whitespace))
}

/// How many mentions an NDJSON body holds, valid or not.
pub fn count_mentions(body: &[u8]) -> usize {
    lines(body).count()
}

/// Parses every non-blank line into its line number and mention; all lines must be valid for
/// any to be accepted, so a client can fix and resend the batch without guessing what was
/// written.
pub fn parse_batch(
    body: &[u8],
    brands: &BrandMatcher,
    now_ms: i64,
    max_batch: usize,
) -> Result<Vec<(usize, Mention)>, Vec<LineError>> {
    let mut mentions = Vec::new();
    let mut errors = Vec::new();
    for (line, text) in lines(body) {
        if mentions.len() + errors.len() >= max_batch {
            errors.push(LineError {
                line,
                error: field_error(
                    ".",
                    "batch_too_large",
                    format!("a batch holds at most {max_batch} mentions"),
                ),
            });
            break;
        }
        match parse_mention(text, brands, now_ms) {
            Ok(m) => mentions.push((line, m)),
            Err(error) => errors.push(LineError { line, error }),
        }
    }
    if errors.is_empty() {
        Ok(mentions)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests;

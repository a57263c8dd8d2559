//! The `outcry score` and `outcry train complaints` commands, as library functions the
//! binary wires to its subcommands (and tests call directly).

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::PathBuf;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::model::{
    best_threshold, cross_val_probs, fit, macro_f1, stratified_folds, Corpus, TrainConfig,
};
use crate::vader::SentimentAnalyzer;
use crate::{MentionInput, Priority, Scorer, ScoringError, Sentiment, Signal};

/// Counts of one `outcry score` run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ScoreStats {
    /// input lines read, blank ones included
    pub lines: u64,
    pub scored: u64,
    pub errors: u64,
    /// blank lines, skipped without output
    pub blank: u64,
    /// scored lines that carried keys `outcry score` does not know (a misspelt or flattened
    /// field, such as `author_followers`, would otherwise be scored as absent unnoticed)
    pub with_unknown_keys: u64,
    /// each unknown key (`author.follower_count` for one inside `author`): on how many lines,
    /// and the first of them
    pub unknown_keys: BTreeMap<String, UnknownKey>,
}

/// `1 line`, `2 lines`: a count with its noun in the right number. The demo's summary uses
/// it too.
pub fn counted(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Where an unknown key of the input was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct UnknownKey {
    pub lines: u64,
    pub first_line: u64,
}

impl ScoreStats {
    /// What the run did, for stderr: the counts, and one line per unknown key.
    pub fn summary(&self) -> String {
        let mut out = format!(
            "outcry score: {}, {} scored, {}, {} blank",
            counted(self.lines, "line", "lines"),
            self.scored,
            counted(self.errors, "error", "errors"),
            self.blank
        );
        for (key, seen) in &self.unknown_keys {
            out.push_str(&format!(
                "\noutcry score: ignored unknown key `{key}` ({}, the first line {}); \
                 the mention fields are those `POST /v1/mentions` accepts",
                counted(seen.lines, "line", "lines"),
                seen.first_line
            ));
        }
        out
    }
}

/// The keys of a mention as the ingestor's `POST /v1/mentions` takes them (see the README),
/// per object: `outcry score` reads `id`, `text`, `author.followers`, `author.verified` and
/// the engagement counts, and accepts the rest without using them. A test of `outcry-cli`,
/// which sees both crates, checks these lists against the ingestor's.
pub const MENTION_KEYS: &[&str] = &[
    "id",
    "source",
    "external_id",
    "url",
    "author",
    "text",
    "language",
    "event_time",
    "brands",
    "engagement",
    "reply_to",
    "repost_of",
    "quote_of",
    "attributes",
];
pub const AUTHOR_KEYS: &[&str] = &["id", "handle", "display_name", "followers", "verified"];
pub const ENGAGEMENT_KEYS: &[&str] = &["likes", "reposts", "replies", "quotes", "views"];

/// One input line, read.
struct InLine {
    id: Value,
    text: String,
    followers: u64,
    verified: bool,
    likes: u64,
    reposts: u64,
    replies: u64,
    quotes: u64,
    /// keys not in [`MENTION_KEYS`] (or the author's and engagement's lists), with their path
    unknown: Vec<String>,
}

#[derive(Serialize)]
struct Term<'a> {
    term: &'a str,
    weight: f64,
}

#[derive(Serialize)]
struct OutLine<'a> {
    id: &'a Value,
    sentiment: &'a Sentiment,
    complaint_probability: f64,
    is_complaint: bool,
    priority: Priority,
    priority_score: f64,
    urgency: f64,
    influence: f64,
    signals: &'a [Signal],
    top_terms: Vec<Term<'a>>,
    route: Option<&'static str>,
    model_version: &'a str,
    explanation: &'a str,
}

#[derive(Serialize)]
struct ErrorLine<'a> {
    line: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a Value>,
    error: String,
}

fn round4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

/// `outcry score`: one JSON object per input line (`id`, `text`, optional `author` and
/// `engagement`, and any other field of the ingestor's mention JSON), one JSON line out per
/// input, in order. A bad line gets `{"line": n, "error": "..."}` naming the field at fault,
/// and the rest continue; blank lines are skipped. Keys that are not mention fields do not
/// stop a line from being scored; they are counted in the returned stats.
pub fn score_ndjson(
    scorer: &Scorer,
    mut input: impl BufRead,
    mut output: impl Write,
) -> std::io::Result<ScoreStats> {
    let mut stats = ScoreStats::default();
    let mut buf = Vec::with_capacity(1024);
    loop {
        buf.clear();
        if input.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        stats.lines += 1;
        let line_no = stats.lines;
        let raw = match std::str::from_utf8(&buf) {
            Ok(s) => s.trim(),
            Err(e) => {
                stats.errors += 1;
                let err = ErrorLine {
                    line: line_no,
                    id: None,
                    error: format!("invalid utf-8: {e}"),
                };
                serde_json::to_writer(&mut output, &err)?;
                output.write_all(b"\n")?;
                continue;
            }
        };
        if raw.is_empty() {
            stats.blank += 1;
            continue;
        }
        match parse_line(raw) {
            Ok(m) => {
                let score = scorer.score(&MentionInput {
                    text: &m.text,
                    author_followers: m.followers,
                    author_verified: m.verified,
                    likes: m.likes,
                    reposts: m.reposts,
                    replies: m.replies,
                    quotes: m.quotes,
                });
                stats.with_unknown_keys += u64::from(!m.unknown.is_empty());
                for key in m.unknown {
                    let seen = stats.unknown_keys.entry(key).or_insert(UnknownKey {
                        lines: 0,
                        first_line: line_no,
                    });
                    seen.lines += 1;
                }
                let out = OutLine {
                    id: &m.id,
                    sentiment: &score.sentiment,
                    complaint_probability: round4(score.complaint_probability),
                    is_complaint: score.is_complaint,
                    priority: score.priority,
                    priority_score: round4(score.priority_score),
                    urgency: round4(score.urgency),
                    influence: round4(score.influence),
                    signals: &score.signals,
                    top_terms: score
                        .top_terms
                        .iter()
                        .map(|(t, w)| Term {
                            term: t,
                            weight: *w,
                        })
                        .collect(),
                    route: score.route,
                    model_version: scorer.model_version(),
                    explanation: &score.explanation,
                };
                serde_json::to_writer(&mut output, &out)?;
                stats.scored += 1;
            }
            Err((id, error)) => {
                stats.errors += 1;
                serde_json::to_writer(
                    &mut output,
                    &ErrorLine {
                        line: line_no,
                        id: id.as_ref(),
                        error,
                    },
                )?;
            }
        }
        output.write_all(b"\n")?;
    }
    output.flush()?;
    Ok(stats)
}

/// Reads one line; an error names the field at fault. A `null` counts as absent, as in the
/// protobuf JSON mapping.
fn parse_line(raw: &str) -> Result<InLine, (Option<Value>, String)> {
    let value: Value =
        serde_json::from_str(raw).map_err(|e| (None, format!("invalid json: {e}")))?;
    let Value::Object(obj) = value else {
        return Err((None, "expected a json object".into()));
    };
    let Some(id) = present(&obj, "id").cloned() else {
        return Err((None, "missing field `id`".into()));
    };
    if !(id.is_string() || id.is_number()) {
        return Err((Some(id), "field `id` must be a string or a number".into()));
    }
    let fail = |message: String| (Some(id.clone()), message);
    let text = match present(&obj, "text") {
        None => return Err(fail("missing field `text`".into())),
        Some(Value::String(t)) => t.clone(),
        Some(other) => return Err(fail(format!("field `text` must be a string, got {other}"))),
    };
    let mut unknown = unknown_keys(&obj, MENTION_KEYS, "");
    let author = nested(&obj, "author", AUTHOR_KEYS, &mut unknown).map_err(fail)?;
    let engagement = nested(&obj, "engagement", ENGAGEMENT_KEYS, &mut unknown).map_err(fail)?;
    let count = |o: Option<&Map<String, Value>>, parent: &str, key: &str| -> Result<u64, String> {
        match o.and_then(|o| present(o, key)) {
            None => Ok(0),
            Some(v) => v.as_u64().ok_or_else(|| {
                format!("field `{parent}.{key}` must be a non-negative integer, got {v}")
            }),
        }
    };
    let verified = match author.and_then(|a| present(a, "verified")) {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(fail(format!(
                "field `author.verified` must be true or false, got {other}"
            )))
        }
    };
    Ok(InLine {
        followers: count(author, "author", "followers").map_err(fail)?,
        verified,
        likes: count(engagement, "engagement", "likes").map_err(fail)?,
        reposts: count(engagement, "engagement", "reposts").map_err(fail)?,
        replies: count(engagement, "engagement", "replies").map_err(fail)?,
        quotes: count(engagement, "engagement", "quotes").map_err(fail)?,
        id,
        text,
        unknown,
    })
}

/// `obj[key]`, unless absent or `null`.
fn present<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

/// The keys of `obj` not in `known`, each prefixed with `prefix`.
fn unknown_keys(obj: &Map<String, Value>, known: &[&str], prefix: &str) -> Vec<String> {
    obj.keys()
        .filter(|k| !known.contains(&k.as_str()))
        .map(|k| format!("{prefix}{k}"))
        .collect()
}

/// The object under `key`, if any, with its unknown keys added to `unknown`.
fn nested<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    known: &[&str],
    unknown: &mut Vec<String>,
) -> Result<Option<&'a Map<String, Value>>, String> {
    match present(obj, key) {
        None => Ok(None),
        Some(Value::Object(inner)) => {
            unknown.extend(unknown_keys(inner, known, &format!("{key}.")));
            Ok(Some(inner))
        }
        Some(other) => Err(format!("field `{key}` must be an object, got {other}")),
    }
}

/// Options of `outcry train complaints`.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    pub data: PathBuf,
    pub out: PathBuf,
    pub seed: u64,
    /// cross-validation folds; below 2 skips cross-validation
    pub folds: usize,
}

impl TrainOptions {
    /// Seed 42 and 10 folds, the settings behind the shipped model and its reported figures.
    pub fn new(data: impl Into<PathBuf>, out: impl Into<PathBuf>) -> TrainOptions {
        TrainOptions {
            data: data.into(),
            out: out.into(),
            seed: 42,
            folds: 10,
        }
    }
}

/// What training measured and wrote.
#[derive(Debug, Clone, Serialize)]
pub struct TrainReport {
    pub examples: usize,
    pub complaints: usize,
    pub folds: usize,
    pub seed: u64,
    /// cross-validated macro F1 at the model's decision threshold
    pub cv_macro_f1: Option<f64>,
    /// cross-validated accuracy at the model's decision threshold
    pub cv_accuracy: Option<f64>,
    /// the threshold that would maximise cross-validated macro F1 (informational, not applied)
    pub cv_best_threshold: Option<f64>,
    pub cv_macro_f1_at_best_threshold: Option<f64>,
    pub threshold: f64,
    pub model_version: String,
    pub model_bytes: usize,
    pub out: PathBuf,
}

/// `outcry train complaints` with the default hyper-parameters.
pub fn train_complaints(opts: &TrainOptions) -> Result<TrainReport, ScoringError> {
    train_complaints_with(opts, &TrainConfig::default())
}

/// Trains, cross-validates and writes the model file.
pub fn train_complaints_with(
    opts: &TrainOptions,
    tc: &TrainConfig,
) -> Result<TrainReport, ScoringError> {
    let examples = crate::data::read_examples(&opts.data)?;
    let complaints = examples.iter().filter(|e| e.label).count();
    if complaints == 0 || complaints == examples.len() {
        return Err(ScoringError::Data(
            "training data needs both complaints and non-complaints".into(),
        ));
    }
    let corpus = Corpus::new(&examples, SentimentAnalyzer::embedded(), tc.features);
    let threshold = 0.5;
    let (mut cv_f1, mut cv_acc, mut cv_bt, mut cv_bf1) = (None, None, None, None);
    if opts.folds >= 2 {
        let folds = stratified_folds(corpus.labels(), opts.folds, opts.seed);
        let probs = cross_val_probs(&corpus, &folds, opts.folds, tc);
        let labels = corpus.labels();
        let pred: Vec<bool> = probs.iter().map(|&p| p >= threshold).collect();
        cv_f1 = Some(macro_f1(labels, &pred));
        cv_acc = Some(
            labels.iter().zip(&pred).filter(|(a, b)| a == b).count() as f64 / labels.len() as f64,
        );
        let bt = best_threshold(labels, &probs);
        cv_bt = Some(bt);
        cv_bf1 = Some(macro_f1(
            labels,
            &probs.iter().map(|&p| p >= bt).collect::<Vec<_>>(),
        ));
    }
    let all: Vec<usize> = (0..corpus.len()).collect();
    let model = fit(&corpus, &all, tc, threshold);
    let bytes = model.to_bytes();
    std::fs::write(&opts.out, &bytes).map_err(|source| ScoringError::Io {
        path: opts.out.display().to_string(),
        source,
    })?;
    Ok(TrainReport {
        examples: examples.len(),
        complaints,
        folds: opts.folds,
        seed: opts.seed,
        cv_macro_f1: cv_f1,
        cv_accuracy: cv_acc,
        cv_best_threshold: cv_bt,
        cv_macro_f1_at_best_threshold: cv_bf1,
        threshold,
        model_version: model.version().to_string(),
        model_bytes: bytes.len(),
        out: opts.out.clone(),
    })
}

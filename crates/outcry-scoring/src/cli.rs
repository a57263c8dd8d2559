//! The `outcry score` and `outcry train complaints` commands, as library functions the
//! binary wires to its subcommands (and tests call directly).

use std::io::{BufRead, Write};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::{
    best_threshold, cross_val_probs, fit, macro_f1, stratified_folds, Corpus, TrainConfig,
};
use crate::vader::SentimentAnalyzer;
use crate::{MentionInput, Priority, Scorer, ScoringError, Sentiment, Signal};

/// Counts of one `outcry score` run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ScoreStats {
    /// input lines read, blank ones included
    pub lines: u64,
    pub scored: u64,
    pub errors: u64,
    /// blank lines, skipped without output
    pub blank: u64,
}

#[derive(Deserialize)]
struct InLine {
    id: Value,
    text: String,
    #[serde(default)]
    author: Option<InAuthor>,
    #[serde(default)]
    engagement: Option<InEngagement>,
}

#[derive(Deserialize, Default)]
struct InAuthor {
    #[serde(default)]
    followers: u64,
    #[serde(default)]
    verified: bool,
}

#[derive(Deserialize, Default)]
struct InEngagement {
    #[serde(default)]
    likes: u64,
    #[serde(default)]
    reposts: u64,
    #[serde(default)]
    replies: u64,
    #[serde(default)]
    quotes: u64,
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
/// `engagement`), one JSON line out per input, in order. A bad line gets
/// `{"line": n, "error": "..."}` and the rest continue; blank lines are skipped.
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
                let a = m.author.unwrap_or_default();
                let e = m.engagement.unwrap_or_default();
                let score = scorer.score(&MentionInput {
                    text: &m.text,
                    author_followers: a.followers,
                    author_verified: a.verified,
                    likes: e.likes,
                    reposts: e.reposts,
                    replies: e.replies,
                    quotes: e.quotes,
                });
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

fn parse_line(raw: &str) -> Result<InLine, (Option<Value>, String)> {
    let value: Value =
        serde_json::from_str(raw).map_err(|e| (None, format!("invalid json: {e}")))?;
    let id = value.get("id").filter(|v| !v.is_null()).cloned();
    if !value.is_object() {
        return Err((None, "expected a json object".into()));
    }
    let Some(id_value) = id.clone() else {
        return Err((None, "missing field `id`".into()));
    };
    if !(id_value.is_string() || id_value.is_number()) {
        return Err((id, "field `id` must be a string or a number".into()));
    }
    serde_json::from_value::<InLine>(value).map_err(|e| (id, e.to_string()))
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

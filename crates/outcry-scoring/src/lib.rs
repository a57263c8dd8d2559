//! Outcry's scoring logic: VADER sentiment, the complaint model, signals, influence,
//! priority and explanation. Pure functions over plain structs; the scorer service and the
//! `outcry` CLI call the same [`Scorer::score`].
//!
//! Priority formula (documented in `docs/scoring.md`):
//!
//! ```text
//! negativity = max(0, -compound)
//! urgency    = 1 - prod(1 - w_k) over fired signals k (noisy-or of SignalKind::urgency_weight)
//! influence  = min(1, 0.6 * log10(1 + followers) / 7
//!                   + 0.25 * log10(1 + likes + 2 reposts + replies + 2 quotes) / 5
//!                   + 0.15 * verified)
//! s = 0.40 * complaint_probability + 0.15 * negativity + 0.20 * influence + 0.25 * urgency
//! P1 if s >= 0.70, or safety_risk with influence >= 0.5
//! P2 if s >= 0.50, or safety_risk / legal_threat
//! P3 if s >= 0.30, or is_complaint
//! P4 otherwise
//! ```

pub mod cli;
pub mod data;
mod explain;
pub mod features;
pub mod hash;
pub mod model;
pub mod signals;
mod top_terms;
pub mod vader;

use std::cell::RefCell;
use std::path::Path;

use serde::Serialize;

pub use model::ComplaintModel;
pub use signals::{Signal, SignalKind};
pub use vader::Sentiment;

use features::{normalize_into, Normalized};
use model::PredictScratch;
use signals::SignalDetector;
use vader::SentimentAnalyzer;

/// The complaint model shipped with the repository (trained by `outcry train complaints`).
pub const EMBEDDED_MODEL: &[u8] = include_bytes!("../models/complaint-lr.bin");

/// Number of model terms reported in [`Score::top_terms`].
pub const TOP_TERMS: usize = 5;

/// Errors of the scoring library.
#[derive(Debug, thiserror::Error)]
pub enum ScoringError {
    #[error("invalid lexicon: {0}")]
    Lexicon(String),
    #[error("invalid model: {0}")]
    Model(String),
    #[error("invalid training data: {0}")]
    Data(String),
    #[error("cannot access {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// One mention to score: its text and what is known about its author and engagement.
#[derive(Debug, Clone, Copy, Default)]
pub struct MentionInput<'a> {
    pub text: &'a str,
    pub author_followers: u64,
    pub author_verified: bool,
    pub likes: u64,
    pub reposts: u64,
    pub replies: u64,
    pub quotes: u64,
}

/// Escalation priority, P1 most urgent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    P1,
    P2,
    P3,
    P4,
}

impl Priority {
    pub fn as_u8(self) -> u8 {
        match self {
            Priority::P1 => 1,
            Priority::P2 => 2,
            Priority::P3 => 3,
            Priority::P4 => 4,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::P1 => "P1",
            Priority::P2 => "P2",
            Priority::P3 => "P3",
            Priority::P4 => "P4",
        }
    }
}

impl Serialize for Priority {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl std::fmt::Display for Priority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Route for abuse aimed at staff: it goes to trust and safety, not to the agent it targets.
pub const ROUTE_TRUST_AND_SAFETY: &str = "trust_and_safety";

/// Everything the scorer says about one mention.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Score {
    pub sentiment: Sentiment,
    pub complaint_probability: f64,
    pub is_complaint: bool,
    pub priority: Priority,
    /// the combined score the priority is cut from, in [0, 1]
    pub priority_score: f64,
    pub urgency: f64,
    pub influence: f64,
    pub signals: Vec<Signal>,
    /// words with their contribution to the complaint log-odds, largest magnitude first
    pub top_terms: Vec<(String, f64)>,
    pub route: Option<&'static str>,
    pub explanation: String,
}

/// Lexicons, signal rules and the complaint model. `Send + Sync`; scoring takes `&self`.
#[derive(Debug, Clone)]
pub struct Scorer {
    analyzer: &'static SentimentAnalyzer,
    detector: SignalDetector,
    model: ComplaintModel,
}

impl Scorer {
    /// The model file shipped in the repository, plus the embedded lexicons.
    pub fn from_embedded() -> Result<Scorer, ScoringError> {
        Self::from_model_bytes(EMBEDDED_MODEL)
    }

    /// A model file written by `outcry train complaints`, plus the embedded lexicons.
    pub fn from_model_file(path: &Path) -> Result<Scorer, ScoringError> {
        let bytes = std::fs::read(path).map_err(|source| ScoringError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_model_bytes(&bytes)
    }

    pub fn from_model_bytes(bytes: &[u8]) -> Result<Scorer, ScoringError> {
        let analyzer = SentimentAnalyzer::embedded();
        if analyzer.lexicon_len() == 0 {
            return Err(ScoringError::Lexicon(
                "embedded vader lexicon is empty".into(),
            ));
        }
        Ok(Scorer {
            analyzer,
            detector: SignalDetector::new(),
            model: ComplaintModel::from_bytes(bytes)?,
        })
    }

    /// `complaint-lr-<hash of the model bytes>`
    pub fn model_version(&self) -> &str {
        self.model.version()
    }

    /// The probability at or above which a mention counts as a complaint.
    pub fn threshold(&self) -> f64 {
        self.model.threshold
    }

    // kept out of line so that profiles of callers show it as one function (one call per
    // mention costs nothing measurable)
    #[inline(never)]
    pub fn score(&self, input: &MentionInput<'_>) -> Score {
        let sentiment = self.analyzer.polarity_scores(input.text);
        let (pred, signals) = with_scratch(|scratch| {
            normalize_into(input.text, &mut scratch.norm);
            let pred =
                self.model
                    .predict_with(&scratch.norm, &sentiment, TOP_TERMS, &mut scratch.predict);
            let signals = self.detector.detect_in(input.text, &scratch.norm);
            (pred, signals)
        });
        let p = pred.probability;
        let is_complaint = p >= self.model.threshold;
        let influence = influence(input);
        let urgency = urgency(&signals);
        let negativity = (-sentiment.compound).max(0.0);
        let priority_score =
            (0.40 * p + 0.15 * negativity + 0.20 * influence + 0.25 * urgency).clamp(0.0, 1.0);
        let has = |k: SignalKind| signals.iter().any(|s| s.kind == k);
        let priority =
            if priority_score >= 0.70 || (has(SignalKind::SafetyRisk) && influence >= 0.5) {
                Priority::P1
            } else if priority_score >= 0.50
                || has(SignalKind::SafetyRisk)
                || has(SignalKind::LegalThreat)
            {
                Priority::P2
            } else if priority_score >= 0.30 || is_complaint {
                Priority::P3
            } else {
                Priority::P4
            };
        let route = has(SignalKind::AbuseAtStaff).then_some(ROUTE_TRUST_AND_SAFETY);
        let mut score = Score {
            sentiment,
            complaint_probability: p,
            is_complaint,
            priority,
            priority_score,
            urgency,
            influence,
            signals,
            top_terms: pred.top_terms,
            route,
            explanation: String::new(),
        };
        score.explanation = explain::explain(&score, self.model.threshold);
        score
    }
}

/// Per-thread buffers reused across [`Scorer::score`] calls.
#[derive(Default)]
struct Scratch {
    norm: Normalized,
    predict: PredictScratch,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut scratch) => f(&mut scratch),
        // not reachable (scoring does not re-enter itself), but never panic over a buffer
        Err(_) => f(&mut Scratch::default()),
    })
}

/// Author influence in [0, 1] from followers, verification and engagement.
pub fn influence(m: &MentionInput<'_>) -> f64 {
    let followers = ((1.0 + m.author_followers as f64).log10() / 7.0).min(1.0);
    let engagement =
        m.likes as f64 + 2.0 * m.reposts as f64 + m.replies as f64 + 2.0 * m.quotes as f64;
    let engagement = ((1.0 + engagement).log10() / 5.0).min(1.0);
    let verified = if m.author_verified { 1.0 } else { 0.0 };
    (0.6 * followers + 0.25 * engagement + 0.15 * verified).clamp(0.0, 1.0)
}

/// Urgency in [0, 1]: noisy-or of the fired signals' weights.
pub fn urgency(signals: &[Signal]) -> f64 {
    1.0 - signals
        .iter()
        .map(|s| 1.0 - s.kind.urgency_weight())
        .product::<f64>()
}

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
pub mod features;
pub mod hash;
pub mod model;
pub mod signals;
mod top_terms;
pub mod vader;

use std::cell::RefCell;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

pub use model::ComplaintModel;
pub use signals::{Signal, SignalKind};
pub use vader::Sentiment;

use features::{normalize_into, Normalized};
use model::PredictScratch;
use signals::{DetectScratch, SignalDetector};
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
            let signals = self
                .detector
                .detect_with(&scratch.norm, &mut scratch.signals);
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
        score.explanation = explain(&score, self.model.threshold);
        score
    }
}

/// Per-thread buffers reused across [`Scorer::score`] calls.
#[derive(Default)]
struct Scratch {
    norm: Normalized,
    predict: PredictScratch,
    signals: DetectScratch,
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

fn explain(s: &Score, threshold: f64) -> String {
    // the fixed parts and numbers take under 200 bytes; signals and terms add their text
    let extra = s
        .signals
        .iter()
        .map(|sig| sig.evidence.len() + 24)
        .chain(s.top_terms.iter().take(3).map(|(t, _)| t.len() + 12))
        .sum::<usize>();
    let mut out = String::with_capacity(200 + extra);
    let verdict = if s.is_complaint {
        " complaint (p="
    } else {
        " not a complaint (p="
    };
    out.push_str(s.priority.as_str());
    out.push_str(verdict);
    push_fixed2(&mut out, s.complaint_probability, false);
    out.push_str(", threshold ");
    push_fixed2(&mut out, threshold, false);
    out.push_str("); sentiment ");
    push_fixed2(&mut out, s.sentiment.compound, true);
    if !s.signals.is_empty() {
        out.push_str("; signals: ");
        for (i, sig) in s.signals.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(sig.kind.as_str());
            out.push_str(" \"");
            out.push_str(&sig.evidence);
            out.push('"');
        }
    }
    let mut pushing = s
        .top_terms
        .iter()
        .filter(|(_, c)| *c > 0.0)
        .take(3)
        .peekable();
    if pushing.peek().is_some() {
        out.push_str("; complaint terms: ");
        for (i, (t, c)) in pushing.enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(t);
            out.push_str(" (");
            push_fixed2(&mut out, *c, true);
            out.push(')');
        }
    }
    out.push_str("; influence ");
    push_fixed2(&mut out, s.influence, false);
    out.push_str(", urgency ");
    push_fixed2(&mut out, s.urgency, false);
    if let Some(route) = s.route {
        out.push_str("; route to ");
        out.push_str(route);
    }
    out
}

/// `"0.00"` to `"9.99"`: the text of every value under 10 that [`push_fixed2`] writes, so the
/// common case is one string from a table (slices of one string would check their bounds
/// and character boundaries at every use).
const FIXED2: [&str; 1000] = {
    const BYTES: [u8; 4000] = {
        let mut t = [0u8; 4000];
        let mut r = 0;
        while r < 1000 {
            t[4 * r] = b'0' + (r / 100) as u8;
            t[4 * r + 1] = b'.';
            t[4 * r + 2] = b'0' + (r / 10 % 10) as u8;
            t[4 * r + 3] = b'0' + (r % 10) as u8;
            r += 1;
        }
        t
    };
    let mut table = [""; 1000];
    let mut r = 0;
    while r < 1000 {
        let (four, _) = BYTES.split_at(4 * r + 4).0.split_at(4 * r).1.split_at(4);
        table[r] = match std::str::from_utf8(four) {
            Ok(s) => s,
            Err(_) => panic!("digits are ASCII"),
        };
        r += 1;
    }
    table
};

/// Appends `x` as `format!("{x:.2}")` (or `{x:+.2}` with `plus`) would, without the general
/// float formatter except for exact ties, values of a million or more, NaN and infinities.
#[inline(always)]
fn push_fixed2(out: &mut String, x: f64, plus: bool) {
    let Some(cents) = cents(x) else {
        let _ = if plus {
            write!(out, "{x:+.2}")
        } else {
            write!(out, "{x:.2}")
        };
        return;
    };
    if x.is_sign_negative() {
        out.push('-');
    } else if plus {
        out.push('+');
    }
    match FIXED2.get(cents as usize) {
        Some(digits) => out.push_str(digits),
        None => {
            push_u64(out, cents / 100);
            out.push('.');
            let rest = cents % 100;
            out.push(char::from(b'0' + (rest / 10) as u8));
            out.push(char::from(b'0' + (rest % 10) as u8));
        }
    }
}

/// `|x|` in hundredths, rounded as `format!` rounds the exact value of `x`; `None` for an
/// exact tie, for values of a million or more, and for NaN and infinities.
#[inline(always)]
fn cents(x: f64) -> Option<u64> {
    let a = x.abs();
    // also false for NaN
    if a.partial_cmp(&1e6) != Some(std::cmp::Ordering::Less) {
        return None;
    }
    let y = a * 100.0;
    // y is below 1e8, so truncating is flooring and exact (and needs no libm call)
    let floor = y as i64 as u64;
    let frac = y - floor as f64;
    // the product is within 1e-8 of the exact value, so away from a tie its rounding is the
    // rounding of the exact decimal expansion that `format!` performs
    let up = if (frac - 0.5).abs() > 1e-6 {
        frac > 0.5
    } else {
        // near a tie: the fused multiply-add rounds the exact difference once, which keeps
        // its sign; an exact tie is left to `format!`
        let d = a.mul_add(100.0, -(floor as f64 + 0.5));
        if d == 0.0 {
            return None;
        }
        d > 0.0
    };
    Some(floor + u64::from(up))
}

fn push_u64(out: &mut String, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend(buf[i..].iter().map(|&b| char::from(b)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed2_matches_format() {
        let mut cases = vec![
            0.0,
            -0.0,
            0.005,
            0.015,
            0.025,
            0.125,
            -0.125,
            0.995,
            0.9951,
            -0.001,
            1.0,
            -1.0,
            0.5,
            12.345,
            -12.345,
            99.999,
            1e7,
            -1e7,
            f64::NAN,
            f64::INFINITY,
            0.475,
            0.4999,
        ];
        let mut r = hash::SplitMix64::new(3);
        for _ in 0..200_000 {
            let u = (r.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
            cases.push((u - 0.5) * 20.0);
            cases.push(((r.next_u64() % 20001) as f64 - 10000.0) / 10000.0);
        }
        for x in cases {
            for plus in [false, true] {
                let mut got = String::new();
                push_fixed2(&mut got, x, plus);
                let want = if plus {
                    format!("{x:+.2}")
                } else {
                    format!("{x:.2}")
                };
                assert_eq!(got, want, "{x:e} plus={plus}");
            }
        }
    }
}

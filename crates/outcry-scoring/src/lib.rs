//! Outcry's scoring logic: VADER sentiment, the complaint model, signals, influence,
//! priority and explanation. Pure functions over plain structs; no I/O except the CLI helpers.

pub mod hash;
pub mod vader;

pub use vader::Sentiment;

/// Errors of the scoring library.
#[derive(Debug, thiserror::Error)]
pub enum ScoringError {
    #[error("invalid lexicon: {0}")]
    Lexicon(String),
}

//! Patterns: a phrase parsed into exact words, prefixes and wildcards, and how one matches
//! at a word of a normalised text.

use super::*;

#[derive(Debug, Clone)]
pub(super) enum Tok {
    Exact(Word),
    Prefix(Box<str>),
    Any,
}

impl Tok {
    pub(super) fn parse(t: &str) -> Tok {
        if t == "_" {
            Tok::Any
        } else if let Some(p) = t.strip_suffix('*') {
            Tok::Prefix(p.into())
        } else {
            Tok::Exact(Word::new(t))
        }
    }

    #[inline(always)]
    pub(super) fn matches(&self, norm: &Normalized, i: usize) -> bool {
        match self {
            Tok::Exact(w) => w.is_word(norm, i),
            Tok::Prefix(p) => norm.word_bytes(i).starts_with(p.as_bytes()),
            Tok::Any => true,
        }
    }
}

/// A whole word of a phrase.
#[derive(Debug, Clone)]
pub(super) struct Word {
    pub(super) text: Box<str>,
    /// the unigram hash normalisation gives the word, so that other words are told apart by
    /// one comparison with the hash the text already has
    pub(super) hash: u64,
    /// its first eight bytes as [`load_le`] loads them, which confirm a short word without a
    /// call to `memcmp`
    pub(super) head: u64,
}

impl Word {
    pub(super) fn new(text: &str) -> Word {
        Word {
            text: text.into(),
            hash: normalized_hashes(text).first().map_or(0, |h| h.unigram),
            head: load_le(text.as_bytes(), 0, text.len()),
        }
    }

    /// Whether word `i` of `norm` is this word.
    #[inline(always)]
    pub(super) fn is_word(&self, norm: &Normalized, i: usize) -> bool {
        let (Some(h), Some(&(s, e))) = (norm.hashes.get(i), norm.words.get(i)) else {
            return false;
        };
        let (s, e, len) = (s as usize, e as usize, self.text.len());
        let padded = norm.padded.as_bytes();
        h.unigram == self.hash
            && e.wrapping_sub(s) == len
            && load_le(padded, s, len) == self.head
            && (len <= 8 || padded.get(s + 8..e) == self.text.as_bytes().get(8..))
    }
}

/// The word hashes normalisation gives `text`, a phrase's words: taken from [`normalize_into`]
/// itself, the two cannot disagree on how words are hashed (a phrase word normalises to
/// itself; a unit test checks).
pub(super) fn normalized_hashes(text: &str) -> Vec<WordHashes> {
    let mut norm = Normalized::default();
    normalize_into(text, &mut norm);
    norm.hashes
}

/// Whether a phrase list is a signal of its own or an ingredient of the abuse or question rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Class {
    Signal(SignalKind),
    Insult,
    Staff,
}

/// The phrase lists. Matches at one word are ranked in this order, those of the patterns
/// starting with an exact word before those starting with a prefix. `?`, the other half of
/// the question rule, is found by its filter plane (see [`SignalDetector`]).
pub(super) const PHRASES: [(Class, &[&str]); 9] = [
    (Class::Signal(SignalKind::LegalThreat), LEGAL),
    (Class::Signal(SignalKind::SafetyRisk), SAFETY),
    (Class::Signal(SignalKind::ChurnIntent), CHURN),
    (Class::Signal(SignalKind::RepeatedContact), REPEATED),
    (Class::Signal(SignalKind::Outage), OUTAGE),
    (Class::Signal(SignalKind::Billing), BILLING),
    (Class::Insult, INSULTS),
    (Class::Staff, STAFF),
    (Class::Signal(SignalKind::Question), QUESTION_WORDS),
];

#[derive(Debug, Clone)]
pub(super) struct Pattern {
    pub(super) class: Class,
    /// the order of the pattern's matches at one word: the patterns starting with an exact
    /// word, then those starting with a prefix, each in phrase order
    pub(super) rank: u16,
    pub(super) toks: Box<[Tok]>,
}

impl Pattern {
    /// Whether the words from `i + from` on match the tokens from `from` to `to`.
    #[inline(always)]
    pub(super) fn toks_match(&self, norm: &Normalized, i: usize, from: usize, to: usize) -> bool {
        let Some(toks) = self.toks.get(from..to) else {
            return false;
        };
        for (t, j) in toks.iter().zip(i + from..) {
            if !t.matches(norm, j) {
                return false;
            }
        }
        true
    }

    /// The pattern's length if it matches at word `i`, its first `known` words taken as read.
    #[inline(always)]
    pub(super) fn match_len(&self, norm: &Normalized, i: usize, known: usize) -> Option<usize> {
        let len = self.toks.len();
        (i + len <= norm.words.len() && self.toks_match(norm, i, known, len)).then_some(len)
    }
}

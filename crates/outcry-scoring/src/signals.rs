//! Named signals with the evidence that fired them.
//!
//! Phrase rules over the normalised words (lowercase, digits folded to `0`, @handles to
//! `@user`). A pattern is a word sequence; `word*` matches any word starting with `word`,
//! `_` matches any one word; a pattern starts with a word or a prefix of four bytes or more.
//! Patterns are indexed by the unigram hash of their first word or the bigram hash of their
//! first two (both computed by normalisation already), or by their first prefix's first four
//! bytes. One array of byte filters stands in front of all the tables, a bit of each byte
//! per table, and turns most words away with a byte load.
//!
//! Every word is looked up in the filters of the signal tables, and the patterns are tried at
//! the few words that pass (see [`SignalDetector`]). Staff and question words, the
//! commonest words the rules name, are not in the signal tables: they count only near an
//! insult or where a question opens, and are looked up there. Matches are taken in as they
//! are found, each kind keeping its first by word and pattern rank, so no buffers are needed.

use serde::Serialize;

use crate::features::{load_le, normalize_into, Normalized, WordHashes};

mod index;
mod patterns;
mod phrases;

use index::*;
use patterns::*;
use phrases::*;

/// The kinds of signal, with stable snake_case names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalKind {
    LegalThreat,
    SafetyRisk,
    ChurnIntent,
    RepeatedContact,
    Outage,
    Billing,
    Question,
    AbuseAtStaff,
}

impl SignalKind {
    pub const ALL: [SignalKind; 8] = [
        SignalKind::LegalThreat,
        SignalKind::SafetyRisk,
        SignalKind::ChurnIntent,
        SignalKind::RepeatedContact,
        SignalKind::Outage,
        SignalKind::Billing,
        SignalKind::Question,
        SignalKind::AbuseAtStaff,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SignalKind::LegalThreat => "legal_threat",
            SignalKind::SafetyRisk => "safety_risk",
            SignalKind::ChurnIntent => "churn_intent",
            SignalKind::RepeatedContact => "repeated_contact",
            SignalKind::Outage => "outage",
            SignalKind::Billing => "billing",
            SignalKind::Question => "question",
            SignalKind::AbuseAtStaff => "abuse_at_staff",
        }
    }

    /// How urgent a mention with this signal is, in [0, 1] (combined by noisy-or).
    pub fn urgency_weight(self) -> f64 {
        match self {
            SignalKind::SafetyRisk => 0.9,
            SignalKind::LegalThreat => 0.8,
            SignalKind::AbuseAtStaff => 0.6,
            SignalKind::Outage => 0.6,
            SignalKind::ChurnIntent => 0.5,
            SignalKind::RepeatedContact => 0.5,
            SignalKind::Billing => 0.3,
            SignalKind::Question => 0.1,
        }
    }
}

impl std::fmt::Display for SignalKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A fired signal and the words that fired it: as the mention wrote them from
/// [`SignalDetector::detect_in`], normalised from [`SignalDetector::detect`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Signal {
    pub kind: SignalKind,
    pub evidence: String,
}

/// Compiled phrase rules of all signals.
///
/// Each word is looked up in the signal tables' filters (three byte loads, then one branch),
/// and the few that pass are visited again to try the patterns filed under them. With the
/// commonest words out of those tables (below) the branch is rarely taken, and so rarely
/// mispredicted: a first pass keeping the filters' answers as bits, four a word, with no
/// branch at all, cost more in instructions than it saved.
///
/// The commonest words the rules name, staff words ("you", "he") and question words ("is",
/// "can"), are in none of those tables: matching them at every occurrence was most of the
/// work at the words that passed, yet a question word counts only at the first plain word or
/// after a `!`, and a staff word only within three words of an insult, which are rare. They
/// are tried there, in tables of their own. `?` and `!` have a filter plane of their own, so
/// that the same look-up finds them too.
///
/// The first match of each kind wins, ordered by word, then by pattern rank; matches are
/// found in another order (by table, and a pair at its second word), so each kind keeps the
/// least so far.
#[derive(Debug, Clone)]
pub struct SignalDetector {
    /// of all the tables below, one plane each
    filters: Filters,
    /// the signal and insult patterns, tried at the words that pass their filters
    signals: Rules,
    /// the question words, tried where a question may open
    questions: Rules,
    /// the staff words, tried around an insult
    staff: Rules,
}

impl Default for SignalDetector {
    fn default() -> Self {
        Self::new()
    }
}

impl SignalDetector {
    /// The words marked in the [`Filters::PUNCTUATION`] plane: `?` and `!`, which open a
    /// question (see [`SignalDetector::punctuation`]).
    const PUNCTUATION: [&'static str; 2] = ["?", "!"];

    pub fn new() -> SignalDetector {
        let mut patterns: Vec<Pattern> = PHRASES
            .iter()
            .flat_map(|&(class, phrases)| phrases.iter().map(move |p| (class, p)))
            .map(|(class, phrase)| {
                let toks: Box<[Tok]> = phrase.split(' ').map(Tok::parse).collect();
                if !matches!(&toks[0], Tok::Exact(_))
                    && !matches!(&toks[0], Tok::Prefix(p) if p.len() >= PREFIX_KEY_LEN)
                {
                    // checking these at every word would cost every word
                    panic!("{phrase:?} starts with `_` or a prefix shorter than {PREFIX_KEY_LEN}");
                }
                Pattern {
                    class,
                    rank: 0,
                    toks,
                }
            })
            .collect();
        patterns.sort_by_key(|p| matches!(p.toks[0], Tok::Prefix(_)));
        for (rank, pattern) in patterns.iter_mut().enumerate() {
            pattern.rank = rank as u16;
        }
        let mut filters = Filters::new();
        let mut of = |wanted: fn(Class) -> bool, planes| {
            let patterns = patterns.iter().filter(|p| wanted(p.class)).cloned();
            Rules::new(patterns, planes, &mut filters)
        };
        let signals = of(
            |c| !matches!(c, Class::Staff | Class::Signal(SignalKind::Question)),
            Planes {
                word: Filters::SIGNAL_WORD,
                pair: Filters::SIGNAL_PAIR,
                prefix: Filters::SIGNAL_PREFIX,
            },
        );
        let questions = of(
            |c| c == Class::Signal(SignalKind::Question),
            Planes {
                word: Filters::QUESTION_WORD,
                pair: 0,
                prefix: 0,
            },
        );
        let staff = of(
            |c| c == Class::Staff,
            Planes {
                word: Filters::STAFF_WORD,
                pair: 0,
                prefix: Filters::STAFF_PREFIX,
            },
        );
        for rules in [&questions, &staff] {
            let mut all = (rules.by_word.patterns.iter()).chain(&rules.by_prefix.patterns);
            assert!(
                all.all(|p| p.toks.len() == 1),
                "question and staff words are one word each"
            );
        }
        for word in Self::PUNCTUATION {
            let hash = normalized_hashes(word).first().map_or(0, |h| h.unigram);
            filters.mark(hash, Filters::PUNCTUATION);
        }
        SignalDetector {
            filters,
            signals,
            questions,
            staff,
        }
    }

    /// The planes of the signal filters that hold word `i`, of span `span` and hashes `h`:
    /// its unigram hash in the word and punctuation planes, its bigram hash in the pair
    /// plane, its prefix key in the prefix plane.
    #[inline(always)]
    fn planes_at(&self, padded: &[u8], span: (u32, u32), h: &WordHashes) -> u8 {
        let (key, _) = prefix_key(padded, span.0 as usize);
        // all three tests, then one branch: tests that branch each, skipping the rest, cost
        // fewer instructions but more time, their branches being hard to predict
        self.filters.marks(h.unigram) & (Filters::SIGNAL_WORD | Filters::PUNCTUATION)
            | self.filters.marks(h.bigram) & Filters::SIGNAL_PAIR
            | self.filters.marks(key) & Filters::SIGNAL_PREFIX
    }

    /// Tries the patterns of the tables whose filter planes `planes` hold word `i`. Out of
    /// line: the loop over the words, which mostly finds nothing, stays small enough to keep
    /// its values in registers.
    #[inline(never)]
    fn visit(&self, norm: &Normalized, i: usize, planes: u8, found: &mut Found) {
        self.signals
            .planed_matches(planes, norm, i, &mut |m| self.record(norm, found, m));
        // `?` and `!` count until the first `?`
        if planes & Filters::PUNCTUATION != 0 && found.first_q.is_none() {
            self.punctuation(norm, i, found);
        }
    }

    /// Detects the signals of a normalised text; at most one signal per kind (its first
    /// evidence, in normalised words), in `SignalKind` order.
    pub fn detect(&self, norm: &Normalized) -> Vec<Signal> {
        self.detect_with(norm, |s, e| evidence(norm, s, e))
    }

    /// [`detect`](Self::detect) on `norm`, the normalised `text`, with each signal's
    /// evidence quoted from `text`: "called 5 times" and "@JaneAtAcme", where the normalised
    /// words read "called 0 times" and "@user" (see [`quote`]).
    pub fn detect_in(&self, text: &str, norm: &Normalized) -> Vec<Signal> {
        self.detect_with(norm, |s, e| quote(text, norm, s, e))
    }

    fn detect_with(
        &self,
        norm: &Normalized,
        mut evidence: impl FnMut(usize, usize) -> String,
    ) -> Vec<Signal> {
        let n_words = norm.words.len();
        let padded = norm.padded.as_bytes();
        let mut found = Found::default();
        // a question word opens a question at the first word that is not an @handle, or after
        // a `!` (see `punctuation`); the first is the first that can
        let first_plain = (0..n_words).find(|&i| !norm.word_bytes(i).starts_with(b"@"));
        if let Some(i) =
            first_plain.filter(|&i| self.questions.matches_word(&self.filters, norm, i))
        {
            found.question_start = Some(i);
        }
        for (i, (&span, h)) in norm.words.iter().zip(&norm.hashes).enumerate() {
            let planes = self.planes_at(padded, span, h);
            if planes != 0 {
                self.visit(norm, i, planes, &mut found);
            }
        }
        // question: a '?' (evidence: up to six words before it) or a leading question word
        if let Some(q) = found.first_q {
            let start = found
                .question_start
                .filter(|&s| s < q)
                .unwrap_or(q.saturating_sub(6));
            let start = (start..q)
                .find(|&j| !norm.word_bytes(j).starts_with(b"@"))
                .unwrap_or(q);
            found.offer(SignalKind::Question, 0, 0, (start, q + 1));
        } else if let Some(s) = found.question_start {
            found.offer(SignalKind::Question, 0, 0, (s, (s + 6).min(n_words)));
        }
        // most texts have no signal: visit the kinds found, not all eight
        let mut kinds = found
            .kinds
            .iter()
            .enumerate()
            .fold(0u32, |m, (k, f)| m | u32::from(f.is_some()) << k);
        let mut out = Vec::with_capacity(kinds.count_ones() as usize);
        while kinds != 0 {
            let k = kinds.trailing_zeros() as usize;
            kinds &= kinds - 1;
            if let (Some(&kind), Some(f)) = (SignalKind::ALL.get(k), found.kinds[k]) {
                out.push(Signal {
                    kind,
                    evidence: evidence(f.span.0, f.span.1),
                });
            }
        }
        out
    }

    /// Takes in a match of the signal tables.
    #[inline(never)]
    fn record(&self, norm: &Normalized, found: &mut Found, m: Match) {
        match m.class {
            Class::Signal(kind) => found.offer(kind, m.start, m.rank, (m.start, m.end)),
            // abuse at staff: an insult or threat within three words of a person it is aimed
            // at (the nearest; of two as near, the first)
            Class::Insult => {
                let abuse = SignalKind::AbuseAtStaff as usize;
                if found.kinds[abuse].is_some_and(|f| (f.start, f.rank) < (m.start, m.rank)) {
                    return;
                }
                let (s, e) = (m.start, m.end);
                let near = s.saturating_sub(3)..(e + 3).min(norm.words.len());
                let mut person: Option<usize> = None;
                for p in near {
                    if person.is_none_or(|q| p.abs_diff(s) < q.abs_diff(s))
                        && self.staff.matches_word(&self.filters, norm, p)
                    {
                        person = Some(p);
                    }
                }
                if let Some(p) = person {
                    let span = (p.min(s), (p + 1).max(e));
                    found.offer(SignalKind::AbuseAtStaff, s, m.rank, span);
                }
            }
            // not filed in the signal tables
            Class::Staff => {}
        }
    }

    /// Takes in word `i`, which may be `?` or `!` (its filter byte tells no more), before
    /// the first `?`: the first `?`, or a `!` before a question word, which opens a question
    /// if none has yet.
    fn punctuation(&self, norm: &Normalized, i: usize, found: &mut Found) {
        match norm.word_bytes(i) {
            b"?" => found.first_q = Some(i),
            b"!" if found.question_start.is_none()
                && self.questions.matches_word(&self.filters, norm, i + 1) =>
            {
                found.question_start = Some(i + 1);
            }
            _ => {}
        }
    }
}

/// Evidence quoted from the text: the whitespace tokens (as Python's `str.split()` splits)
/// that normalised words `s..e` came from, joined by single spaces.
///
/// Normalisation turns each whitespace token into one run of bytes with no space inside (a
/// run may hold no word, as `&amp;` does), and puts one space between runs after the one at
/// the start, so the `k`th run of the normalised text is the `k`th token of the text, and the
/// run of a word is the number of spaces before it, less one
/// (`quotes_follow_the_normalised_words` checks the pairing on every text of the VADER
/// fixtures, and a property test on arbitrary text). Where there is no such token the
/// evidence stays the normalised words.
fn quote(text: &str, norm: &Normalized, s: usize, e: usize) -> String {
    let padded = norm.padded.as_bytes();
    let start = |w: usize| norm.words.get(w).map(|w| w.0 as usize);
    let (Some(a), Some(b)) = (start(s), e.checked_sub(1).and_then(start)) else {
        return evidence(norm, s, e);
    };
    if s >= e {
        return String::new();
    }
    let spaces = |r: std::ops::Range<usize>| {
        padded
            .get(r)
            .map_or(0, |p| p.iter().filter(|&&c| c == b' ').count())
    };
    let first = spaces(1..a);
    let last = first + spaces(a..b);
    let Some(quoted) =
        crate::features::token_span(text, first, last).and_then(|(a, b)| text.get(a..b))
    else {
        return evidence(norm, s, e);
    };
    // tokens as written, one space between them (nearly always how they stand already)
    // one pass: the spaces, and the control bytes (line breaks, tabs); a separator outside
    // ASCII is rarer still
    let (spaces_in, controls) = quoted.bytes().fold((0usize, 0usize), |(sp, ctl), b| {
        (sp + usize::from(b == b' '), ctl + usize::from(b < b' '))
    });
    let single_spaced = spaces_in == last - first
        && controls == 0
        && (quoted.is_ascii() || !crate::features::may_hold_unicode_space(quoted.as_bytes()));
    if single_spaced {
        return quoted.to_string();
    }
    let mut out = String::with_capacity(quoted.len());
    for (k, token) in crate::features::py_words(quoted).enumerate() {
        if k > 0 {
            out.push(' ');
        }
        out.push_str(token);
    }
    out
}

/// The words `s..e` joined by single spaces (`words[s..e].join(" ")`).
fn evidence(norm: &Normalized, s: usize, e: usize) -> String {
    let Some((&first, rest)) = norm.words.get(s..e).and_then(|w| w.split_first()) else {
        return String::new();
    };
    let last = rest.last().map_or(first.1, |w| w.1);
    // room for the text from the first word to the last, and a space between any two
    let mut out = String::with_capacity(last.saturating_sub(first.0) as usize + rest.len());
    let text = |(a, b): (u32, u32)| norm.padded.get(a as usize..b as usize).unwrap_or("");
    // words that stand in the text so joined already are copied as one: nearly always all
    let padded = norm.padded.as_bytes();
    let mut run = first;
    for &(a, b) in rest {
        if a != run.1 + 1 || padded.get(run.1 as usize) != Some(&b' ') {
            out.push_str(text(run));
            out.push(' ');
            run.0 = a;
        }
        run.1 = b;
    }
    out.push_str(text(run));
    out
}

#[cfg(test)]
mod tests;

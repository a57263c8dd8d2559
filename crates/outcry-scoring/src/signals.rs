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

const LEGAL: &[&str] = &[
    "lawyer*",
    "attorney*",
    "solicitor*",
    "lawsuit*",
    "sue",
    "suing",
    "sued",
    "legal action",
    "legal team",
    "take you to court",
    "see you in court",
    "taking you to court",
    "small claims",
    "class action",
    "ombudsman",
    "trading standards",
    "report you to",
    "reporting you to",
    "bbb",
    "better business bureau",
    "consumer protection",
    "ftc",
    "cfpb",
    "breach of contract",
];
const SAFETY: &[&str] = &[
    "caught fire",
    "on fire",
    "fire hazard",
    "explod*",
    "exploded",
    "smoke",
    "smoking from",
    "burn",
    "burns",
    "burned",
    "burnt",
    "burning",
    "injur*",
    "hospital*",
    "unsafe",
    "dangerous",
    "danger",
    "food poisoning",
    "poison*",
    "allergic",
    "allergy",
    "allergen*",
    "choking",
    "choked",
    "electric shock",
    "electrocut*",
    "overheat*",
    "melted",
    "sparks",
    "bleeding",
    "hurt me",
    "got hurt",
    "was hurt",
    "hurt my",
    "safety",
    "emergency",
    "ambulance",
    "carbon monoxide",
    "gas leak",
    "mould",
    "mold",
    "cockroach*",
    "rat",
    "rats",
    "maggot*",
    "glass in",
];
// "cancel*" alone also fires on "my flight was cancelled", a service failure, not churn:
// cancelling counts as churn when it is the customer's act on their own account
const CHURN: &[&str] = &[
    "cancel* my",
    "cancel* our",
    "cancel* subscription*",
    "cancel* account*",
    "cancel* contract*",
    "cancel* membership*",
    "cancel* plan*",
    "going to cancel*",
    "gonna cancel*",
    "will cancel*",
    "i'll cancel*",
    "ill cancel*",
    "or i cancel*",
    "i'm cancel*",
    "im cancel*",
    "i am cancel*",
    "switching to",
    "switch to",
    "switched to",
    "leaving you",
    "leave you",
    "moving to",
    "close my account",
    "closing my account",
    "closed my account",
    "never again",
    "never buying",
    "never buy",
    "never using",
    "never use",
    "never flying",
    "never fly",
    "never shopping",
    "never ordering",
    "never order",
    "never coming back",
    "done with you",
    "done with your",
    "i'm done",
    // "the last time i checked" is not a farewell; the last time one buys or uses is
    "last time i buy*",
    "last time i use*",
    "last time i order*",
    "last time i shop*",
    "last time i fly*",
    "last time i stay*",
    "last time i eat*",
    "last time i ever",
    "last time i'll",
    "last time i will",
    "taking my business",
    "take my business",
    "go elsewhere",
    "going elsewhere",
    "unsubscrib*",
    "terminate my",
    "end my contract",
    "port my number",
    "won't be back",
    "not coming back",
    "find another",
    "look elsewhere",
    "looking elsewhere",
];
// a duration alone ("in 2 weeks", "a 28 day return policy", "after 18 months") is not a
// contact made again, so "0 days" and the like are not here; nor is a count of calls or
// emails ("stop sending 0 emails a day"), where an ordinal ("0rd call") is
const REPEATED: &[&str] = &[
    "second time",
    "third time",
    "fourth time",
    "fifth time",
    "0nd time",
    "0rd time",
    "0th time",
    "0st time",
    "0 times",
    "second call",
    "third call",
    "0nd call",
    "0rd call",
    "0th call",
    "0st call",
    "second email",
    "third email",
    "0nd email",
    "0rd email",
    "0th email",
    "contacted you",
    "many times",
    "multiple times",
    "several times",
    "numerous times",
    "countless times",
    "how many times",
    "twice",
    "yet again",
    "once again",
    "again and again",
    "still waiting",
    "still no",
    "still not",
    "still haven't",
    "still hasn't",
    "still don't",
    "still can't",
    "still nothing",
    "no response",
    "no reply",
    "no one has",
    "nobody has",
    "haven't heard back",
    "not heard back",
    "keep asking",
    "keep calling",
    "kept calling",
    "asked you",
    "already called",
    "already emailed",
    "already told",
    "already sent",
    "chasing",
    "follow up",
    "following up",
    "days later",
    "weeks later",
    "for weeks",
    "for days",
    "for months",
    "over a week",
    "over a month",
    "every time",
];
const OUTAGE: &[&str] = &[
    "outage*",
    "is down",
    "are down",
    "went down",
    "goes down",
    "down again",
    "been down",
    "was down",
    "were down",
    "down since",
    "internet down",
    "wifi down",
    "broadband down",
    "system down",
    "systems down",
    "site down",
    "app down",
    "website down",
    "server down",
    "servers down",
    "service down",
    "network down",
    "not working",
    "isn't working",
    "aren't working",
    "stopped working",
    "doesn't work",
    "don't work",
    "won't work",
    "not loading",
    "won't load",
    "doesn't load",
    "can't log",
    "cannot log",
    "can't login",
    "unable to log",
    "can't connect",
    "cannot connect",
    "unable to connect",
    "can't access",
    "cannot access",
    "unable to access",
    "no signal",
    "no internet",
    "no wifi",
    "no broadband",
    "no service",
    "no connection",
    "no network",
    "no power",
    "offline",
    "crash*",
    "error",
    "errors",
    "keeps freezing",
    "frozen",
    "glitch",
    "glitches",
    "glitching",
    "glitchy",
    "glitched",
    "bug",
    "buggy",
    "broken",
];
const BILLING: &[&str] = &[
    "refund*",
    "charge",
    "charged",
    "charges",
    "chargeable",
    "chargeback*",
    "charging me",
    "charging my",
    "charging us",
    "charging for",
    "stop charging",
    "keep charging",
    "overcharg*",
    "bill",
    "billed",
    "billing",
    "bills",
    "invoice*",
    "payment*",
    "paid",
    "pay",
    "paying",
    "money back",
    "my money",
    "fee",
    "fees",
    "debit*",
    "credit card",
    "card details",
    "price",
    "prices",
    "priced",
    "pricey",
    "pricing",
    "compensat*",
    "reimburs*",
    "voucher*",
    "transaction*",
    "subscription",
    "renewal",
    "deducted",
    "withdrawn",
];
/// Insults and threats; abuse fires only when one is aimed at a person (see `aimed_at_staff`).
const INSULTS: &[&str] = &[
    "idiot*",
    "moron*",
    "stupid",
    "dumb",
    "dumbass",
    "incompetent",
    "imbecile*",
    "scum*",
    "clown*",
    "retard*",
    "loser*",
    "bitch*",
    "asshole*",
    "arsehole*",
    "bastard*",
    "prick*",
    "twat*",
    "cunt*",
    "dickhead*",
    "jerk*",
    "pig",
    "pigs",
    "useless idiot*",
    "fuck you",
    "fuck off",
    "screw you",
    "f you",
    "shut up",
    "go to hell",
    "kill you",
    "kill yourself",
    "kys",
    "hope you die",
    "hope u die",
    "i'll find you",
    "watch your back",
    "punch",
];
const STAFF: &[&str] = &[
    "you",
    "u",
    "ur",
    "your",
    "you're",
    "youre",
    "staff",
    "employee*",
    "agent*",
    "rep",
    "reps",
    "representative*",
    "manager*",
    "worker*",
    "driver*",
    "cashier*",
    "waiter*",
    "waitress*",
    "pilot*",
    "crew",
    "attendant*",
    "stewardess*",
    "steward*",
    "guy",
    "girl",
    "lady",
    "woman",
    "man",
    "she",
    "he",
    "her",
    "him",
    "they",
    "operator*",
    "advisor*",
    "adviser*",
    "assistant*",
    "team",
    "person",
    "whoever",
    "someone",
    "technician*",
    "engineer*",
    "courier*",
    "clerk*",
    "associate*",
    "supervisor*",
    "security",
    "guard*",
    "teller*",
    "receptionist*",
    "server",
];
const QUESTION_WORDS: &[&str] = &[
    "how", "what", "when", "where", "why", "who", "which", "can", "could", "would", "will", "is",
    "are", "do", "does", "did", "should", "may", "any", "anyone", "has", "have",
];

#[derive(Debug, Clone)]
enum Tok {
    Exact(Word),
    Prefix(Box<str>),
    Any,
}

impl Tok {
    fn parse(t: &str) -> Tok {
        if t == "_" {
            Tok::Any
        } else if let Some(p) = t.strip_suffix('*') {
            Tok::Prefix(p.into())
        } else {
            Tok::Exact(Word::new(t))
        }
    }

    #[inline(always)]
    fn matches(&self, norm: &Normalized, i: usize) -> bool {
        match self {
            Tok::Exact(w) => w.is_word(norm, i),
            Tok::Prefix(p) => norm.word_bytes(i).starts_with(p.as_bytes()),
            Tok::Any => true,
        }
    }
}

/// A whole word of a phrase.
#[derive(Debug, Clone)]
struct Word {
    text: Box<str>,
    /// the unigram hash normalisation gives the word, so that other words are told apart by
    /// one comparison with the hash the text already has
    hash: u64,
    /// its first eight bytes as [`load_le`] loads them, which confirm a short word without a
    /// call to `memcmp`
    head: u64,
}

impl Word {
    fn new(text: &str) -> Word {
        Word {
            text: text.into(),
            hash: normalized_hashes(text).first().map_or(0, |h| h.unigram),
            head: load_le(text.as_bytes(), 0, text.len()),
        }
    }

    /// Whether word `i` of `norm` is this word.
    #[inline(always)]
    fn is_word(&self, norm: &Normalized, i: usize) -> bool {
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
fn normalized_hashes(text: &str) -> Vec<WordHashes> {
    let mut norm = Normalized::default();
    normalize_into(text, &mut norm);
    norm.hashes
}

/// Whether a phrase list is a signal of its own or an ingredient of the abuse or question rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Signal(SignalKind),
    Insult,
    Staff,
}

/// The phrase lists. Matches at one word are ranked in this order, those of the patterns
/// starting with an exact word before those starting with a prefix. `?`, the other half of
/// the question rule, is found by its filter plane (see [`SignalDetector`]).
const PHRASES: [(Class, &[&str]); 9] = [
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
struct Pattern {
    class: Class,
    /// the order of the pattern's matches at one word: the patterns starting with an exact
    /// word, then those starting with a prefix, each in phrase order
    rank: u16,
    toks: Box<[Tok]>,
}

impl Pattern {
    /// Whether the words from `i + from` on match the tokens from `from` to `to`.
    #[inline(always)]
    fn toks_match(&self, norm: &Normalized, i: usize, from: usize, to: usize) -> bool {
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
    fn match_len(&self, norm: &Normalized, i: usize, known: usize) -> Option<usize> {
        let len = self.toks.len();
        (i + len <= norm.words.len() && self.toks_match(norm, i, known, len)).then_some(len)
    }
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

/// Patterns indexed by their first words, for trying all that may match at a word.
#[derive(Debug, Clone)]
struct Rules {
    /// the planes of the three tables' keys in the detector's [`Filters`]
    planes: Planes,
    /// patterns by their exact first word, under its unigram hash (which the text has already
    /// computed for every word); only those whose second word is not exact
    by_word: Table,
    /// patterns starting with two exact words, under the bigram hash of the two (also already
    /// computed): the commonest words start only such patterns ("i", "my", "for", "no"), and
    /// keyed by one word they cost a look-up and a comparison per pattern at every occurrence
    by_pair: Table,
    /// patterns by the first [`PREFIX_KEY_LEN`] bytes of their first word's prefix
    by_prefix: Table,
}

/// The planes of a [`Rules`]' word, pair and prefix tables; 0 for a table that must be empty.
#[derive(Debug, Clone, Copy)]
struct Planes {
    word: u8,
    pair: u8,
    prefix: u8,
}

impl Rules {
    /// Files `patterns`, which start with an exact word or a long enough prefix, and marks
    /// their keys in `filters`.
    fn new(
        patterns: impl IntoIterator<Item = Pattern>,
        planes: Planes,
        filters: &mut Filters,
    ) -> Rules {
        // per table, (hash, key, run) entries
        let mut by_word: Vec<(u64, u32, Vec<Pattern>)> = Vec::new();
        let (mut by_pair, mut by_prefix) = (Vec::new(), Vec::new());
        for pattern in patterns {
            let (list, hash, key) = match (&pattern.toks[0], pattern.toks.get(1)) {
                (Tok::Exact(a), Some(Tok::Exact(b))) => {
                    let pair = normalized_hashes(&format!("{} {}", a.text, b.text));
                    let hash = pair.get(1).map_or(0, |h| h.bigram);
                    (&mut by_pair, hash, hash as u32)
                }
                (Tok::Exact(w), _) => (&mut by_word, w.hash, w.hash as u32),
                (Tok::Prefix(p), _) => {
                    let (hash, key) = prefix_key(p.as_bytes(), 0);
                    (&mut by_prefix, hash, key)
                }
                (Tok::Any, _) => unreachable!("refused by SignalDetector::new"),
            };
            match list.iter_mut().find(|(_, k, _)| *k == key) {
                Some((_, _, run)) => run.push(pattern),
                None => list.push((hash, key, vec![pattern])),
            }
        }
        for (entries, plane) in [
            (&by_word, planes.word),
            (&by_pair, planes.pair),
            (&by_prefix, planes.prefix),
        ] {
            assert!(
                plane != 0 || entries.is_empty(),
                "patterns for a table with no plane"
            );
            for &(hash, _, _) in entries {
                filters.mark(hash, plane);
            }
        }
        Rules {
            planes,
            by_word: Table::new(by_word),
            by_pair: Table::new(by_pair),
            by_prefix: Table::new(by_prefix),
        }
    }

    /// Calls `found` with the matches of the patterns filed under word `i`'s unigram hash.
    #[inline(always)]
    fn word_matches(&self, norm: &Normalized, i: usize, found: &mut impl FnMut(Match)) {
        if let Some(h) = norm.hashes.get(i) {
            let key = (h.unigram, h.unigram as u32);
            self.by_word.each_match(key, 1, norm, i, found);
        }
    }

    /// Calls `found` with the matches at word `i - 1` of the pair patterns filed under word
    /// `i`'s bigram hash (that of the two words).
    #[inline(always)]
    fn pair_matches(&self, norm: &Normalized, i: usize, found: &mut impl FnMut(Match)) {
        if let (Some(h), true) = (norm.hashes.get(i), i > 0) {
            let key = (h.bigram, h.bigram as u32);
            self.by_pair.each_match(key, 2, norm, i - 1, found);
        }
    }

    /// Calls `found` with the matches of the patterns filed under word `i`'s prefix key.
    #[inline(always)]
    fn prefix_matches(&self, norm: &Normalized, i: usize, found: &mut impl FnMut(Match)) {
        if let Some(&(s, _)) = norm.words.get(i) {
            let key = prefix_key(norm.padded.as_bytes(), s as usize);
            self.by_prefix.each_match(key, 0, norm, i, found);
        }
    }

    /// Calls `found` with the matches at word `i` of the tables whose filter planes are set
    /// in `planes` (what [`SignalDetector::planes_at`] let through for the word).
    #[inline(always)]
    fn planed_matches(
        &self,
        planes: u8,
        norm: &Normalized,
        i: usize,
        found: &mut impl FnMut(Match),
    ) {
        if planes & Filters::SIGNAL_WORD != 0 {
            self.word_matches(norm, i, found);
        }
        if planes & Filters::SIGNAL_PAIR != 0 {
            self.pair_matches(norm, i, found);
        }
        if planes & Filters::SIGNAL_PREFIX != 0 {
            self.prefix_matches(norm, i, found);
        }
    }

    /// Calls `found` with the matches at word `i` of the patterns that do not start with two
    /// exact words (all of them, in rules with no pair patterns).
    #[inline]
    fn single_matches(
        &self,
        filters: &Filters,
        norm: &Normalized,
        i: usize,
        mut found: impl FnMut(Match),
    ) {
        let (Some(h), Some(&(s, _))) = (norm.hashes.get(i), norm.words.get(i)) else {
            return;
        };
        if filters.may_hold(h.unigram, self.planes.word) {
            self.word_matches(norm, i, &mut found);
        }
        // rules with no prefix patterns load and hash no key
        if self.planes.prefix != 0
            && filters.may_hold(
                prefix_key(norm.padded.as_bytes(), s as usize).0,
                self.planes.prefix,
            )
        {
            self.prefix_matches(norm, i, &mut found);
        }
    }

    /// Whether a one-word pattern matches word `i`, in rules with no pair patterns.
    fn matches_word(&self, filters: &Filters, norm: &Normalized, i: usize) -> bool {
        let mut hit = false;
        self.single_matches(filters, norm, i, |_| hit = true);
        hit
    }
}

/// A pattern matching at a word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Match {
    /// the word it starts at
    start: usize,
    /// one past the word it ends at
    end: usize,
    rank: u16,
    class: Class,
}

/// The filters of the detector's tables, sets of hashes that may answer "no" for sure: a
/// byte per value of a hash's top [`FILTER_BITS`] bits, in which a bit per table (its plane)
/// is set for the hashes of its keys. Most words start no pattern, and stop at the filters.
/// One array for all tables: it takes the cache that one would.
#[derive(Debug, Clone)]
struct Filters(Box<[u8; 1 << FILTER_BITS]>);

/// With at most [`MAX_KEYS`] hashes a plane, under 2% of its bits are set: few words get past
/// in vain. A byte per value: a test takes one load, an AND and no shifts.
const FILTER_BITS: u32 = 14;

impl Filters {
    /// The planes of the signal tables.
    const SIGNAL_WORD: u8 = 1;
    const SIGNAL_PAIR: u8 = 2;
    const SIGNAL_PREFIX: u8 = 4;
    /// The plane of the unigram hashes of `?` and `!` (see [`SignalDetector::PUNCTUATION`]).
    const PUNCTUATION: u8 = 8;
    /// The plane of the question words.
    const QUESTION_WORD: u8 = 16;
    /// The planes of the staff words and of the staff prefixes.
    const STAFF_WORD: u8 = 32;
    const STAFF_PREFIX: u8 = 64;

    fn new() -> Filters {
        Filters(Box::new([0; 1 << FILTER_BITS]))
    }

    /// Sets `plane`'s bit for `hash`.
    fn mark(&mut self, hash: u64, plane: u8) {
        self.0[(hash >> (64 - FILTER_BITS)) as usize] |= plane;
    }

    /// The bits set for `hash`, and for any other hash with the same top bits.
    #[inline(always)]
    fn marks(&self, hash: u64) -> u8 {
        self.0[(hash >> (64 - FILTER_BITS)) as usize]
    }

    /// Whether `hash` may be set in `plane`: if not, it is not (never in plane 0).
    #[inline(always)]
    fn may_hold(&self, hash: u64, plane: u8) -> bool {
        self.marks(hash) & plane != 0
    }
}

/// A flat open-addressing table (linear probing) from a 32-bit key to a run of patterns. Its
/// sizes are constants so that the probes index with shifts of constants and no bounds checks.
#[derive(Debug, Clone)]
struct Table {
    /// a key's slot is its hash's top [`SLOT_BITS`] bits, or the next free one
    slots: Box<[Slot; 1 << SLOT_BITS]>,
    /// the runs, each in pattern order
    patterns: Vec<Pattern>,
}

/// Room for [`MAX_KEYS`] keys, a quarter full, so that a hit rarely probes a second slot.
const SLOT_BITS: u32 = 10;
const MAX_KEYS: usize = 1 << (SLOT_BITS - 2);

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    key: u32,
    start: u16,
    end: u16,
}

impl Table {
    /// A table of `(hash, key, run)` entries, keys distinct, runs not empty.
    fn new(entries: Vec<(u64, u32, Vec<Pattern>)>) -> Table {
        assert!(entries.len() <= MAX_KEYS, "{} table keys", entries.len());
        let mut slots = Box::new([Slot::default(); 1 << SLOT_BITS]);
        let mut patterns = Vec::new();
        // last first: the lists end with the commonest words, which so take their first slot
        // and cost one probe
        for (hash, key, run) in entries.into_iter().rev() {
            let mut at = (hash >> (64 - SLOT_BITS)) as usize;
            // an empty slot has an empty run
            while slots[at].start != slots[at].end {
                assert_ne!(slots[at].key, key, "table keys must be distinct");
                at = (at + 1) % slots.len();
            }
            let start = patterns.len() as u16;
            patterns.extend(run);
            slots[at] = Slot {
                key,
                start,
                end: patterns.len() as u16,
            };
        }
        Table { slots, patterns }
    }

    /// The patterns filed under `key` (empty if none); the table's filter turns most keys
    /// away more cheaply.
    #[inline(always)]
    fn get(&self, hash: u64, key: u32) -> &[Pattern] {
        let mut at = (hash >> (64 - SLOT_BITS)) as usize;
        loop {
            let slot = self.slots[at];
            // an empty slot ends the probe with its empty run
            if slot.key == key || slot.start == slot.end {
                return self
                    .patterns
                    .get(usize::from(slot.start)..usize::from(slot.end))
                    .unwrap_or(&[]);
            }
            at = (at + 1) % self.slots.len();
        }
    }

    /// Calls `found` with the matches at word `i` of the patterns filed under `key`, which
    /// share their first `shared` words.
    #[inline(always)]
    fn each_match(
        &self,
        (hash, key): (u64, u32),
        shared: usize,
        norm: &Normalized,
        i: usize,
        found: &mut impl FnMut(Match),
    ) {
        let run = self.get(hash, key);
        // compared once for the run
        if !run
            .first()
            .is_some_and(|p| p.toks_match(norm, i, 0, shared))
        {
            return;
        }
        for p in run {
            if let Some(len) = p.match_len(norm, i, shared) {
                found(Match {
                    start: i,
                    end: i + len,
                    rank: p.rank,
                    class: p.class,
                });
            }
        }
    }
}

/// The [`PREFIX_KEY_LEN`] bytes at `at` in `padded`, where a word starts (with what follows a
/// shorter word, or 0 at the very end: either way no prefix's key, as prefixes are as long),
/// and the hash that places them in a prefix table.
#[inline]
fn prefix_key(padded: &[u8], at: usize) -> (u64, u32) {
    let key = padded
        .get(at..at + PREFIX_KEY_LEN)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u32::from_le_bytes);
    (prefix_hash(key), key)
}

/// The hash of a prefix key, whose top bits place it in the prefix tables.
#[inline(always)]
fn prefix_hash(key: u32) -> u64 {
    u64::from(key).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// Prefix patterns are filed by this many leading bytes, so their prefixes must be as long:
/// the shortest are four bytes ("burn*", "jerk*"), and three would let common words ("can",
/// "com") through to the patterns of longer prefixes ("cancel*", "compensat*").
const PREFIX_KEY_LEN: usize = size_of::<u32>();

/// The first match of a kind so far: the least by (start word, rank).
#[derive(Debug, Clone, Copy)]
struct First {
    start: usize,
    rank: u16,
    /// the words of the evidence
    span: (usize, usize),
}

/// What the visits to a text's words have found so far.
#[derive(Debug, Default)]
struct Found {
    kinds: [Option<First>; 8],
    /// the first `?`
    first_q: Option<usize>,
    /// the first question word that opens a question, if before the first `?`
    question_start: Option<usize>,
}

impl Found {
    /// Keeps the match at `start` of rank `rank` for `kind` if it comes first.
    #[inline]
    fn offer(&mut self, kind: SignalKind, start: usize, rank: u16, span: (usize, usize)) {
        let slot = &mut self.kinds[kind as usize];
        if slot.is_none_or(|f| (start, rank) < (f.start, f.rank)) {
            *slot = Some(First { start, rank, span });
        }
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

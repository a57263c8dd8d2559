//! Named signals with the evidence that fired them.
//!
//! Phrase rules over the normalised words (lowercase, digits folded to `0`, @handles to
//! `@user`). A pattern is a word sequence; `word*` matches any word starting with `word`,
//! `_` matches any one word. Patterns are indexed by the first three bytes and the length of
//! the words they can start at, so detection costs one map look-up per word and few
//! comparisons.

use serde::Serialize;

use crate::features::Normalized;
use crate::hash::FxHashMap;

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

/// A fired signal and the words that fired it.
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
    "burn*",
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
    "last time i",
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
    "0 days",
    "0 weeks",
    "0 months",
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
    "glitch*",
    "bug",
    "buggy",
    "broken",
];
const BILLING: &[&str] = &[
    "refund*",
    "charg*",
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
    "price*",
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
    Exact(Box<str>),
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
            Tok::Exact(t.into())
        }
    }

    fn matches(&self, word: &[u8]) -> bool {
        match self {
            Tok::Exact(e) => e.as_bytes() == word,
            Tok::Prefix(p) => word.starts_with(p.as_bytes()),
            Tok::Any => true,
        }
    }
}

/// Whether a phrase list is a signal of its own or an ingredient of the abuse rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Signal(SignalKind),
    Insult,
    Staff,
}

#[derive(Debug, Clone)]
struct Pattern {
    class: Class,
    toks: Vec<Tok>,
}

/// Compiled phrase rules of all signals.
#[derive(Debug, Clone)]
pub struct SignalDetector {
    patterns: Vec<Pattern>,
    /// candidate patterns by [`word_key`] of the word they can start at: their exact first
    /// word, or (prefixes of three bytes or more) any word as long or longer that shares the
    /// prefix's first three bytes; a range of `candidates`
    by_key: FxHashMap<u32, (u32, u32)>,
    /// per key, the patterns with an exact first word, then those with a prefix, each in
    /// pattern order (the order in which matches are reported)
    candidates: Vec<u16>,
    /// prefixes shorter than three bytes, and patterns starting with `_` (checked everywhere)
    unindexed: Vec<u16>,
}

impl Default for SignalDetector {
    fn default() -> Self {
        Self::new()
    }
}

/// The first three bytes of `word` (all of them if shorter) and its length (capped at
/// [`KEY_MAX_LEN`]), packed in an integer: the map key of the patterns that can start at it.
#[inline]
fn word_key(word: &[u8]) -> u32 {
    let len = word.len().min(KEY_MAX_LEN) as u8;
    match *word {
        [a, b, c, ..] => u32::from_le_bytes([a, b, c, len]),
        [a, b] => u32::from_le_bytes([a, b, 0, len]),
        [a] => u32::from_le_bytes([a, 0, 0, len]),
        [] => 0,
    }
}

/// Word lengths at or above this share one key; a prefix pattern is filed under every length
/// from its prefix's up to this one.
const KEY_MAX_LEN: usize = 32;

impl SignalDetector {
    pub fn new() -> SignalDetector {
        let lists_of_phrases: [(Class, &[&str]); 9] = [
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
        let mut patterns = Vec::new();
        let mut unindexed = Vec::new();
        // per key: (exact-first-word ids, prefix ids)
        let mut lists: FxHashMap<u32, (Vec<u16>, Vec<u16>)> = FxHashMap::default();
        for (class, phrases) in lists_of_phrases {
            for phrase in phrases {
                let toks: Vec<Tok> = phrase.split(' ').map(Tok::parse).collect();
                let id = patterns.len() as u16;
                match &toks[0] {
                    Tok::Exact(w) => lists.entry(word_key(w.as_bytes())).or_default().0.push(id),
                    Tok::Prefix(p) if p.len() >= 3 => {
                        // under the key of every word length the prefix can start
                        let mut word = p.as_bytes().to_vec();
                        while word.len() <= KEY_MAX_LEN {
                            lists.entry(word_key(&word)).or_default().1.push(id);
                            word.push(b'_');
                        }
                    }
                    Tok::Prefix(_) | Tok::Any => unindexed.push(id),
                }
                patterns.push(Pattern { class, toks });
            }
        }
        let mut by_key = FxHashMap::default();
        let mut candidates = Vec::new();
        for (key, (exact, prefix)) in lists {
            let start = candidates.len() as u32;
            candidates.extend(exact.iter().chain(&prefix));
            by_key.insert(key, (start, candidates.len() as u32));
        }
        SignalDetector {
            patterns,
            by_key,
            candidates,
            unindexed,
        }
    }

    fn match_at(&self, id: u16, norm: &Normalized, i: usize) -> Option<usize> {
        let p = &self.patterns[id as usize];
        if i + p.toks.len() > norm.words.len() {
            return None;
        }
        p.toks
            .iter()
            .enumerate()
            .all(|(j, t)| t.matches(norm.word_bytes(i + j)))
            .then_some(p.toks.len())
    }

    /// Detects the signals of a normalised text; at most one signal per kind (its first
    /// evidence), in `SignalKind` order.
    pub fn detect(&self, norm: &Normalized) -> Vec<Signal> {
        self.detect_with(norm, &mut DetectScratch::default())
    }

    /// [`SignalDetector::detect`] with caller-owned scratch buffers.
    pub(crate) fn detect_with(
        &self,
        norm: &Normalized,
        scratch: &mut DetectScratch,
    ) -> Vec<Signal> {
        let n_words = norm.words.len();
        let word = |i: usize| norm.word_bytes(i);
        let mut found: [Option<(usize, usize)>; 8] = [None; 8];
        let DetectScratch { insults, staff } = scratch;
        insults.clear();
        staff.clear();
        let mut question_start: Option<usize> = None;
        // index of the first word that is not an @handle (n_words if none)
        let mut first_plain = n_words;
        let mut first_q = None;
        for i in 0..n_words {
            let w = word(i);
            if first_plain == n_words && !w.starts_with(b"@") {
                first_plain = i;
            }
            if first_q.is_none() && w == b"?" {
                first_q = Some(i);
            }
            // one look-up finds the patterns whose first word is `w` and those whose prefix
            // shares its first three bytes (match_at checks the whole word or prefix); the
            // exact ones come first, as they did with one map for each
            let cands = self
                .by_key
                .get(&word_key(w))
                .and_then(|&(s, e)| self.candidates.get(s as usize..e as usize))
                .unwrap_or(&[]);
            for &id in cands.iter().chain(&self.unindexed) {
                let Some(len) = self.match_at(id, norm, i) else {
                    continue;
                };
                match self.patterns[id as usize].class {
                    Class::Signal(SignalKind::Question) => {
                        // a question word opens a question only at the start of the text or a clause
                        let at_start =
                            first_plain >= i || (i > 0 && matches!(word(i - 1), b"?" | b"!"));
                        if at_start && question_start.is_none() {
                            question_start = Some(i);
                        }
                    }
                    Class::Signal(kind) => {
                        let slot = &mut found[kind as usize];
                        if slot.is_none() {
                            *slot = Some((i, i + len));
                        }
                    }
                    Class::Insult => insults.push((i, i + len)),
                    Class::Staff => staff.push(i),
                }
            }
        }
        // abuse at staff: an insult or threat within three words of a person it is aimed at
        let aimed = |p: usize, s: usize, e: usize| p + 3 >= s && p < e + 3;
        if let Some(&(s, e)) = insults
            .iter()
            .find(|&&(s, e)| staff.iter().any(|&p| aimed(p, s, e)))
        {
            let p = staff
                .iter()
                .copied()
                .filter(|&p| aimed(p, s, e))
                .min_by_key(|&p| p.abs_diff(s))
                .unwrap_or(s);
            found[SignalKind::AbuseAtStaff as usize] = Some((p.min(s), (p + 1).max(e)));
        }
        // question: a '?' (evidence: up to six words before it) or a leading question word
        if let Some(q) = first_q {
            let start = question_start
                .filter(|&s| s < q)
                .unwrap_or(q.saturating_sub(6));
            let start = (start..q)
                .find(|&j| !word(j).starts_with(b"@"))
                .unwrap_or(q);
            found[SignalKind::Question as usize] = Some((start, q + 1));
        } else if let Some(s) = question_start {
            found[SignalKind::Question as usize] = Some((s, (s + 6).min(n_words)));
        }
        let mut out = Vec::with_capacity(found.iter().flatten().count());
        for kind in SignalKind::ALL {
            if let Some((s, e)) = found[kind as usize] {
                out.push(Signal {
                    kind,
                    evidence: evidence(norm, s, e),
                });
            }
        }
        out
    }
}

/// The words `s..e` joined by single spaces (`words[s..e].join(" ")`).
fn evidence(norm: &Normalized, s: usize, e: usize) -> String {
    let len = (s..e).map(|j| norm.word(j).len() + 1).sum::<usize>();
    let mut out = String::with_capacity(len.saturating_sub(1));
    for j in s..e {
        if j > s {
            out.push(' ');
        }
        out.push_str(norm.word(j));
    }
    out
}

/// Reusable buffers of [`SignalDetector::detect_with`].
#[derive(Debug, Default)]
pub(crate) struct DetectScratch {
    insults: Vec<(usize, usize)>,
    staff: Vec<usize>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::normalize_into;

    fn kinds(text: &str) -> Vec<(SignalKind, String)> {
        let mut n = Normalized::default();
        normalize_into(text, &mut n);
        SignalDetector::new()
            .detect(&n)
            .into_iter()
            .map(|s| (s.kind, s.evidence))
            .collect()
    }

    fn fires(text: &str, kind: SignalKind) -> Option<String> {
        kinds(text)
            .into_iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, e)| e)
    }

    #[test]
    fn legal_threat_fires_on_lawyer_mention() {
        assert_eq!(
            fires(
                "@Acme my lawyer will hear about this",
                SignalKind::LegalThreat
            )
            .as_deref(),
            Some("lawyer")
        );
        assert_eq!(
            fires("see you in court @Acme", SignalKind::LegalThreat).as_deref(),
            Some("see you in court")
        );
    }

    #[test]
    fn legal_threat_ignores_ordinary_words() {
        assert_eq!(
            fires(
                "loving the new legal drama on your channel",
                SignalKind::LegalThreat
            ),
            None
        );
        assert_eq!(
            fires("the tennis court was lovely", SignalKind::LegalThreat),
            None
        );
    }

    #[test]
    fn safety_risk_fires_on_fire_and_injury() {
        assert_eq!(
            fires("my charger caught fire last night", SignalKind::SafetyRisk).as_deref(),
            Some("caught fire")
        );
        assert_eq!(
            fires("my son was injured by the toy", SignalKind::SafetyRisk).as_deref(),
            Some("injured")
        );
    }

    #[test]
    fn safety_risk_ignores_enthusiasm() {
        assert_eq!(
            fires("this new album is fire", SignalKind::SafetyRisk),
            None
        );
        assert_eq!(fires("great trip, thanks!", SignalKind::SafetyRisk), None);
    }

    #[test]
    fn churn_intent_fires_on_cancel_and_switch() {
        assert_eq!(
            fires("I want to cancel my subscription", SignalKind::ChurnIntent).as_deref(),
            Some("cancel my")
        );
        assert_eq!(
            fires(
                "I'm cancelling and going elsewhere",
                SignalKind::ChurnIntent
            )
            .as_deref(),
            Some("i'm cancelling")
        );
        assert_eq!(
            fires("switching to verizon tomorrow", SignalKind::ChurnIntent).as_deref(),
            Some("switching to")
        );
    }

    #[test]
    fn a_cancelled_flight_is_not_churn() {
        assert_eq!(
            fires("my flight was cancelled again", SignalKind::ChurnIntent),
            None
        );
        assert_eq!(
            fires(
                "they cancelled the show last minute",
                SignalKind::ChurnIntent
            ),
            None
        );
    }

    #[test]
    fn churn_intent_ignores_loyal_customers() {
        assert_eq!(
            fires(
                "been with you ten years and love it",
                SignalKind::ChurnIntent
            ),
            None
        );
    }

    #[test]
    fn repeated_contact_fires_on_third_time_asking() {
        assert_eq!(
            fires(
                "third time I'm asking for help",
                SignalKind::RepeatedContact
            )
            .as_deref(),
            Some("third time")
        );
        assert_eq!(
            fires("I've called 5 times today", SignalKind::RepeatedContact).as_deref(),
            Some("0 times")
        );
        assert_eq!(
            fires("still waiting on my parcel", SignalKind::RepeatedContact).as_deref(),
            Some("still waiting")
        );
    }

    #[test]
    fn repeated_contact_ignores_first_contact() {
        assert_eq!(
            fires(
                "hi, first time ordering from you, where is the size guide",
                SignalKind::RepeatedContact
            ),
            None
        );
        assert_eq!(
            fires("thanks again for the help", SignalKind::RepeatedContact),
            None
        );
    }

    #[test]
    fn outage_fires_when_service_is_down() {
        assert_eq!(
            fires("is your website down? it won't load", SignalKind::Outage).as_deref(),
            Some("website down")
        );
        assert_eq!(
            fires("app keeps crashing since the update", SignalKind::Outage).as_deref(),
            Some("crashing")
        );
    }

    #[test]
    fn outage_ignores_working_service() {
        assert_eq!(
            fires("the app works great now, thanks", SignalKind::Outage),
            None
        );
        assert_eq!(
            fires("I'm so down for the new season", SignalKind::Outage),
            None
        );
    }

    #[test]
    fn billing_fires_on_refund_and_charges() {
        assert_eq!(
            fires("where is my refund?", SignalKind::Billing).as_deref(),
            Some("refund")
        );
        assert_eq!(
            fires("you double charged my card", SignalKind::Billing).as_deref(),
            Some("charged")
        );
    }

    #[test]
    fn billing_ignores_unrelated_text() {
        assert_eq!(
            fires("what time does the store open", SignalKind::Billing),
            None
        );
    }

    #[test]
    fn question_fires_on_question_mark_and_leading_question_word() {
        assert_eq!(
            fires("@Acme what time do you open?", SignalKind::Question).as_deref(),
            Some("what time do you open ?")
        );
        assert!(fires("how do I reset my password", SignalKind::Question).is_some());
    }

    #[test]
    fn question_ignores_statements() {
        assert_eq!(fires("my order arrived broken", SignalKind::Question), None);
        assert_eq!(fires("I know how it works", SignalKind::Question), None);
    }

    #[test]
    fn abuse_at_staff_fires_on_insult_aimed_at_a_person() {
        assert_eq!(
            fires("your driver is an idiot", SignalKind::AbuseAtStaff).as_deref(),
            Some("driver is an idiot")
        );
        assert_eq!(
            fires("fuck you @Acme", SignalKind::AbuseAtStaff).as_deref(),
            Some("fuck you")
        );
    }

    #[test]
    fn abuse_at_staff_ignores_insults_about_things() {
        assert_eq!(
            fires("this update is stupid and slow", SignalKind::AbuseAtStaff),
            None
        );
        assert_eq!(
            fires(
                "I felt so dumb for missing the sale",
                SignalKind::AbuseAtStaff
            ),
            None
        );
    }
}

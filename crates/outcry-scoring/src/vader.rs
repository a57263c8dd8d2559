//! VADER sentiment (Hutto and Gilbert, ICWSM 2014), reimplemented from the published rules.
//!
//! The lexicons are the ones the authors publish with the `vaderSentiment` package
//! (`data/vader_lexicon.txt`, `data/emoji_utf8_lexicon.txt`, MIT). The rules follow the
//! reference implementation's observable behaviour, including its quirks, because the
//! scores are checked against it (see `tests/vader_reference.rs`):
//!
//! - tokens are whitespace-separated; leading/trailing ASCII punctuation is stripped unless
//!   that leaves two characters or fewer (so emoticons like `:)` survive);
//! - emoji are replaced by their textual description before tokenising;
//! - boosters and dampeners up to three words before a lexicon word scale it (0.293, damped
//!   by 0.95 and 0.9 with distance), ALL-CAPS words in mixed-case text add 0.733;
//! - negations up to three words before flip and shrink it (x -0.74), with the exceptions
//!   "never so/this" (x 1.25) and "without doubt";
//! - "no" as a determiner, "least", "kind of", special idioms ("the shit", "kiss of death");
//! - "but": words before it count half, words after it 1.5 times;
//! - up to four "!" add 0.292 each, two or more "?" add 0.18 each (capped at 0.96);
//! - compound = sum / sqrt(sum^2 + 15).

use std::borrow::Cow;
use std::sync::OnceLock;

use serde::Serialize;

use crate::hash::FxHashMap;
use crate::ScoringError;

const B_INCR: f64 = 0.293;
const B_DECR: f64 = -0.293;
const C_INCR: f64 = 0.733;
const N_SCALAR: f64 = -0.74;
const ALPHA: f64 = 15.0;

/// The embedded lexicon files (see `data/README.md` for their source and license).
pub const VADER_LEXICON: &str = include_str!("../data/vader_lexicon.txt");
pub const EMOJI_LEXICON: &str = include_str!("../data/emoji_utf8_lexicon.txt");

/// VADER's four scores, rounded as the reference rounds them (compound to 4 places,
/// the proportions to 3).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Sentiment {
    pub compound: f64,
    pub pos: f64,
    pub neu: f64,
    pub neg: f64,
}

/// Lexicons loaded once; scoring takes `&self` and allocates only small scratch buffers.
#[derive(Debug, Clone)]
pub struct SentimentAnalyzer {
    /// lexicon valence and booster value of each word in either list (one look-up per token)
    words: FxHashMap<Box<str>, WordInfo>,
    lexicon_len: usize,
    emoji: FxHashMap<char, Box<str>>,
    /// true when some emoji key is ASCII, which disables the ASCII fast path
    ascii_emoji: bool,
}

/// Scores `text` with the embedded lexicons.
pub fn polarity_scores(text: &str) -> Sentiment {
    SentimentAnalyzer::embedded().polarity_scores(text)
}

#[derive(Debug, Clone, Copy, Default)]
struct WordInfo {
    lex: Option<f64>,
    booster: Option<f64>,
}

/// Per-thread buffers of [`SentimentAnalyzer::polarity_scores`].
#[derive(Default)]
struct Scratch {
    lower_buf: String,
    toks: Vec<Token>,
    sentiments: Vec<f64>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

struct Token {
    lower: (usize, usize),
    upper: bool,
    lex: Option<f64>,
    booster: Option<f64>,
}

impl SentimentAnalyzer {
    /// The analyzer over the embedded lexicons, parsed once per process.
    pub fn embedded() -> &'static SentimentAnalyzer {
        static EMBEDDED: OnceLock<SentimentAnalyzer> = OnceLock::new();
        EMBEDDED.get_or_init(|| {
            // the embedded files are fixed at compile time and covered by tests
            SentimentAnalyzer::from_lexicons(VADER_LEXICON, EMOJI_LEXICON)
                .unwrap_or_else(|_| SentimentAnalyzer::empty())
        })
    }

    fn empty() -> SentimentAnalyzer {
        SentimentAnalyzer {
            words: FxHashMap::default(),
            lexicon_len: 0,
            emoji: FxHashMap::default(),
            ascii_emoji: false,
        }
    }

    /// Parses the two lexicon files (`word\tmean\t...` and `emoji\tdescription`).
    pub fn from_lexicons(lexicon: &str, emoji: &str) -> Result<SentimentAnalyzer, ScoringError> {
        let mut lex = FxHashMap::default();
        for (n, line) in lexicon.trim_end_matches('\n').split('\n').enumerate() {
            if line.is_empty() {
                continue;
            }
            let mut cols = line.trim().split('\t');
            let (Some(word), Some(measure)) = (cols.next(), cols.next()) else {
                return Err(ScoringError::Lexicon(format!(
                    "line {}: expected word and mean",
                    n + 1
                )));
            };
            let value: f64 = measure.trim().parse().map_err(|_| {
                ScoringError::Lexicon(format!("line {}: bad mean {measure:?}", n + 1))
            })?;
            lex.insert(Box::from(word), value);
        }
        let mut emo = FxHashMap::default();
        for line in emoji.trim_end_matches('\n').split('\n') {
            let mut cols = line.trim().split('\t');
            let (Some(key), Some(desc)) = (cols.next(), cols.next()) else {
                continue;
            };
            let mut chars = key.chars();
            // the reference replaces character by character, so only one-character keys can match
            if let (Some(c), None) = (chars.next(), chars.next()) {
                emo.insert(c, Box::from(desc));
            }
        }
        let ascii_emoji = emo.keys().any(char::is_ascii);
        let lexicon_len = lex.len();
        let mut words: FxHashMap<Box<str>, WordInfo> = lex
            .into_iter()
            .map(|(w, v)| {
                let info = WordInfo {
                    lex: Some(v),
                    booster: booster(&w),
                };
                (w, info)
            })
            .collect();
        for &w in BOOSTER_INCR.iter().chain(BOOSTER_DECR) {
            words.entry(Box::from(w)).or_default().booster = booster(w);
        }
        Ok(SentimentAnalyzer {
            words,
            lexicon_len,
            emoji: emo,
            ascii_emoji,
        })
    }

    /// Number of entries in the word lexicon.
    pub fn lexicon_len(&self) -> usize {
        self.lexicon_len
    }

    /// Valence of a lowercase word in the lexicon, if present.
    pub fn word_valence(&self, lower: &str) -> Option<f64> {
        self.words.get(lower).and_then(|i| i.lex)
    }

    fn replace_emoji<'t>(&self, text: &'t str) -> Cow<'t, str> {
        // without ASCII keys only non-ASCII characters can be emoji
        let may_be_emoji =
            |c: char| (self.ascii_emoji || !c.is_ascii()) && self.emoji.contains_key(&c);
        if (text.is_ascii() && !self.ascii_emoji) || !text.chars().any(may_be_emoji) {
            return Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len() + 32);
        let mut prev_space = true;
        for c in text.chars() {
            if let Some(desc) = (self.ascii_emoji || !c.is_ascii())
                .then(|| self.emoji.get(&c))
                .flatten()
            {
                if !prev_space {
                    out.push(' ');
                }
                out.push_str(desc);
                prev_space = false;
            } else {
                out.push(c);
                prev_space = c == ' ';
            }
        }
        Cow::Owned(out)
    }

    /// VADER's compound, pos, neu and neg for `text`.
    pub fn polarity_scores(&self, text: &str) -> Sentiment {
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut scratch) => self.polarity_scores_with(text, &mut scratch),
            Err(_) => self.polarity_scores_with(text, &mut Scratch::default()),
        })
    }

    fn polarity_scores_with(&self, text: &str, scratch: &mut Scratch) -> Sentiment {
        let replaced = self.replace_emoji(text);
        let text = replaced.trim_matches(is_py_space);

        let Scratch {
            lower_buf,
            toks,
            sentiments,
        } = scratch;
        lower_buf.clear();
        toks.clear();
        sentiments.clear();
        for raw in crate::features::py_words(text) {
            let word = strip_punct_if_word(raw);
            let start = lower_buf.len();
            push_lower(lower_buf, word);
            let end = lower_buf.len();
            let lw = &lower_buf[start..end];
            let info = self.words.get(lw).copied().unwrap_or_default();
            toks.push(Token {
                lower: (start, end),
                upper: py_isupper(word),
                lex: info.lex,
                booster: info.booster,
            });
        }
        if toks.is_empty() {
            return Sentiment::default();
        }
        let n = toks.len();
        let upper_count = toks.iter().filter(|t| t.upper).count();
        let cap_diff = upper_count > 0 && upper_count < n;
        let ctx = Ctx {
            toks,
            buf: lower_buf,
            cap_diff,
        };

        for (i, tok) in toks.iter().enumerate() {
            if tok.booster.is_some()
                || (i + 1 < n && ctx.lower(i) == "kind" && ctx.lower(i + 1) == "of")
            {
                sentiments.push(0.0);
                continue;
            }
            sentiments.push(ctx.valence(i));
        }
        ctx.but_check(sentiments);
        score_valence(sentiments, text)
    }
}

struct Ctx<'c> {
    toks: &'c [Token],
    buf: &'c str,
    cap_diff: bool,
}

impl Ctx<'_> {
    #[inline]
    fn lower(&self, i: usize) -> &str {
        let (s, e) = self.toks[i].lower;
        &self.buf[s..e]
    }

    fn valence(&self, i: usize) -> f64 {
        let n = self.toks.len();
        let tok = &self.toks[i];
        let Some(base) = tok.lex else {
            return 0.0;
        };
        let mut v = base;
        // "no" directly before a lexicon word negates that word instead of counting itself
        if self.lower(i) == "no" && i + 1 < n && self.toks[i + 1].lex.is_some() {
            v = 0.0;
        }
        if (i > 0 && self.lower(i - 1) == "no")
            || (i > 1 && self.lower(i - 2) == "no")
            || (i > 2 && self.lower(i - 3) == "no" && matches!(self.lower(i - 1), "or" | "nor"))
        {
            v = base * N_SCALAR;
        }
        if tok.upper && self.cap_diff {
            if v > 0.0 {
                v += C_INCR;
            } else {
                v -= C_INCR;
            }
        }
        for start_i in 0..3 {
            if i > start_i && self.toks[i - start_i - 1].lex.is_none() {
                let mut s = self.scalar_inc_dec(i - start_i - 1, v);
                if start_i == 1 && s != 0.0 {
                    s *= 0.95;
                }
                if start_i == 2 && s != 0.0 {
                    s *= 0.9;
                }
                v += s;
                v = self.negation_check(v, start_i, i);
                if start_i == 2 {
                    v = self.special_idioms(v, i);
                }
            }
        }
        self.least_check(v, i)
    }

    fn scalar_inc_dec(&self, j: usize, valence: f64) -> f64 {
        let tok = &self.toks[j];
        let Some(b) = tok.booster else {
            return 0.0;
        };
        let mut s = if valence < 0.0 { -b } else { b };
        if tok.upper && self.cap_diff {
            if valence > 0.0 {
                s += C_INCR;
            } else {
                s -= C_INCR;
            }
        }
        s
    }

    fn negation_check(&self, v: f64, start_i: usize, i: usize) -> f64 {
        let so_this = |w: &str| w == "so" || w == "this";
        match start_i {
            0 => {
                if negated(self.lower(i - 1)) {
                    return v * N_SCALAR;
                }
            }
            1 => {
                if self.lower(i - 2) == "never" && so_this(self.lower(i - 1)) {
                    return v * 1.25;
                } else if self.lower(i - 2) == "without" && self.lower(i - 1) == "doubt" {
                    return v;
                } else if negated(self.lower(i - 2)) {
                    return v * N_SCALAR;
                }
            }
            _ => {
                if (self.lower(i - 3) == "never" && so_this(self.lower(i - 2)))
                    || so_this(self.lower(i - 1))
                {
                    return v * 1.25;
                } else if self.lower(i - 3) == "without"
                    && (self.lower(i - 2) == "doubt" || self.lower(i - 1) == "doubt")
                {
                    return v;
                } else if negated(self.lower(i - 3)) {
                    return v * N_SCALAR;
                }
            }
        }
        v
    }

    /// only called with i >= 3
    fn special_idioms(&self, mut v: f64, i: usize) -> f64 {
        let n = self.toks.len();
        let (w3, w2, w1, w0) = (
            self.lower(i - 3),
            self.lower(i - 2),
            self.lower(i - 1),
            self.lower(i),
        );
        let seqs: [&[&str]; 5] = [
            &[w1, w0],
            &[w2, w1, w0],
            &[w2, w1],
            &[w3, w2, w1],
            &[w3, w2],
        ];
        for seq in seqs {
            if let Some(s) = special_case(seq) {
                v = s;
                break;
            }
        }
        if n - 1 > i {
            if let Some(s) = special_case(&[w0, self.lower(i + 1)]) {
                v = s;
            }
        }
        if n - 1 > i + 1 {
            if let Some(s) = special_case(&[w0, self.lower(i + 1), self.lower(i + 2)]) {
                v = s;
            }
        }
        // multi-word dampeners ("kind of", "sort of", "just enough") before the word
        for (a, b) in [(w3, w2), (w2, w1)] {
            if let Some(bv) = booster_phrase(a, b) {
                v += bv;
            }
        }
        v
    }

    fn least_check(&self, v: f64, i: usize) -> f64 {
        if i > 0 && self.toks[i - 1].lex.is_none() && self.lower(i - 1) == "least" {
            if i > 1 {
                let w = self.lower(i - 2);
                if w != "at" && w != "very" {
                    return v * N_SCALAR;
                }
                return v;
            }
            return v * N_SCALAR;
        }
        v
    }

    /// The reference rescales each value found at its *first* equal position, so repeated
    /// values are rescaled in place repeatedly; reproduced as is to agree with it.
    fn but_check(&self, sentiments: &mut [f64]) {
        let Some(bi) = (0..self.toks.len()).find(|&i| self.lower(i) == "but") else {
            return;
        };
        for k in 0..sentiments.len() {
            let value = sentiments[k];
            let Some(si) = sentiments.iter().position(|&x| x == value) else {
                continue;
            };
            if si < bi {
                sentiments[si] = value * 0.5;
            } else if si > bi {
                sentiments[si] = value * 1.5;
            }
        }
    }
}

fn score_valence(sentiments: &[f64], text: &str) -> Sentiment {
    let mut sum: f64 = 0.0;
    for &s in sentiments {
        sum += s;
    }
    let punct = punctuation_emphasis(text);
    if sum > 0.0 {
        sum += punct;
    } else if sum < 0.0 {
        sum -= punct;
    }
    let compound = normalize(sum);

    let (mut pos_sum, mut neg_sum, mut neu_count) = (0.0f64, 0.0f64, 0u32);
    for &s in sentiments {
        if s > 0.0 {
            pos_sum += s + 1.0;
        }
        if s < 0.0 {
            neg_sum += s - 1.0;
        }
        if s == 0.0 {
            neu_count += 1;
        }
    }
    if pos_sum > neg_sum.abs() {
        pos_sum += punct;
    } else if pos_sum < neg_sum.abs() {
        neg_sum -= punct;
    }
    let total = pos_sum + neg_sum.abs() + f64::from(neu_count);
    if total == 0.0 {
        return Sentiment {
            compound: round_places(compound, 4),
            ..Sentiment::default()
        };
    }
    Sentiment {
        compound: round_places(compound, 4),
        pos: round_places((pos_sum / total).abs(), 3),
        neu: round_places((f64::from(neu_count) / total).abs(), 3),
        neg: round_places((neg_sum / total).abs(), 3),
    }
}

fn punctuation_emphasis(text: &str) -> f64 {
    let (mut ep, mut qm) = (0usize, 0usize);
    for b in text.bytes() {
        match b {
            b'!' => ep += 1,
            b'?' => qm += 1,
            _ => {}
        }
    }
    let ep_amp = ep.min(4) as f64 * 0.292;
    let qm_amp = match qm {
        0 | 1 => 0.0,
        2 | 3 => qm as f64 * 0.18,
        _ => 0.96,
    };
    ep_amp + qm_amp
}

fn normalize(score: f64) -> f64 {
    (score / (score * score + ALPHA).sqrt()).clamp(-1.0, 1.0)
}

/// Rounds like Python's `round(x, places)` (nearest, ties to even on the exact value).
fn round_places(x: f64, places: i32) -> f64 {
    let scale = 10f64.powi(places);
    let y = x * scale;
    let frac = y - y.floor();
    if (frac - 0.5).abs() < 1e-6 {
        // near a tie the product's rounding error matters: defer to exact decimal formatting
        return format!("{:.*}", places as usize, x)
            .parse()
            .unwrap_or(y.round() / scale);
    }
    y.round() / scale
}

/// Python's `str.isspace` for one character: Unicode White_Space plus the ASCII
/// information separators (0x1c-0x1f), which `str.split()` also splits on.
#[inline]
pub(crate) fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

fn strip_punct_if_word(token: &str) -> &str {
    // ASCII punctuation is one byte and never part of a multi-byte character, so trimming
    // bytes is `trim_matches(|c: char| c.is_ascii_punctuation())`
    let b = token.as_bytes();
    let (mut s, mut e) = (0, b.len());
    while s < e && b[s].is_ascii_punctuation() {
        s += 1;
    }
    while e > s && b[e - 1].is_ascii_punctuation() {
        e -= 1;
    }
    let stripped = token.get(s..e).unwrap_or(token);
    if stripped.chars().nth(2).is_none() {
        token
    } else {
        stripped
    }
}

fn push_lower(buf: &mut String, word: &str) {
    if word.is_ascii() {
        let start = buf.len();
        buf.push_str(word);
        if let Some(added) = buf.get_mut(start..) {
            added.make_ascii_lowercase();
        }
    } else {
        buf.push_str(&word.to_lowercase());
    }
}

fn is_titlecase(c: char) -> bool {
    matches!(c as u32,
        0x01C5 | 0x01C8 | 0x01CB | 0x01F2 | 0x1F88..=0x1F8F | 0x1F98..=0x1F9F | 0x1FA8..=0x1FAF
        | 0x1FBC | 0x1FCC | 0x1FFC)
}

/// Python's `str.isupper`: at least one cased character and no lowercase or titlecase one.
fn py_isupper(word: &str) -> bool {
    if word.is_ascii() {
        let b = word.as_bytes();
        return !b.iter().any(u8::is_ascii_lowercase) && b.iter().any(u8::is_ascii_uppercase);
    }
    let mut cased = false;
    for c in word.chars() {
        if c.is_lowercase() || is_titlecase(c) {
            return false;
        }
        if c.is_uppercase() {
            cased = true;
        }
    }
    cased
}

fn negated(lower: &str) -> bool {
    is_negation_word(lower) || lower.contains("n't")
}

/// VADER's negation words.
pub fn is_negation_word(lower: &str) -> bool {
    matches!(
        lower,
        "aint"
            | "arent"
            | "cannot"
            | "cant"
            | "couldnt"
            | "darent"
            | "didnt"
            | "doesnt"
            | "ain't"
            | "aren't"
            | "can't"
            | "couldn't"
            | "daren't"
            | "didn't"
            | "doesn't"
            | "dont"
            | "hadnt"
            | "hasnt"
            | "havent"
            | "isnt"
            | "mightnt"
            | "mustnt"
            | "neither"
            | "don't"
            | "hadn't"
            | "hasn't"
            | "haven't"
            | "isn't"
            | "mightn't"
            | "mustn't"
            | "neednt"
            | "needn't"
            | "never"
            | "none"
            | "nope"
            | "nor"
            | "not"
            | "nothing"
            | "nowhere"
            | "oughtnt"
            | "shant"
            | "shouldnt"
            | "uhuh"
            | "wasnt"
            | "werent"
            | "oughtn't"
            | "shan't"
            | "shouldn't"
            | "uh-uh"
            | "wasn't"
            | "weren't"
            | "without"
            | "wont"
            | "wouldnt"
            | "won't"
            | "wouldn't"
            | "rarely"
            | "seldom"
            | "despite"
    )
}

const BOOSTER_INCR: &[&str] = &[
    "absolutely",
    "amazingly",
    "awfully",
    "completely",
    "considerable",
    "considerably",
    "decidedly",
    "deeply",
    "effing",
    "enormous",
    "enormously",
    "entirely",
    "especially",
    "exceptional",
    "exceptionally",
    "extreme",
    "extremely",
    "fabulously",
    "flipping",
    "flippin",
    "frackin",
    "fracking",
    "fricking",
    "frickin",
    "frigging",
    "friggin",
    "fully",
    "fuckin",
    "fucking",
    "fuggin",
    "fugging",
    "greatly",
    "hella",
    "highly",
    "hugely",
    "incredible",
    "incredibly",
    "intensely",
    "major",
    "majorly",
    "more",
    "most",
    "particularly",
    "purely",
    "quite",
    "really",
    "remarkably",
    "so",
    "substantially",
    "thoroughly",
    "total",
    "totally",
    "tremendous",
    "tremendously",
    "uber",
    "unbelievably",
    "unusually",
    "utter",
    "utterly",
    "very",
];
const BOOSTER_DECR: &[&str] = &[
    "almost",
    "barely",
    "hardly",
    "kinda",
    "kindof",
    "kind-of",
    "less",
    "little",
    "marginal",
    "marginally",
    "occasional",
    "occasionally",
    "partly",
    "scarce",
    "scarcely",
    "slight",
    "slightly",
    "somewhat",
    "sorta",
    "sortof",
    "sort-of",
];

/// Single-word boosters (+0.293) and dampeners (-0.293).
fn booster(lower: &str) -> Option<f64> {
    if BOOSTER_INCR.contains(&lower) {
        Some(B_INCR)
    } else if BOOSTER_DECR.contains(&lower) {
        Some(B_DECR)
    } else {
        None
    }
}

fn booster_phrase(a: &str, b: &str) -> Option<f64> {
    match (a, b) {
        ("just", "enough") | ("kind", "of") | ("sort", "of") => Some(B_DECR),
        _ => None,
    }
}

fn special_case(words: &[&str]) -> Option<f64> {
    match words {
        ["the", "shit"] | ["the", "bomb"] | ["to", "die", "for"] => Some(3.0),
        ["bad", "ass"] => Some(1.5),
        ["bus", "stop"] => Some(0.0),
        ["yeah", "right"] => Some(-2.0),
        ["kiss", "of", "death"] => Some(-1.5),
        ["beating", "heart"] => Some(3.5),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(text: &str) -> f64 {
        polarity_scores(text).compound
    }

    #[test]
    fn embedded_lexicons_load_fully() {
        let a = SentimentAnalyzer::embedded();
        assert!(a.lexicon_len() > 7000, "{}", a.lexicon_len());
        assert_eq!(a.word_valence("good"), Some(1.9));
    }

    #[test]
    fn reference_examples_match_published_scores() {
        // scores printed by the reference package's own demo
        assert_eq!(c("VADER is smart, handsome, and funny."), 0.8316);
        assert_eq!(c("VADER is smart, handsome, and funny!"), 0.8439);
        assert_eq!(c("VADER is very smart, handsome, and funny."), 0.8545);
        assert_eq!(c("VADER is VERY SMART, handsome, and FUNNY."), 0.9227);
        assert_eq!(c("VADER is not smart, handsome, nor funny."), -0.7424);
        assert_eq!(c("The book was good."), 0.4404);
        assert_eq!(c("At least it isn't a horrible book."), 0.431);
        assert_eq!(c("Today SUX!"), -0.5461);
    }

    #[test]
    fn negation_flips_positive_words() {
        assert!(c("the service is good") > 0.3);
        assert!(c("the service is not good") < -0.3);
    }

    #[test]
    fn boosters_and_caps_intensify() {
        let plain = c("the update is bad");
        assert!(c("the update is very bad") < plain);
        assert!(c("the update is BAD") < plain);
        assert!(c("the update is bad!!!") < plain);
    }

    #[test]
    fn but_shifts_weight_to_the_second_clause() {
        let s = polarity_scores("the food was great but the service was terrible");
        assert!(s.compound < 0.0, "{s:?}");
    }

    #[test]
    fn emoji_carry_sentiment() {
        assert_eq!(c("my flight \u{1F620}"), -0.5106);
        assert_eq!(c("my flight \u{1F60D}"), 0.4588);
    }

    #[test]
    fn empty_and_blank_text_score_zero() {
        assert_eq!(polarity_scores(""), Sentiment::default());
        assert_eq!(polarity_scores(" \t\n"), Sentiment::default());
    }

    #[test]
    fn rounding_matches_python_ties_to_even() {
        assert_eq!(round_places(0.0625, 3), 0.062);
        assert_eq!(round_places(0.43119, 4), 0.4312);
        assert_eq!(round_places(-0.74239, 4), -0.7424);
    }
}

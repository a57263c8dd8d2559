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
//!   "never so/this" and "without doubt";
//! - "no" as a determiner, "least", "kind of", special idioms ("the shit", "kiss of death");
//! - "but": words before it count half, words after it 1.5 times;
//! - up to four "!" add 0.292 each, two or more "?" add 0.18 each (capped at 0.96);
//! - compound = sum / sqrt(sum^2 + 15).
//!
//! Scoring is on the hot path of every mention, so everything the rules need to know about a
//! word (valence, booster value, whether it negates, which of the few words the rules name it
//! is) is resolved by one look-up in a `WordTable` keyed by the lowercase word, and the rules
//! compare small `Special` codes instead of strings. The table is a perfect hash built at
//! load time: one probe, and a key comparison that masks the entry rather than being branched
//! on, since whether a token is a lexicon word is unpredictable and a branch on it would wait
//! for the look-up.
//!
//! ASCII tokens (almost all of them) are split, stripped, lowercased and hashed eight bytes
//! at a time straight from the text, without building any string. A token of up to 15 bytes
//! followed by a space, found by the loads that find its end, takes an inline path: its
//! capitals, key and look-up come from a few byte-parallel operations, and for one of letters
//! and digits only (three tokens in four) that is all, with one branch for the whole test.
//! For the others, mostly words with punctuation before or after them, the same masks give
//! what stripping leaves (a shift and a mask of the key), the marks and whether there is an
//! "n't". Longer tokens are mostly links, too long to be a key even once stripped (which
//! their first and last eight bytes tell): their capitals, marks and "n't" are found eight
//! bytes at a time, and they are not looked up. The other longer tokens and tokens touching
//! other whitespace or control characters take the general paths out of line. A token with
//! non-ASCII characters that are all "plain" (uncased, no emoji, in no key: curly quotes,
//! ellipses, replacement characters) cannot be a key, and its capitals, marks and "n't" are
//! those of its ASCII bytes; other non-ASCII tokens take the exact Unicode path, which skips
//! lowercasing when no key can match. Emoji can only be in those tokens (unless some emoji
//! key is ASCII or whitespace, when emoji are replaced first), and send the rare text that
//! has one through emoji replacement and a second tokenising.
//!
//! The tokeniser notes the lexicon words and "but" as one bit per token, again without a
//! branch: only lexicon words can score, so one loop over the noted tokens works out their
//! sentiments, their sums and the first "but". The score arithmetic (signs, the emphasis,
//! rounding) is done with products, integers and an addition that rounds, where branches
//! would be coin tosses.

use std::borrow::Cow;
use std::sync::OnceLock;

use serde::Serialize;

use crate::features::{digit_bytes, load8, load_le, lower_bytes, HIGH, ONES};
use crate::hash::FxHashMap;
use crate::ScoringError;

mod rules;
mod split;
mod table;
mod tokenize;
mod words;

pub(crate) use rules::is_py_space;
use rules::*;
use split::*;
use table::*;
pub use words::is_negation_word;
use words::*;

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
    /// everything the rules need about each word they look at (one look-up per token)
    words: WordTable,
    lexicon_len: usize,
    emoji: FxHashMap<char, Box<str>>,
    /// true when some emoji key is ASCII, which disables the ASCII fast path
    ascii_emoji: bool,
    /// true when some emoji key is ASCII or whitespace, so that emoji must be replaced before
    /// tokenising; otherwise only tokens with non-ASCII characters can hold one, and text
    /// without such tokens (most) is never scanned for emoji
    eager_emoji: bool,
    /// the "plain" non-ASCII characters (below U+10000): in no key, their own lowercase,
    /// and neither cased, whitespace nor emoji. A token whose characters are ASCII or plain
    /// (most non-ASCII tokens: curly quotes and apostrophes, ellipses, replacement
    /// characters) cannot be a key, and its capitals, marks and "n't" are those of its
    /// ASCII characters, whatever is stripped.
    plain_chars: CharSet,
}

/// Scores `text` with the embedded lexicons.
pub fn polarity_scores(text: &str) -> Sentiment {
    SentimentAnalyzer::embedded().polarity_scores(text)
}

/// Byte classes for the tokeniser.
const SPACE: u8 = 1;
const PUNCT: u8 = 2;

static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        if matches!(c, b' ' | b'\t'..=b'\r' | 0x1c..=0x1f) {
            t[i] |= SPACE;
        }
        if c.is_ascii_punctuation() {
            t[i] |= PUNCT;
        }
        i += 1;
    }
    t
};

#[inline]
fn class(b: u8) -> u8 {
    CLASS[usize::from(b)]
}

/// The character starting at byte `i` (at a non-ASCII byte).
#[cold]
fn non_ascii_at(text: &str, i: usize) -> Option<char> {
    text.get(i..).and_then(|t| t.chars().next())
}

/// Per-thread buffers of [`SentimentAnalyzer::polarity_scores`].
#[derive(Default)]
struct Scratch {
    toks: Vec<Token>,
    /// which tokens are lexicon words or "but", one bit per token, 64 tokens a word
    noted: Vec<u64>,
    /// (token index, sentiment) of the lexicon words; every other token's sentiment is 0
    sentiments: Vec<(usize, f64)>,
}

impl Scratch {
    fn clear(&mut self) {
        self.toks.clear();
        self.noted.clear();
        self.sentiments.clear();
    }
}

/// Pushes tokens into a [`Scratch`], noting the lexicon words and "but" without a branch
/// on the token: which tokens are lexicon words is unpredictable, and a branch on it would
/// wait for the token's look-up, so that the look-ups of the tokens after it could not
/// start. A local of the tokeniser, so that the bits it notes stay in a register.
#[derive(Default)]
struct Pusher {
    /// the noted bits of the tokens since the last multiple of 64
    bits: u64,
}

impl Pusher {
    #[inline(always)]
    fn push(&mut self, out: &mut Scratch, t: Token) {
        let i = out.toks.len();
        self.bits |= u64::from(t.flags() & (HAS_LEX | BUT) != 0) << (i % 64);
        if i % 64 == 63 {
            out.noted.push(self.bits);
            self.bits = 0;
        }
        out.toks.push(t);
    }

    /// Hands what was noted to `out` once all tokens are pushed.
    fn finish(self, out: &mut Scratch) {
        if out.toks.len() & 63 != 0 {
            out.noted.push(self.bits);
        }
    }
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// Counts the rules need besides the tokens.
#[derive(Debug, Default)]
struct TextStats {
    exclamations: usize,
    questions: usize,
    /// ALL-CAPS tokens
    upper: usize,
}

impl TextStats {
    /// Counts the marks of up to fifteen ASCII bytes `t` (zero-padded), without a loop.
    #[inline(always)]
    fn add_marks(&mut self, t: u128) {
        // the '!'s in bit 0 and the '?'s in bit 4 of their bytes; a sum over at most
        // fifteen bytes fits each count in its nibble of the top byte
        let marks = eq_bytes(t, b'!') >> 7 | eq_bytes(t, b'?') >> 3;
        let counts = ((marks as u64) + ((marks >> 64) as u64)).wrapping_mul(ONES) >> 56;
        self.exclamations += (counts & 15) as usize;
        self.questions += (counts >> 4) as usize;
    }

    fn count_marks(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.exclamations += usize::from(b == b'!');
            self.questions += usize::from(b == b'?');
        }
    }
}

/// Which tokeniser to use: `Exact` sends every token through the Unicode path, so tests can
/// check the ASCII fast path against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Path {
    Fast,
    #[cfg(test)]
    Exact,
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
            words: WordTable::new(FxHashMap::default()),
            lexicon_len: 0,
            emoji: FxHashMap::default(),
            ascii_emoji: false,
            eager_emoji: false,
            plain_chars: CharSet::default(),
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
        let eager_emoji = ascii_emoji || emo.keys().any(|&c| is_py_space(c));
        let lexicon_len = lex.len();
        let words = WordTable::new(word_infos(lex));
        // about a millisecond; uncased letters (most of the plane) are plain too
        let plain_chars = CharSet::of_bmp(|c| {
            c.to_lowercase().eq([c])
                && !c.is_lowercase()
                && !c.is_uppercase()
                && !is_titlecase(c)
                && !is_py_space(c)
                && !emo.contains_key(&c)
                && words.key_chars.binary_search(&c).is_err()
        });
        Ok(SentimentAnalyzer {
            words,
            lexicon_len,
            emoji: emo,
            ascii_emoji,
            eager_emoji,
            plain_chars,
        })
    }

    /// Number of entries in the word lexicon.
    pub fn lexicon_len(&self) -> usize {
        self.lexicon_len
    }

    /// Valence of a lowercase word in the lexicon, if present.
    pub fn word_valence(&self, lower: &str) -> Option<f64> {
        self.words.get_bytes(lower.as_bytes()).lex()
    }

    /// Whether some character of `text` has an emoji description.
    fn has_emoji(&self, text: &str) -> bool {
        if self.ascii_emoji {
            return text.chars().any(|c| self.emoji.contains_key(&c));
        }
        if text.is_ascii() {
            return false;
        }
        // only non-ASCII characters can be emoji: skip ASCII eight bytes at a time
        let b = text.as_bytes();
        let mut i = 0;
        while let Some(&x) = b.get(i) {
            if x < 0x80 {
                match b.get(i..i + 8).and_then(|s| <[u8; 8]>::try_from(s).ok()) {
                    Some(chunk) if u64::from_le_bytes(chunk) & HIGH == 0 => i += 8,
                    _ => i += 1,
                }
                continue;
            }
            match text.get(i..).and_then(|t| t.chars().next()) {
                Some(c) if self.emoji.contains_key(&c) => return true,
                Some(c) => i += c.len_utf8(),
                None => i += 1,
            }
        }
        false
    }

    fn replace_emoji<'t>(&self, text: &'t str) -> Cow<'t, str> {
        // without ASCII keys only non-ASCII characters can be emoji
        if !self.has_emoji(text) {
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
            Ok(mut scratch) => self.polarity_scores_with(text, &mut scratch, Path::Fast),
            Err(_) => self.polarity_scores_with(text, &mut Scratch::default(), Path::Fast),
        })
    }

    fn polarity_scores_with(&self, text: &str, scratch: &mut Scratch, path: Path) -> Sentiment {
        scratch.clear();
        let mut stats = TextStats::default();
        match path {
            Path::Fast if self.eager_emoji => {
                self.tokens(&self.replace_emoji(text), &mut stats, scratch, false);
            }
            Path::Fast => {
                // emoji can only be in the tokens with non-ASCII characters: tokenise again
                // after replacing them in the rare text that has some
                if self.tokens(text, &mut stats, scratch, true) {
                    scratch.clear();
                    stats = TextStats::default();
                    self.tokens(&self.replace_emoji(text), &mut stats, scratch, false);
                }
            }
            #[cfg(test)]
            Path::Exact => {
                let mut pusher = Pusher::default();
                for raw in crate::features::py_words(&self.replace_emoji(text)) {
                    pusher.push(scratch, self.token_exact(raw, &mut stats));
                }
                pusher.finish(scratch);
            }
        }
        let Scratch {
            toks,
            noted,
            sentiments,
        } = scratch;
        if toks.is_empty() {
            return Sentiment::default();
        }
        let n = toks.len();
        let ctx = Ctx {
            toks,
            cap_diff: stats.upper > 0 && stats.upper < n,
        };
        // one loop over the noted tokens finds the lexicon words' sentiments, their sums and
        // the first "but": each loop over them ends after a number of rounds that the CPU
        // cannot predict
        let mut sums = Sums::default();
        let mut but = None;
        for (k, &word) in noted.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                let i = 64 * k + bits.trailing_zeros() as usize;
                let flags = ctx.toks.get(i).map_or(0, WordInfo::flags);
                if flags & HAS_LEX != 0 {
                    let s = match path {
                        Path::Fast => ctx.sentiment_fast(i),
                        // the rules in full, for the tests to compare with
                        #[cfg(test)]
                        Path::Exact => ctx.sentiment(i),
                    };
                    sentiments.push((i, s));
                    sums.add(s);
                }
                if flags & BUT != 0 && but.is_none() {
                    but = Some(i);
                }
                bits &= bits - 1;
            }
        }
        if sentiments.is_empty() && path == Path::Fast {
            // no lexicon word (about a third of the texts): every token is neutral whatever the
            // marks, which only add to a sum that is not zero, and the scores are those of
            // zero sums, without their square root, divisions and roundings (the exact path
            // works them out, for the tests to compare with)
            return Sentiment {
                neu: 1.0,
                ..Sentiment::default()
            };
        }
        if let Some(bi) = but {
            but_check(sentiments, bi);
            sums = Sums::default();
            for &(_, s) in sentiments.iter() {
                sums.add(s);
            }
        }
        sums.scores(n - sentiments.len(), punctuation_emphasis(&stats))
    }
}

#[cfg(test)]
mod tests;

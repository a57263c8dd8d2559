//! Text normalisation and hashed n-gram features of the complaint model.
//!
//! One featuriser serves training and scoring, so the two can never drift apart.
//! Features, hashed into fixed bucket spaces (stable across runs):
//! - word unigrams and bigrams of the normalised text (`?` and `!` count as words), FNV-1a;
//! - character (byte) n-grams of the normalised text padded with one space each side, hashed
//!   multiplicatively from the n-gram's bytes packed in one integer (one multiply per n-gram).
//!
//! Each group is weighted by `1 / sqrt(number of n-grams in the group)` so that long and short
//! tweets land on the same scale; the model folds the inverse document frequency into its
//! weights, which keeps scoring a plain sum over the n-grams (and each n-gram's contribution
//! attributable to the word it came from, for the explanation).

use crate::hash::Fnv64;

pub const NS_UNIGRAM: u8 = 1;
pub const NS_CHAR: u8 = 2;
pub const NS_BIGRAM: u8 = 3;

/// Hash-space and n-gram ranges; persisted in the model file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeatureConfig {
    pub word_bits: u8,
    pub char_bits: u8,
    pub char_min: u8,
    pub char_max: u8,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        FeatureConfig {
            word_bits: 14,
            char_bits: 15,
            char_min: 3,
            char_max: 3,
        }
    }
}

impl FeatureConfig {
    pub fn word_mask(&self) -> u32 {
        ((1u64 << self.word_bits) - 1) as u32
    }
    pub fn char_mask(&self) -> u32 {
        ((1u64 << self.char_bits) - 1) as u32
    }
}

/// Which weight table a feature indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    Word,
    Char,
}

/// A normalised text: lowercase, URLs and @handles replaced, digit runs folded to `0`,
/// letters repeated more than three times cut to three, single spaces; plus its word spans.
#[derive(Debug, Default)]
pub struct Normalized {
    /// `" " + text + " "`
    pub padded: String,
    /// byte ranges of word tokens in `padded`
    pub words: Vec<(u32, u32)>,
    /// for each byte of `padded`, the word a char n-gram starting there is attributed to
    pub(crate) word_at: Vec<u32>,
    /// per word, its feature hashes (before masking to a bucket)
    pub(crate) hashes: Vec<WordHashes>,
}

/// The finished FNV-1a hashes of a word's unigram feature and of its bigram with the
/// previous word (0 for the first word), as [`for_each_feature`] computes them.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct WordHashes {
    pub unigram: u64,
    pub bigram: u64,
}

impl Normalized {
    pub fn word(&self, i: usize) -> &str {
        let (s, e) = self.words[i];
        self.padded.get(s as usize..e as usize).unwrap_or("")
    }
}

/// Normalises `text` into `out` (reusing its buffers).
pub fn normalize_into(text: &str, out: &mut Normalized) {
    out.padded.clear();
    out.words.clear();
    out.padded.push(' ');
    for raw in py_words(text) {
        if out.padded.len() > 1 {
            out.padded.push(' ');
        }
        let lower_raw = raw.as_bytes();
        if starts_with_ignore_case(lower_raw, b"http://")
            || starts_with_ignore_case(lower_raw, b"https://")
            || starts_with_ignore_case(lower_raw, b"www.")
        {
            out.padded.push_str("<url>");
            continue;
        }
        if raw.len() > 1 && raw.starts_with('@') {
            out.padded.push_str("@user");
            // keep trailing punctuation such as "@brand:" or "@brand?"
            let tail_start = raw[1..]
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .map(|p| p + 1)
                .unwrap_or(raw.len());
            push_folded(&raw[tail_start..], &mut out.padded);
            continue;
        }
        push_folded(raw, &mut out.padded);
    }
    out.padded.push(' ');
    tokenize_words(out);
}

fn starts_with_ignore_case(s: &[u8], prefix: &[u8]) -> bool {
    s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

fn push_folded(raw: &str, out: &mut String) {
    if push_folded_ascii(raw.as_bytes(), out) {
        return;
    }
    let unescaped;
    let raw = if raw.contains('&') {
        unescaped = raw
            .replace("&amp;", "&")
            .replace("&gt;", ">")
            .replace("&lt;", "<");
        unescaped.as_str()
    } else {
        raw
    };
    let mut prev: Option<char> = None;
    let mut run = 0usize;
    for c in raw.chars() {
        for lc in c.to_lowercase() {
            let lc = match lc {
                '0'..='9' => '0',
                '\u{2018}' | '\u{2019}' => '\'',
                other => other,
            };
            if Some(lc) == prev {
                run += 1;
                // digit runs collapse to one 0, other runs to at most three
                if (lc == '0' && run > 1) || run > 3 {
                    continue;
                }
            } else {
                prev = Some(lc);
                run = 1;
            }
            out.push(lc);
        }
    }
}

/// [`push_folded`] for ASCII input without entities, in one pass over the bytes: the same
/// folding (lowercase, digits to `0`, digit runs to one `0`, other runs to three). Returns
/// false, having pushed nothing, if `raw` has a non-ASCII byte, `&` or NUL.
fn push_folded_ascii(raw: &[u8], out: &mut String) -> bool {
    let start = out.len();
    out.reserve(raw.len());
    let mut prev = 0u8;
    let mut run = 0usize;
    for &c in raw {
        let lc = FOLD[usize::from(c)];
        if lc == 0 {
            out.truncate(start);
            return false;
        }
        if run > 0 && lc == prev {
            run += 1;
            // digit runs collapse to one 0, other runs to at most three
            if (lc == b'0' && run > 1) || run > 3 {
                continue;
            }
        } else {
            prev = lc;
            run = 1;
        }
        out.push(char::from(lc));
    }
    true
}

/// Folded form of each byte for [`push_folded_ascii`]: ASCII lowercase, digits `0`; zero for
/// the bytes it leaves to the general path (non-ASCII, `&`, NUL).
static FOLD: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 1usize;
    while b < 128 {
        let c = b as u8;
        t[b] = if c.is_ascii_digit() {
            b'0'
        } else {
            c.to_ascii_lowercase()
        };
        b += 1;
    }
    t[b'&' as usize] = 0;
    t
};

/// `text.split(is_py_space).filter(|s| !s.is_empty())`, bytewise over ASCII.
pub(crate) fn py_words(text: &str) -> PyWords<'_> {
    PyWords { text, pos: 0 }
}

pub(crate) struct PyWords<'t> {
    text: &'t str,
    pos: usize,
}

impl PyWords<'_> {
    /// length of the separator starting at byte `i` (0 if none), and the length of the
    /// character there (1 for ASCII and for bytes inside a character)
    #[inline]
    fn space_at(&self, i: usize) -> (usize, usize) {
        let b = self.text.as_bytes()[i];
        if b < 0x80 {
            (usize::from(is_ascii_py_space(b)), 1)
        } else {
            match self.text.get(i..).and_then(|t| t.chars().next()) {
                Some(c) if crate::vader::is_py_space(c) => (c.len_utf8(), c.len_utf8()),
                Some(c) => (0, c.len_utf8()),
                None => (0, 1),
            }
        }
    }
}

/// ASCII bytes that Python's `str.split()` splits on
#[inline]
fn is_ascii_py_space(b: u8) -> bool {
    BYTE_CLASS[usize::from(b)] & PY_SPACE != 0
}

const PY_SPACE: u8 = 1;
const WORD_BYTE: u8 = 2;
const NON_ASCII: u8 = 4;

/// Per-byte classes: [`PY_SPACE`] for ASCII separators, [`WORD_BYTE`] for word bytes,
/// [`NON_ASCII`] for bytes of multi-byte characters.
static BYTE_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0usize;
    while b < 256 {
        let c = b as u8;
        if matches!(c, b' ' | b'\t'..=b'\r' | 0x1c..=0x1f) {
            t[b] |= PY_SPACE;
        }
        if c.is_ascii_alphanumeric() || matches!(c, b'_' | b'\'' | b'@' | b'<' | b'>') || c >= 0x80
        {
            t[b] |= WORD_BYTE;
        }
        if c >= 0x80 {
            t[b] |= NON_ASCII;
        }
        b += 1;
    }
    t
};

impl<'t> Iterator for PyWords<'t> {
    type Item = &'t str;

    fn next(&mut self) -> Option<&'t str> {
        let bytes = self.text.as_bytes();
        let len = bytes.len();
        let mut pos = self.pos;
        // skip separators
        loop {
            let Some(&b) = bytes.get(pos) else {
                self.pos = len;
                return None;
            };
            let class = BYTE_CLASS[usize::from(b)];
            if class & PY_SPACE != 0 {
                pos += 1;
            } else if class & NON_ASCII == 0 {
                break;
            } else {
                match self.space_at(pos) {
                    (0, _) => break,
                    (n, _) => pos += n,
                }
            }
        }
        let start = pos;
        // word bytes: a tight loop over ASCII non-separators, the rest one character at a time
        loop {
            while let Some(&b) = bytes.get(pos) {
                if BYTE_CLASS[usize::from(b)] & (PY_SPACE | NON_ASCII) != 0 {
                    break;
                }
                pos += 1;
            }
            match bytes.get(pos) {
                Some(&b) if b >= 0x80 => match self.space_at(pos) {
                    (0, n) => pos += n,
                    _ => break,
                },
                _ => break,
            }
        }
        debug_assert!(pos <= len);
        self.pos = pos;
        self.text.get(start..pos)
    }
}

#[inline]
fn is_word_byte(b: u8) -> bool {
    BYTE_CLASS[usize::from(b)] & WORD_BYTE != 0
}

/// Splits `padded` into words (runs of word bytes, and `?` / `!` on their own), records which
/// word each byte's char n-grams are attributed to, and hashes each word's unigram and its
/// bigram with the previous word, all in one forward pass over the bytes.
#[inline(never)]
fn tokenize_words(out: &mut Normalized) {
    let Normalized {
        padded,
        words,
        word_at,
        hashes,
    } = out;
    let bytes = padded.as_bytes();
    word_at.clear();
    word_at.reserve(bytes.len() + 1);
    hashes.clear();
    let uni0 = Fnv64::new(NS_UNIGRAM);
    let bi0 = Fnv64::new(NS_BIGRAM);
    // FNV state of the previous word's bigram prefix (namespace, its bytes, a 0 separator)
    let mut prev_pre: Option<Fnv64> = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let single = b == b'?' || b == b'!';
        if !(is_word_byte(b) || single) {
            // a space's n-grams belong to the word right after it; other bytes' to none
            let next_owner = match bytes.get(i + 1) {
                Some(&n) if b == b' ' && is_word_byte(n) => words.len() as u32,
                _ => u32::MAX,
            };
            word_at.push(next_owner);
            i += 1;
            continue;
        }
        let start = i;
        i += 1;
        if !single {
            while i < bytes.len() && is_word_byte(bytes[i]) {
                i += 1;
            }
        }
        let word = &bytes[start..i];
        let (mut uni, mut pre) = (uni0, bi0);
        let mut bigram = prev_pre;
        for &c in word {
            uni.byte(c);
            pre.byte(c);
            if let Some(h) = bigram.as_mut() {
                h.byte(c);
            }
        }
        pre.byte(0);
        prev_pre = Some(pre);
        hashes.push(WordHashes {
            unigram: uni.finish(),
            bigram: bigram.map_or(0, Fnv64::finish),
        });
        // `?` and `!` are words, but their n-grams are attributed to no word
        let owner = if single { u32::MAX } else { words.len() as u32 };
        words.push((start as u32, i as u32));
        word_at.resize(i, owner);
    }
    word_at.push(u32::MAX);
}

/// Number of word features (unigrams + bigrams) and of char n-grams of a normalised text.
pub fn group_sizes(norm: &Normalized, cfg: &FeatureConfig) -> (usize, usize) {
    let nw = norm.words.len();
    let n_word = if nw == 0 { 0 } else { 2 * nw - 1 };
    let len = norm.padded.len();
    let mut n_char = 0;
    for k in cfg.char_min as usize..=cfg.char_max as usize {
        n_char += (len + 1).saturating_sub(k);
    }
    (n_word, n_char)
}

/// Calls `sink(group, bucket, word_index)` for every feature occurrence; `word_index` is the
/// word the feature is attributed to in explanations (a bigram goes to its first word).
pub fn for_each_feature(
    norm: &Normalized,
    cfg: &FeatureConfig,
    mut sink: impl FnMut(Group, u32, Option<usize>),
) {
    let wmask = cfg.word_mask();
    let b = norm.padded.as_bytes();
    for (i, &(s, e)) in norm.words.iter().enumerate() {
        let mut h = Fnv64::new(NS_UNIGRAM);
        h.bytes(&b[s as usize..e as usize]);
        sink(Group::Word, (h.finish() as u32) & wmask, Some(i));
        if i > 0 {
            let (ps, pe) = norm.words[i - 1];
            let mut h = Fnv64::new(NS_BIGRAM);
            h.bytes(&b[ps as usize..pe as usize]);
            h.byte(0);
            h.bytes(&b[s as usize..e as usize]);
            let bucket = (h.finish() as u32) & wmask;
            sink(Group::Word, bucket, Some(i - 1));
        }
    }
    let (kmin, kmax) = (cfg.char_min as usize, cfg.char_max as usize);
    let shift = 64 - u32::from(cfg.char_bits);
    for (p, &at) in norm.word_at.iter().enumerate().take(b.len()) {
        let owner = match at {
            u32::MAX => None,
            w => Some(w as usize),
        };
        let window = char_window(b, p);
        for k in kmin..=kmax.min(b.len() - p) {
            sink(Group::Char, char_bucket(window, k, shift), owner);
        }
    }
}

/// Up to [`MAX_CHAR_N`] bytes of `b` from `p`, little-endian, zero-padded past the end.
#[inline]
pub(crate) fn char_window(b: &[u8], p: usize) -> u64 {
    if let Some(Ok(w)) = b.get(p..p + 8).map(<[u8; 8]>::try_from) {
        // one load; byte 8 is never part of an n-gram
        return u64::from_le_bytes(w) & (u64::MAX >> 8);
    }
    let mut w = 0u64;
    for (i, &byte) in b.iter().skip(p).take(MAX_CHAR_N).enumerate() {
        w |= u64::from(byte) << (8 * i);
    }
    w
}

/// Longest character n-gram: the n-gram's bytes and its length fit one `u64` key.
pub const MAX_CHAR_N: usize = 7;

/// Bucket of the `k`-byte char n-gram at the start of `window` (see [`char_window`]):
/// multiplicative (Fibonacci) hashing of `bytes << 8 | k`, the top `64 - shift` bits.
/// One multiply per n-gram; stable across runs and platforms (it indexes the model file).
#[inline]
pub(crate) fn char_bucket(window: u64, k: usize, shift: u32) -> u32 {
    let gram = window & (u64::MAX >> (64 - 8 * k));
    let key = (gram << 8) | k as u64;
    (key.wrapping_mul(CHAR_HASH_MUL) >> shift) as u32
}

/// The multiplier of [`char_bucket`] (2^64 / golden ratio).
pub const CHAR_HASH_MUL: u64 = 0x9e37_79b9_7f4a_7c15;

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(text: &str) -> Normalized {
        let mut n = Normalized::default();
        normalize_into(text, &mut n);
        n
    }

    #[test]
    fn normalisation_replaces_handles_urls_and_digits() {
        let n = norm("@Delta WHY did flight 1234 leave?? http://t.co/abc Sooooo late");
        assert_eq!(n.padded, " @user why did flight 0 leave?? <url> sooo late ");
        let words: Vec<&str> = (0..n.words.len()).map(|i| n.word(i)).collect();
        assert_eq!(
            words,
            ["@user", "why", "did", "flight", "0", "leave", "?", "?", "<url>", "sooo", "late"]
        );
    }

    #[test]
    fn feature_counts_match_group_sizes() {
        let cfg = FeatureConfig::default();
        let n = norm("my order never arrived!");
        let (mut w, mut c) = (0, 0);
        for_each_feature(&n, &cfg, |g, _, _| match g {
            Group::Word => w += 1,
            Group::Char => c += 1,
        });
        assert_eq!((w, c), group_sizes(&n, &cfg));
    }

    #[test]
    fn py_words_split_like_str_split() {
        for text in [
            "",
            " ",
            "a",
            "  a  b\tc\n\u{1c}d\u{1f}e\u{85}f\u{a0}g\u{3000}h\u{2028}",
            "\u{e9}t\u{e9} \u{1F620}x\u{200b}y",
            "x\u{0b}\u{0c}\ry",
        ] {
            let want: Vec<&str> = text
                .split(crate::vader::is_py_space)
                .filter(|s| !s.is_empty())
                .collect();
            assert_eq!(py_words(text).collect::<Vec<_>>(), want, "{text:?}");
        }
    }

    #[test]
    fn empty_text_has_no_words() {
        let n = norm("   ");
        assert!(n.words.is_empty());
        assert_eq!(n.padded, "  ");
    }
}

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

mod builder;
mod bytes;
mod pywords;

use builder::*;
pub(crate) use bytes::*;
pub(crate) use pywords::*;

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

    /// The bytes of word `i` (empty if there is none): no character-boundary checks.
    #[inline]
    pub fn word_bytes(&self, i: usize) -> &[u8] {
        let (s, e) = self.words.get(i).copied().unwrap_or((0, 0));
        self.padded
            .as_bytes()
            .get(s as usize..e as usize)
            .unwrap_or(&[])
    }

    /// For each byte of `padded`, the word a char n-gram starting there is attributed to
    /// (`u32::MAX` for none): a word's own bytes and the space before it; not `?` or `!`
    /// (words of their own), other punctuation, or a space before either.
    pub(crate) fn owners(&self) -> Owners<'_> {
        Owners {
            bytes: self.padded.as_bytes(),
            words: &self.words,
            pos: 0,
            next: 0,
        }
    }
}

/// Iterator of [`Normalized::owners`].
pub(crate) struct Owners<'a> {
    bytes: &'a [u8],
    words: &'a [(u32, u32)],
    pos: usize,
    /// the first word that ends after `pos`
    next: usize,
}

impl Iterator for Owners<'_> {
    type Item = u32;

    #[inline]
    fn next(&mut self) -> Option<u32> {
        let p = self.pos;
        let &b = self.bytes.get(p)?;
        self.pos += 1;
        while let Some(&(_, e)) = self.words.get(self.next) {
            if e as usize > p {
                break;
            }
            self.next += 1;
        }
        let Some(&(s, _)) = self.words.get(self.next) else {
            return Some(u32::MAX);
        };
        let s = s as usize;
        let attributed = |w: usize| {
            let first = self.bytes.get(s).copied().unwrap_or(b'?');
            (first != b'?' && first != b'!').then_some(w as u32)
        };
        let owner = if p >= s || (p + 1 == s && b == b' ') {
            attributed(self.next)
        } else {
            None
        };
        Some(owner.unwrap_or(u32::MAX))
    }
}

/// Normalises `text` into `out` (reusing its buffers).
pub fn normalize_into(text: &str, out: &mut Normalized) {
    // local buffers, so the per-byte pushes do not go through `out`
    let mut b = Builder {
        padded: std::mem::take(&mut out.padded).into_bytes(),
        len: 0,
        split: Splitter {
            words: std::mem::take(&mut out.words),
            hashes: std::mem::take(&mut out.hashes),
            prev_pre: Fnv64::new(NS_BIGRAM),
        },
    };
    b.split.words.clear();
    b.split.hashes.clear();
    let bytes = text.as_bytes();
    b.make_room(bytes.len());
    b.put(b' ');
    let mut pos = 0;
    loop {
        pos = b.push_plain(bytes, pos);
        if pos >= bytes.len() {
            break;
        }
        // anything else, token by token: Unicode separators, entities, non-ASCII
        if b.last() != b' ' {
            b.put(b' ');
        }
        let mut rest = PyWords { text, pos };
        let Some(raw) = rest.next() else {
            // only Unicode separators were left
            break;
        };
        pos = rest.pos;
        let from = b.len;
        b.padded.truncate(from);
        push_token(raw, &mut b.padded);
        b.len = b.padded.len();
        b.make_room(bytes.len() - pos);
        b.split_words(from);
    }
    // one space at the end, after the one at the start
    if b.len == 1 || b.last() != b' ' {
        b.put(b' ');
    }
    // Validated as UTF-8 up to a multiple of 16 bytes, with spaces after the text: the
    // validator's loop over 16-byte blocks then takes it all, without a byte-at-a-time tail
    // whose length branch predictors miss. Cut back after.
    let len = b.len;
    let spaces = u64::from_le_bytes([b' '; 8]);
    let padded =
        put8(&mut b.padded, len, spaces).and_then(|()| put8(&mut b.padded, len + 8, spaces));
    b.padded.truncate(if padded.is_some() {
        len.next_multiple_of(16)
    } else {
        len
    });
    out.padded = String::from_utf8(b.padded)
        // not reachable: only whole UTF-8 characters and ASCII bytes are pushed
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    out.padded.truncate(len);
    (out.words, out.hashes) = b.split.finish();
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
    for (p, at) in norm.owners().enumerate() {
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
    load_le(b, p, MAX_CHAR_N)
}

/// Up to 8 bytes of `b` from `at` (`n` of them, fewer at the end), little-endian, zero-padded:
/// one load when eight bytes are available, since tokens are short and rarely at the very end.
#[inline(always)]
pub(crate) fn load_le(b: &[u8], at: usize, n: usize) -> u64 {
    let mask = u64::MAX.checked_shr(64 - 8 * n.min(8) as u32).unwrap_or(0);
    if let Some(Ok(w)) = b.get(at..at + 8).map(<[u8; 8]>::try_from) {
        return u64::from_le_bytes(w) & mask;
    }
    let mut w = 0u64;
    for (i, &byte) in b.iter().skip(at).take(n.min(8)).enumerate() {
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
mod tests;

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
        words: std::mem::take(&mut out.words),
        hashes: std::mem::take(&mut out.hashes),
        prev_pre: Fnv64::new(NS_BIGRAM),
        len: 0,
    };
    b.words.clear();
    b.hashes.clear();
    // plain tokens are written in place: folding never lengthens them, and each separator
    // becomes at most one space, so the text's length plus two spaces is enough
    b.padded.clear();
    b.padded.resize(text.len() + 2, 0);
    b.put(b' ');
    let bytes = text.as_bytes();
    let mut pos = 0;
    loop {
        while bytes.get(pos).is_some_and(|&c| is_ascii_py_space(c)) {
            pos += 1;
        }
        if pos >= bytes.len() {
            break;
        }
        let separated = b.len > 1;
        if separated {
            b.put(b' ');
        }
        if let Some(end) = b.push_plain_token(bytes, pos) {
            pos = end;
            continue;
        }
        // anything else, token by token: Unicode separators, entities, URLs, handles
        let mut rest = PyWords { text, pos };
        let Some(raw) = rest.next() else {
            // only Unicode separators were left
            if separated {
                b.len -= 1;
            }
            break;
        };
        pos = rest.pos;
        let from = b.len;
        b.padded.truncate(from);
        push_token(raw, &mut b.padded);
        b.len = b.padded.len();
        b.padded.resize(b.len + (bytes.len() - pos) + 2, 0);
        b.split_words(from);
    }
    b.put(b' ');
    b.padded.truncate(b.len);
    out.padded = String::from_utf8(b.padded)
        // not reachable: only whole UTF-8 characters and ASCII bytes are pushed
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    out.words = b.words;
    out.hashes = b.hashes;
}

struct Builder {
    /// the normalised text so far is `padded[..len]`; the rest is room to write in place
    padded: Vec<u8>,
    len: usize,
    words: Vec<(u32, u32)>,
    hashes: Vec<WordHashes>,
    /// FNV state of the last word's bigram prefix (namespace, its bytes, a 0 separator)
    prev_pre: Fnv64,
}

impl Builder {
    /// The common case of [`push_token`]: the token starting at `bytes[start]` (not a
    /// separator), if it is neither a URL nor a handle and is made of ASCII bytes without `&`
    /// or NUL, folded in one pass up to the next ASCII separator or the end, then split.
    /// Returns where it ends; `None`, having pushed nothing, for any other token.
    #[inline]
    fn push_plain_token(&mut self, bytes: &[u8], start: usize) -> Option<usize> {
        let rest = bytes.get(start..)?;
        let handle = rest.len() > 1 && rest[0] == b'@' && !is_ascii_py_space(rest[1]);
        if handle || is_url(rest) {
            return None;
        }
        let from = self.len;
        let buf = self.padded.as_mut_slice();
        let mut len = from;
        let mut prev = 0u8;
        let mut run = 0usize;
        let mut end = bytes.len();
        for (i, &c) in rest.iter().enumerate() {
            let lc = FOLD[usize::from(c)];
            if lc == 0 {
                if is_ascii_py_space(c) {
                    end = start + i;
                    break;
                }
                return None;
            }
            if lc == prev {
                run += 1;
                // digit runs collapse to one 0, other runs to at most three
                if (lc == b'0' && run > 1) || run > 3 {
                    continue;
                }
            } else {
                prev = lc;
                run = 1;
            }
            // no room left is not reachable (see `normalize_into`): the general path copes
            *buf.get_mut(len)? = lc;
            len += 1;
        }
        self.len = len;
        self.split_words(from);
        Some(end)
    }

    /// Appends one byte.
    fn put(&mut self, c: u8) {
        match self.padded.get_mut(self.len) {
            Some(slot) => *slot = c,
            None => self.padded.push(c),
        }
        self.len += 1;
    }

    /// Splits the bytes pushed from `from` on into words: runs of word bytes, and `?` / `!`
    /// on their own; hashes each word's unigram and its bigram with the previous word as
    /// [`for_each_feature`] does. A token's bytes end its last word.
    fn split_words(&mut self, from: usize) {
        let Builder {
            padded,
            len,
            words,
            hashes,
            prev_pre,
        } = self;
        let bytes = padded.get(..*len).unwrap_or(&[]);
        let mut i = from;
        while let Some(&c) = bytes.get(i) {
            let start = i;
            let (mut uni, mut pre, mut bigram) =
                (Fnv64::new(NS_UNIGRAM), Fnv64::new(NS_BIGRAM), *prev_pre);
            if is_word_byte(c) {
                while let Some(&c) = bytes.get(i).filter(|&&c| is_word_byte(c)) {
                    uni.byte(c);
                    pre.byte(c);
                    bigram.byte(c);
                    i += 1;
                }
            } else {
                i += 1;
                if c != b'?' && c != b'!' {
                    continue;
                }
                uni.byte(c);
                pre.byte(c);
                bigram.byte(c);
            }
            pre.byte(0);
            hashes.push(WordHashes {
                unigram: uni.finish(),
                // the first word has no bigram
                bigram: if words.is_empty() { 0 } else { bigram.finish() },
            });
            words.push((start as u32, i as u32));
            *prev_pre = pre;
        }
    }
}

/// Pushes the normalised form of one whitespace token: `<url>`, `@user` plus trailing
/// punctuation, or the folded token.
fn push_token(raw: &str, padded: &mut Vec<u8>) {
    if is_url(raw.as_bytes()) {
        padded.extend_from_slice(b"<url>");
    } else if raw.len() > 1 && raw.starts_with('@') {
        padded.extend_from_slice(b"@user");
        // keep trailing punctuation such as "@brand:" or "@brand?"
        let tail_start = raw[1..]
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .map(|p| p + 1)
            .unwrap_or(raw.len());
        push_folded(&raw[tail_start..], padded);
    } else {
        push_folded(raw, padded);
    }
}

/// Whether a token starts with `http://`, `https://` or `www.`, in any case: compared eight
/// bytes at a time, with 0x20 set in the letters' places (only a letter of either case becomes
/// that lowercase letter so) and the punctuation compared as it is.
#[inline]
fn is_url(raw: &[u8]) -> bool {
    if !matches!(raw.first(), Some(b'h' | b'H' | b'w' | b'W')) {
        return false;
    }
    let w = load_le(raw, 0, 8);
    let le = |p: &[u8; 8]| u64::from_le_bytes(*p);
    (w | 0x2020_2020) & 0x00ff_ffff_ffff_ffff == le(b"http://\0")
        || w | 0x20_2020_2020 == le(b"https://")
        || (w | 0x20_2020) & 0xffff_ffff == le(b"www.\0\0\0\0")
}

/// Pushes `raw` folded: lowercase, digits to `0`, digit runs to one `0`, other runs to at
/// most three, curly single quotes to `'`, the entities `&amp;` `&gt;` `&lt;` unescaped.
fn push_folded(raw: &str, out: &mut Vec<u8>) {
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
    let mut buf = [0u8; 4];
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
            out.extend_from_slice(lc.encode_utf8(&mut buf).as_bytes());
        }
    }
}

/// Folded form of each byte for [`Builder::push_plain_token`]: ASCII lowercase, digits `0`;
/// zero for the ASCII separators that end a token and for the bytes it leaves to the
/// general path (non-ASCII, `&`, NUL).
static FOLD: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 1usize;
    while b < 128 {
        let c = b as u8;
        t[b] = if c.is_ascii_digit() {
            b'0'
        } else if BYTE_CLASS[b] & PY_SPACE != 0 {
            0
        } else {
            c.to_ascii_lowercase()
        };
        b += 1;
    }
    t[b'&' as usize] = 0;
    t
};

/// `text.split(is_py_space).filter(|s| !s.is_empty())`, bytewise over ASCII (the scorer
/// walks [`PyWords`] from a position; tests use this).
#[cfg(test)]
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

    /// padded text, word spans, (unigram, bigram) hashes
    type Parts = (String, Vec<(u32, u32)>, Vec<(u64, u64)>);

    /// The general path alone: every token through `push_token`, then split.
    fn norm_token_by_token(text: &str) -> Parts {
        let mut b = Builder {
            padded: vec![b' '],
            len: 1,
            words: Vec::new(),
            hashes: Vec::new(),
            prev_pre: Fnv64::new(NS_BIGRAM),
        };
        for raw in py_words(text) {
            if b.len > 1 {
                b.padded.push(b' ');
            }
            let from = b.padded.len();
            push_token(raw, &mut b.padded);
            b.len = b.padded.len();
            b.split_words(from);
        }
        b.padded.push(b' ');
        let hashes = b.hashes.iter().map(|h| (h.unigram, h.bigram)).collect();
        (String::from_utf8(b.padded).unwrap(), b.words, hashes)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        #[test]
        fn plain_token_fast_path_matches_the_general_path(
            text in "([a-zA-Z0-9 @&#?!.,'_:/<>\t\n-]|\u{a0}|\u{e9}|\u{2019}|\u{1F620}|http://|www\\.|&amp;|aaaa|0000){0,40}"
        ) {
            let n = norm(&text);
            let hashes: Vec<(u64, u64)> = n.hashes.iter().map(|h| (h.unigram, h.bigram)).collect();
            let want = norm_token_by_token(&text);
            proptest::prop_assert_eq!((n.padded, n.words, hashes), want);
        }
    }

    proptest::proptest! {
        #[test]
        fn is_url_matches_the_prefixes_in_any_case(
            text in "([hHtTpPsSwW:/.\x1a\x0f]|http|HTTP|://|www|\u{e9}){0,6}"
        ) {
            let bytes = text.as_bytes();
            let want = ["http://", "https://", "www."].iter().any(|p| {
                bytes.len() >= p.len() && bytes[..p.len()].eq_ignore_ascii_case(p.as_bytes())
            });
            proptest::prop_assert_eq!(is_url(bytes), want);
        }
    }

    #[test]
    fn unicode_separators_split_like_ascii_ones() {
        for (text, want) in [
            ("a\u{a0}", " a "),
            ("\u{3000}a b\u{2028}", " a b "),
            ("a\u{85}\u{a0}b \u{a0}", " a b "),
            ("\u{a0}", "  "),
        ] {
            assert_eq!(norm(text).padded, want, "{text:?}");
        }
    }

    #[test]
    fn empty_text_has_no_words() {
        let n = norm("   ");
        assert!(n.words.is_empty());
        assert_eq!(n.padded, "  ");
    }
}

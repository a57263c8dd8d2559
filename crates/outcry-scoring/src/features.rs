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

/// Room after the end of the normalised text for [`Builder::push_plain`]'s eight-byte writes,
/// and the spaces [`normalize_into`] validates after it.
const SLACK: usize = 16;

/// The room [`Builder::make_room`] makes at least.
const ROOM: usize = 512;

struct Builder {
    /// the normalised text so far is `padded[..len]`; the rest is room to write in place
    /// (holding whatever was there before: only bytes written are read back)
    padded: Vec<u8>,
    len: usize,
    split: Splitter,
}

/// The words found so far and what the next word's bigram needs.
struct Splitter {
    words: Vec<(u32, u32)>,
    hashes: Vec<WordHashes>,
    /// FNV state of the last word's bigram prefix (namespace, its bytes, a 0 separator)
    prev_pre: Fnv64,
}

/// A word being split off, hashed as its bytes come.
struct OpenWord {
    start: usize,
    hash: Chains,
}

/// The FNV chains a word's bytes go through: its unigram, its bigram prefix (for the next
/// word's bigram) and its bigram with the previous word.
#[derive(Clone, Copy)]
struct Chains {
    uni: Fnv64,
    pre: Fnv64,
    bigram: Fnv64,
}

impl Chains {
    #[inline(always)]
    fn byte(&mut self, c: u8) {
        self.uni.byte(c);
        self.pre.byte(c);
        self.bigram.byte(c);
    }

    /// The first `n` (1 to 8) bytes of `w`, little-endian: all eight are hashed and the
    /// state after the `n`th picked by index. `n` is a word's length, which branch predictors
    /// miss about once a word when it ends a loop; the extra steps cost less than the misses.
    #[inline(always)]
    fn bytes(&mut self, w: u64, n: usize) {
        let mut states = [*self; 8];
        let mut s = *self;
        for (k, state) in states.iter_mut().enumerate() {
            s.byte((w >> (8 * k)) as u8);
            *state = s;
        }
        if let Some(s) = states.get(n.wrapping_sub(1)) {
            *self = *s;
        }
    }
}

impl Splitter {
    /// Takes the normalised byte `c`, written at `at`, of a token: runs of word bytes are
    /// words, and `?` / `!` are words on their own; hashes each word's unigram and its bigram
    /// with the previous word as [`for_each_feature`] does. `word` is the word `c` may extend;
    /// the caller closes it at the token's end.
    #[inline(always)]
    fn byte(&mut self, word: &mut Option<OpenWord>, c: u8, is_word: bool, at: usize) {
        if is_word {
            word.get_or_insert_with(|| self.open(at)).hash.byte(c);
            return;
        }
        if let Some(w) = word.take() {
            self.close(w, at);
        }
        self.mark(c, at);
    }

    /// Takes the byte `c`, written at `at`, that is not a word byte: `?` and `!` are words on
    /// their own.
    #[inline(always)]
    fn mark(&mut self, c: u8, at: usize) {
        if c == b'?' || c == b'!' {
            let mut w = self.open(at);
            w.hash.byte(c);
            self.close(w, at + 1);
        }
    }

    /// The words and their hashes; the first word has no bigram.
    fn finish(mut self) -> (Vec<(u32, u32)>, Vec<WordHashes>) {
        if let Some(first) = self.hashes.first_mut() {
            first.bigram = 0;
        }
        (self.words, self.hashes)
    }

    #[inline(always)]
    fn open(&self, at: usize) -> OpenWord {
        OpenWord {
            start: at,
            hash: Chains {
                uni: Fnv64::new(NS_UNIGRAM),
                pre: Fnv64::new(NS_BIGRAM),
                bigram: self.prev_pre,
            },
        }
    }

    /// Records the word `w`, ending at `end`.
    #[inline]
    fn close(&mut self, w: OpenWord, end: usize) {
        let Chains {
            uni,
            mut pre,
            bigram,
        } = w.hash;
        pre.byte(0);
        self.hashes.push(WordHashes {
            unigram: uni.finish(),
            // the first word's is set to 0 at the end (see `Splitter::finish`)
            bigram: bigram.finish(),
        });
        self.words.push((w.start as u32, end as u32));
        self.prev_pre = pre;
    }
}

/// Where a token starts, to take back what it pushed if it turns out not to be plain (see
/// [`Builder::take_back`]).
struct Mark {
    /// in the text
    at: usize,
    /// in the normalised text
    len: usize,
}

impl Builder {
    /// Pushes the plain tokens of `bytes` from `pos` on, folded, split and hashed in one pass
    /// (the common case of [`push_token`]): handles, URLs and tokens of ASCII bytes but NUL,
    /// with the few non-ASCII characters of [`Special`], and the ASCII separators between them.
    /// Returns where it stops: the end, or the start of a token it leaves to the general path
    /// (or a Unicode separator after one).
    #[inline(never)]
    fn push_plain(&mut self, bytes: &[u8], pos: usize) -> usize {
        let mut token = Mark {
            at: pos,
            len: self.len,
        };
        match self.push_plain_from(bytes, pos, &mut token) {
            Some(end) => end,
            None => {
                self.take_back(token.len);
                token.at
            }
        }
    }

    /// Takes back what was pushed from `len` on in the normalised text, and the words that
    /// start there or later (those of earlier tokens end before it). Rare, so the last word's
    /// bigram prefix is hashed again rather than saved at every token.
    #[cold]
    fn take_back(&mut self, len: usize) {
        self.len = len;
        let split = &mut self.split;
        let keep = split
            .words
            .iter()
            .rposition(|&(start, _)| (start as usize) < len)
            .map_or(0, |k| k + 1);
        split.words.truncate(keep);
        split.hashes.truncate(keep);
        split.prev_pre = Fnv64::new(NS_BIGRAM);
        if let Some(&(start, end)) = split.words.last() {
            let word = self.padded.get(start as usize..end as usize).unwrap_or(&[]);
            split.prev_pre.bytes(word);
            split.prev_pre.byte(0);
        }
    }

    /// [`Builder::push_plain`], marking each token's start in `token`; `None` at a token that
    /// is not plain, having pushed part of it. Runs of letters go eight bytes at a time.
    #[inline(always)]
    fn push_plain_from(&mut self, bytes: &[u8], mut i: usize, token: &mut Mark) -> Option<usize> {
        let buf = self.padded.as_mut_slice();
        let split = &mut self.split;
        let mut len = self.len;
        // the last byte written, `buf[len - 1]` (the normalised text starts with a space)
        let mut last = buf.get(len.wrapping_sub(1)).copied().unwrap_or(0);
        if bytes.get(i).is_some_and(|&c| is_ascii_py_space(c)) {
            if last != b' ' {
                *buf.get_mut(len)? = b' ';
                len += 1;
                last = b' ';
            }
            i = skip_separators(bytes, i);
        }
        while let Some(rest) = bytes.get(i..).filter(|r| !r.is_empty()) {
            *token = Mark { at: i, len };
            let mut word = None;
            let handle = || rest.len() > 1 && rest[0] == b'@' && !is_ascii_py_space(rest[1]);
            if may_be_handle_or_url(load8(bytes, i)) && (handle() || is_url(rest)) {
                let handle = handle();
                // the rest of the token, up to a byte the loop below ends it at; a handle keeps
                // what follows its name (a non-ASCII letter there leaves it to the general path)
                let (repl, n) = if handle {
                    (*b"@user\0\0\0", 1 + leading(&rest[1..], name_bytes))
                } else {
                    (*b"<url>\0\0\0", url_len(rest))
                };
                if !handle && rest.get(n).is_some_and(|c| !c.is_ascii()) {
                    // all of a URL token becomes `<url>`, up to a separator that may not be
                    // ASCII: the general path's to find
                    return None;
                }
                let repl = u64::from_le_bytes(repl);
                put8(buf, len, repl)?;
                word.get_or_insert_with(|| split.open(len))
                    .hash
                    .bytes(repl, 5);
                len += 5;
                last = (repl >> 32) as u8;
                i += n;
            }
            'token: loop {
                let w = load8(bytes, i);
                let (lower, n) = letter_run(w, last);
                if n > 0 {
                    // the whole chunk is written, but only its first `n` bytes are kept
                    put8(buf, len, lower)?;
                    word.get_or_insert_with(|| split.open(len))
                        .hash
                        .bytes(lower, n);
                    len += n;
                    i += n;
                    last = (lower >> (8 * (n - 1))) as u8;
                    if n == 8 {
                        continue;
                    }
                }
                // Most tokens end with a run of letters and a space: told from the chunk at
                // hand (whose byte `n` is `bytes[i]`, or 0 past the end; `n` is less than eight
                // here), as soon as the run's length is known, where the byte loop's test waits
                // on two loads (the byte, then its fold), and so is missed later, for longer.
                let mut c = (w >> (8 * n)) as u8;
                if c == b' ' {
                    break;
                }
                // byte by byte up to the next letter, the first (`c`) from the chunk at hand too
                loop {
                    if i >= bytes.len() {
                        break 'token;
                    }
                    let mut f = FOLD[usize::from(c)];
                    if f == b' ' {
                        break 'token;
                    }
                    // `FOLD` leaves some bytes to the general path that are taken here after all
                    let mut width = 1;
                    if f == 0 {
                        match Special::at(bytes, i)? {
                            Special::Folds(folded, n) => (f, width) = (folded, n),
                            Special::AsIs(m) => {
                                // a repeat may be one of a run to cut
                                if buf.get(len.wrapping_sub(3)..len) == Some(&m[..]) {
                                    return None;
                                }
                                for (at, &b) in (len..).zip(&m) {
                                    *buf.get_mut(at)? = b;
                                    split.byte(&mut word, b, true, at);
                                }
                                (len, i, last) = (len + 3, i + 3, m[2]);
                                match bytes.get(i) {
                                    Some(b) if b.is_ascii_alphabetic() => break,
                                    next => c = next.copied().unwrap_or(0),
                                }
                                continue;
                            }
                        }
                    }
                    let lc = f & !FOLD_WORD;
                    i += width;
                    if !repeats(buf, len, lc) {
                        *buf.get_mut(len)? = lc;
                        split.byte(&mut word, lc, f & FOLD_WORD != 0, len);
                        len += 1;
                        last = lc;
                    }
                    match bytes.get(i) {
                        Some(b) if b.is_ascii_alphabetic() => break,
                        next => c = next.copied().unwrap_or(0),
                    }
                }
            }
            if let Some(w) = word {
                split.close(w, len);
            }
            if i < bytes.len() {
                // ended by a separator: every token writes something, so one space follows
                *buf.get_mut(len)? = b' ';
                len += 1;
                last = b' ';
                i = skip_separators(bytes, i);
            }
        }
        self.len = len;
        Some(i)
    }

    /// Makes room to push the normalised form of `rest` more bytes of text in place: at most
    /// three bytes for each (a handle, at least two bytes and a separator, becomes at most
    /// seven), the closing space and [`SLACK`].
    fn make_room(&mut self, rest: usize) {
        let need = self.len + 3 * rest + 1 + SLACK;
        if self.padded.len() < need {
            // to a round size, which most texts need no more than: `resize` fills with a
            // `memset` whose branches on the length are missed when it varies
            self.padded.resize(need.max(ROOM), 0);
        }
    }

    /// The last byte pushed (0 before the first).
    fn last(&self) -> u8 {
        self.padded
            .get(self.len.wrapping_sub(1))
            .copied()
            .unwrap_or(0)
    }

    /// Appends one byte.
    fn put(&mut self, c: u8) {
        match self.padded.get_mut(self.len) {
            Some(slot) => *slot = c,
            None => self.padded.push(c),
        }
        self.len += 1;
    }

    /// Splits the bytes pushed from `from` on into words, as [`Splitter::byte`] does: each
    /// run of word bytes at once. A token's bytes end its last word.
    fn split_words(&mut self, from: usize) {
        let bytes = self.padded.get(..self.len).unwrap_or(&[]);
        let mut at = from;
        while let Some(&c) = bytes.get(at) {
            if is_word_byte(c) {
                let mut w = self.split.open(at);
                while let Some(&c) = bytes.get(at).filter(|&&c| is_word_byte(c)) {
                    w.hash.byte(c);
                    at += 1;
                }
                self.split.close(w, at);
                continue;
            }
            self.split.mark(c, at);
            at += 1;
        }
    }
}

/// Bytes that [`FOLD`] leaves to the general path but [`Builder::push_plain`] takes after all:
/// the entities `&amp;` `&gt;` `&lt;`, unescaped as `push_folded` does, and a few three-byte
/// punctuation marks, which are most of the non-ASCII characters in tweets. A token with any
/// other non-ASCII character (or NUL) goes to the general path.
enum Special {
    /// a byte as [`FOLD`] would have it (folded, [`FOLD_WORD`] for a word byte), and how many
    /// bytes of the text it takes: an entity or a `&`, and the curly single quotes, which fold
    /// to `'`
    Folds(u8, usize),
    /// a character that folds to itself (lowercase, not a separator, not a digit): curly double
    /// quotes, dashes, the bullet, the ellipsis and the replacement character
    AsIs([u8; 3]),
}

impl Special {
    /// The one at `bytes[i..]`, `None` if none.
    #[cold]
    #[inline(never)]
    fn at(bytes: &[u8], i: usize) -> Option<Special> {
        // `push_folded` replaces `&amp;` first, then `&gt;`, then `&lt;`, so that `&amp;gt;`
        // becomes `>`; an `&amp;` before `amp;` stays `&amp;`
        Some(match *bytes.get(i..)? {
            [b'&', b'a', b'm', b'p', b';', b'g', b't', b';', ..] => {
                Special::Folds(b'>' | FOLD_WORD, 8)
            }
            [b'&', b'a', b'm', b'p', b';', b'l', b't', b';', ..] => {
                Special::Folds(b'<' | FOLD_WORD, 8)
            }
            [b'&', b'a', b'm', b'p', b';', ..] => Special::Folds(b'&', 5),
            [b'&', b'g', b't', b';', ..] => Special::Folds(b'>' | FOLD_WORD, 4),
            [b'&', b'l', b't', b';', ..] => Special::Folds(b'<' | FOLD_WORD, 4),
            [b'&', ..] => Special::Folds(b'&', 1),
            [0xe2, 0x80, 0x98 | 0x99, ..] => Special::Folds(b'\'' | FOLD_WORD, 3),
            [a @ 0xe2, b @ 0x80, c @ (0x93 | 0x94 | 0x9c | 0x9d | 0xa2 | 0xa6), ..]
            | [a @ 0xef, b @ 0xbf, c @ 0xbd, ..] => Special::AsIs([a, b, c]),
            _ => return None,
        })
    }
}

/// How many bytes at the start of `bytes` `class` marks, eight at a time: `class` takes
/// eight bytes (little-endian, zero-padded) and sets 0x80 in those of the class, exactly up to
/// the first that is not; a zero byte must not be of the class.
#[inline(always)]
fn leading(bytes: &[u8], class: impl Fn(u64) -> u64) -> usize {
    let mut n = 0;
    loop {
        let k = (!class(load8(bytes, n)) & HIGH).trailing_zeros() as usize / 8;
        n += k;
        if k < 8 {
            return n.min(bytes.len());
        }
    }
}

/// For [`leading`]: the bytes of a handle's name, ASCII letters, digits and `_`.
#[inline(always)]
fn name_bytes(w: u64) -> u64 {
    let letters = lower_bytes(w | (ONES * 0x20));
    let digits = digit_bytes(w);
    // zero bytes of `v`, exactly (an underscore must not borrow from the byte after it)
    let v = w ^ (ONES * u64::from(b'_'));
    let underscores = !(((v & !HIGH) + !HIGH) | v);
    (letters | digits | underscores) & HIGH
}

/// The length of the URL at the start of `rest`: up to a separator or a non-ASCII byte.
#[inline(always)]
fn url_len(rest: &[u8]) -> usize {
    // ASCII above the space, eight at a time; then the rare control byte, one at a time
    let graphic = |w: u64| w.wrapping_add(ONES * 0x5f) & !w & HIGH;
    let mut n = 0;
    loop {
        n += leading(&rest[n..], graphic);
        match rest.get(n) {
            Some(&c) if c.is_ascii() && !is_ascii_py_space(c) => n += 1,
            _ => return n,
        }
    }
}

/// The index of the first byte from `i` on that is not an ASCII separator.
#[inline(always)]
fn skip_separators(bytes: &[u8], mut i: usize) -> usize {
    while bytes.get(i).is_some_and(|&c| is_ascii_py_space(c)) {
        i += 1;
    }
    i
}

/// Eight bytes of `b` from `at`, little-endian, zero-padded past the end (here and in
/// `vader`).
#[inline(always)]
pub(crate) fn load8(b: &[u8], at: usize) -> u64 {
    match b.get(at..).and_then(<[u8]>::first_chunk::<8>) {
        Some(&chunk) => u64::from_le_bytes(chunk),
        None => load_tail(b, at),
    }
}

/// [`load8`] within eight bytes of the end: the last eight bytes shifted down, rather than a
/// loop over the bytes left whose exit (at every text's last token) is mispredicted.
#[inline]
fn load_tail(b: &[u8], at: usize) -> u64 {
    match b.last_chunk::<8>() {
        Some(&last) if at < b.len() => u64::from_le_bytes(last) >> (8 * (at + 8 - b.len())),
        _ => load_le(b, at, 8),
    }
}

/// Writes the eight bytes `w` at `buf[at..]`, little-endian; `None` if there is no room.
#[inline(always)]
fn put8(buf: &mut [u8], at: usize, w: u64) -> Option<()> {
    *buf.get_mut(at..)?.first_chunk_mut()? = w.to_le_bytes();
    Some(())
}

/// Whether the folded byte `lc`, to be written at `len`, is dropped as a repeat: digit runs
/// collapse to one 0, other runs to at most three. Only a token's own bytes can match: a
/// space, never a folded byte, comes before every token, and what follows a handle's `@user`
/// does not start with a name byte.
#[inline(always)]
fn repeats(buf: &[u8], len: usize, lc: u8) -> bool {
    let back = |k: usize| len.checked_sub(k).and_then(|j| buf.get(j)) == Some(&lc);
    back(1) && (lc == b'0' || (back(2) && back(3)))
}

/// Byte-parallel arithmetic on eight bytes in a `u64` (here and in `vader`).
pub(crate) const ONES: u64 = 0x0101_0101_0101_0101;
pub(crate) const HIGH: u64 = ONES * 0x80;

/// 0x80 in the bytes of `w` that are `a..=z`: at least 0x61 (x + 0x1f reaches 0x80) and not
/// above 0x7a (x + 0x05 stays below). Exact for ASCII bytes, which never carry.
#[inline]
pub(crate) fn lower_bytes(w: u64) -> u64 {
    w.wrapping_add(ONES * 0x1f) & !w.wrapping_add(ONES * 0x05) & HIGH
}

/// 0x80 in the bytes of `w` that are `0..=9`: at least 0x30 (x + 0x50 reaches 0x80) and not
/// above 0x39 (x + 0x46 stays below). Exact for ASCII bytes.
#[inline]
pub(crate) fn digit_bytes(w: u64) -> u64 {
    w.wrapping_add(ONES * 0x50) & !w.wrapping_add(ONES * 0x46) & HIGH
}

/// The ASCII letters at the start of the eight bytes `w` (little-endian): `w` with its
/// letters lowercased, and how many leading bytes are letters that [`repeats`] would keep
/// without looking further back than `last` (the byte written before them). A letter equal
/// to the one before it ends the run if that one also repeats or is `last`, so that the byte
/// path decides every run of three or more. The run may end early (at a byte the byte path
/// then takes) but never late: the additions carry only out of bytes from 0x80, which end it
/// anyway, and the subtraction's borrows only add bytes to `same`.
///
/// The run's length is on the path from one token to the next (where the next chunk is), so
/// repeats are found from `w` itself, alongside the letters, and not from `lower`.
#[inline(always)]
fn letter_run(w: u64, last: u8) -> (u64, usize) {
    // A..=Z and a..=z are the bytes that land in a..=z with 0x20 set
    let letters = lower_bytes(w | (ONES * 0x20));
    let lower = w | (letters >> 2);
    // the zero bytes of `x`: each byte equal to the one before it but for 0x20, which for a
    // letter after a letter (or after `last`, lowercase) is the same letter
    let x = (w ^ ((w << 8) | u64::from(last))) & !(ONES * 0x20);
    let same = x.wrapping_sub(ONES) & !x & HIGH;
    let stop = (letters ^ HIGH) | (same & ((same << 8) | 0x80));
    (lower, stop.trailing_zeros() as usize / 8)
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

/// Whether a token whose first eight bytes are `w` (little-endian) may be a handle or a URL:
/// one test that is rarely true, where testing the first byte for `@`, `h` or `w` would be
/// true about once in six tokens, and often mispredicted.
#[inline(always)]
fn may_be_handle_or_url(w: u64) -> bool {
    // the first four bytes with 0x20 set, as in `is_url`
    let four = (w | 0x2020_2020) as u32;
    let le = |p: &[u8; 4]| u32::from_le_bytes(*p);
    (w as u8 == b'@') | (four == le(b"http")) | (four == le(b"www."))
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
    let mut push = |lc: char| {
        if Some(lc) == prev {
            run += 1;
            // digit runs collapse to one 0, other runs to at most three
            if (lc == '0' && run > 1) || run > 3 {
                return;
            }
        } else {
            prev = Some(lc);
            run = 1;
        }
        match u8::try_from(lc) {
            Ok(b) if b.is_ascii() => out.push(b),
            _ => out.extend_from_slice(lc.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    };
    for c in raw.chars() {
        // most characters here are ASCII, in a token with one that is not
        if c.is_ascii_digit() {
            push('0');
        } else if c.is_ascii() {
            push(c.to_ascii_lowercase());
        } else {
            for lc in c.to_lowercase() {
                push(match lc {
                    '0'..='9' => '0',
                    '\u{2018}' | '\u{2019}' => '\'',
                    other => other,
                });
            }
        }
    }
}

/// Folded form of each byte for [`Builder::push_plain`]: ASCII lowercase, digits `0`, with
/// [`FOLD_WORD`] added for word bytes (so one load gives both); a space for the ASCII
/// separators; zero for the bytes it leaves to the general path (non-ASCII, `&`, NUL), but for
/// those of [`Special`].
static FOLD: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 1usize;
    while b < 128 {
        let c = b as u8;
        t[b] = if c.is_ascii_digit() {
            b'0'
        } else if BYTE_CLASS[b] & PY_SPACE != 0 {
            b' '
        } else {
            c.to_ascii_lowercase()
        };
        if BYTE_CLASS[b] & WORD_BYTE != 0 {
            t[b] |= FOLD_WORD;
        }
        b += 1;
    }
    t[b'&' as usize] = 0;
    t
};

/// Marks a word byte in [`FOLD`] (the folded bytes are ASCII).
const FOLD_WORD: u8 = 0x80;

/// `text.split(is_py_space).filter(|s| !s.is_empty())`, bytewise over ASCII (the scorer
/// walks [`PyWords`] from a position; signal evidence and tests from the start).
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

/// The byte range in `text` from the start of its whitespace token `first` to the end of
/// token `last` (counting from 0, as [`py_words`] splits), if it has that many.
///
/// Quoting signal evidence needs it for a text with a signal, about one in three: a text with
/// no Unicode separator (nearly all) is scanned eight bytes at a time, with no branch per
/// token (where a token ends, which predictors miss about once a token); any other goes
/// through [`py_words`].
pub(crate) fn token_span(text: &str, first: usize, last: usize) -> Option<(usize, usize)> {
    if first > last {
        return None;
    }
    let bytes = text.as_bytes();
    if !bytes.is_ascii() && may_hold_unicode_space(bytes) {
        let offset = |t: &str| t.as_ptr() as usize - text.as_ptr() as usize;
        let mut tokens = py_words(text).skip(first);
        let first_token = tokens.next()?;
        let last_token = match last - first {
            0 => first_token,
            n => tokens.nth(n - 1)?,
        };
        return Some((offset(first_token), offset(last_token) + last_token.len()));
    }
    let (start, last_start) = token_starts(bytes, first, last)?;
    Some((start, next_space(bytes, last_start)))
}

/// Whether `bytes` may hold a separator of Python's `str.split()` outside ASCII: U+0085,
/// U+00A0, U+1680, U+2000 to U+200A, U+2028, U+2029, U+202F, U+205F and U+3000, by their
/// UTF-8 lead bytes and the bytes after (a curly quote, E2 80 99, is not one).
pub(crate) fn may_hold_unicode_space(bytes: &[u8]) -> bool {
    let at = |i: usize| bytes.get(i).copied().unwrap_or(0);
    bytes.iter().enumerate().any(|(i, &b)| {
        (0xc2..=0xe3).contains(&b)
            && match (b, at(i + 1), at(i + 2)) {
                (0xc2, second, _) => second == 0x85 || second == 0xa0,
                (0xe1, 0x9a, 0x80) | (0xe2, 0x81, 0x9f) | (0xe3, 0x80, 0x80) => true,
                (0xe2, 0x80, third) => matches!(third, 0x80..=0x8a | 0xa8 | 0xa9 | 0xaf),
                _ => false,
            }
    })
}

/// Bytes `at..at + 8` of a text, little-endian, with spaces past its end.
#[inline(always)]
fn chunk(bytes: &[u8], at: usize) -> u64 {
    if let Some(Ok(w)) = bytes.get(at..at + 8).map(<[u8; 8]>::try_from) {
        return u64::from_le_bytes(w);
    }
    let mut w = [b' '; 8];
    let rest = bytes.get(at..).unwrap_or_default();
    let n = rest.len().min(8);
    w[..n].copy_from_slice(&rest[..n]);
    u64::from_le_bytes(w)
}

/// The high bit of each byte of `w` that Python's `str.split()` splits on, in a text with no
/// separator outside ASCII (bytes of other characters are never one).
#[inline(always)]
fn space_bits(w: u64) -> u64 {
    let ascii = !w & HIGH;
    // with the high bits cleared, adding 0x5f or 0x60 carries into no other byte
    let low = w & !HIGH;
    let at_most_space = !(low + 0x5f * ONES) & ascii;
    let control = !(low + 0x60 * ONES) & ascii;
    if control == 0 {
        return at_most_space;
    }
    // a control byte: line breaks and tabs split, other control bytes do not
    (0..8).fold(0, |m, i| {
        m | u64::from(is_ascii_py_space((w >> (8 * i)) as u8)) << (8 * i + 7)
    })
}

/// The bytes where tokens `first` and `last` (from 0, `first <= last`) of a text with no
/// separator outside ASCII start, in one pass.
fn token_starts(bytes: &[u8], first: usize, last: usize) -> Option<(usize, usize)> {
    let (mut seen, mut found) = (0usize, None);
    // the byte before the text counts as a space
    let mut carry = 0x80u64;
    let mut at = 0;
    while at < bytes.len() {
        let space = space_bits(chunk(bytes, at));
        let starts = !space & HIGH & ((space << 8) | carry);
        carry = space >> 56;
        let count = starts.count_ones() as usize;
        // the `k`th start of the chunk (from 0)
        let nth = |k: usize| {
            let mut m = starts;
            for _ in 0..k {
                m &= m - 1;
            }
            at + m.trailing_zeros() as usize / 8
        };
        if found.is_none() && seen + count > first {
            found = Some(nth(first - seen));
        }
        if seen + count > last {
            return found.map(|f| (f, nth(last - seen)));
        }
        seen += count;
        at += 8;
    }
    None
}

/// The first byte at or after `from` that is a space, or the end of the text.
fn next_space(bytes: &[u8], from: usize) -> usize {
    let mut at = from;
    while at < bytes.len() {
        let space = space_bits(chunk(bytes, at));
        if space != 0 {
            return (at + space.trailing_zeros() as usize / 8).min(bytes.len());
        }
        at += 8;
    }
    bytes.len()
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
mod tests;

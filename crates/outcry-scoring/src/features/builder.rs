//! The normaliser's builder: one pass over the text that writes the normalised bytes, splits
//! them into words and hashes each word as it goes.

use super::*;

/// Room after the end of the normalised text for [`Builder::push_plain`]'s eight-byte writes,
/// and the spaces [`normalize_into`] validates after it.
pub(super) const SLACK: usize = 16;

/// The room [`Builder::make_room`] makes at least.
pub(super) const ROOM: usize = 512;

pub(super) struct Builder {
    /// the normalised text so far is `padded[..len]`; the rest is room to write in place
    /// (holding whatever was there before: only bytes written are read back)
    pub(super) padded: Vec<u8>,
    pub(super) len: usize,
    pub(super) split: Splitter,
}

/// The words found so far and what the next word's bigram needs.
pub(super) struct Splitter {
    pub(super) words: Vec<(u32, u32)>,
    pub(super) hashes: Vec<WordHashes>,
    /// FNV state of the last word's bigram prefix (namespace, its bytes, a 0 separator)
    pub(super) prev_pre: Fnv64,
}

/// A word being split off, hashed as its bytes come.
pub(super) struct OpenWord {
    pub(super) start: usize,
    pub(super) hash: Chains,
}

/// The FNV chains a word's bytes go through: its unigram, its bigram prefix (for the next
/// word's bigram) and its bigram with the previous word.
#[derive(Clone, Copy)]
pub(super) struct Chains {
    pub(super) uni: Fnv64,
    pub(super) pre: Fnv64,
    pub(super) bigram: Fnv64,
}

impl Chains {
    #[inline(always)]
    pub(super) fn byte(&mut self, c: u8) {
        self.uni.byte(c);
        self.pre.byte(c);
        self.bigram.byte(c);
    }

    /// The first `n` (1 to 8) bytes of `w`, little-endian: all eight are hashed and the
    /// state after the `n`th picked by index. `n` is a word's length, which branch predictors
    /// miss about once a word when it ends a loop; the extra steps cost less than the misses.
    #[inline(always)]
    pub(super) fn bytes(&mut self, w: u64, n: usize) {
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
    pub(super) fn byte(&mut self, word: &mut Option<OpenWord>, c: u8, is_word: bool, at: usize) {
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
    pub(super) fn mark(&mut self, c: u8, at: usize) {
        if c == b'?' || c == b'!' {
            let mut w = self.open(at);
            w.hash.byte(c);
            self.close(w, at + 1);
        }
    }

    /// The words and their hashes; the first word has no bigram.
    pub(super) fn finish(mut self) -> (Vec<(u32, u32)>, Vec<WordHashes>) {
        if let Some(first) = self.hashes.first_mut() {
            first.bigram = 0;
        }
        (self.words, self.hashes)
    }

    #[inline(always)]
    pub(super) fn open(&self, at: usize) -> OpenWord {
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
    pub(super) fn close(&mut self, w: OpenWord, end: usize) {
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
pub(super) struct Mark {
    /// in the text
    pub(super) at: usize,
    /// in the normalised text
    pub(super) len: usize,
}

impl Builder {
    /// Pushes the plain tokens of `bytes` from `pos` on, folded, split and hashed in one pass
    /// (the common case of [`push_token`]): handles, URLs and tokens of ASCII bytes but NUL,
    /// with the few non-ASCII characters of [`Special`], and the ASCII separators between them.
    /// Returns where it stops: the end, or the start of a token it leaves to the general path
    /// (or a Unicode separator after one).
    #[inline(never)]
    pub(super) fn push_plain(&mut self, bytes: &[u8], pos: usize) -> usize {
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
    pub(super) fn take_back(&mut self, len: usize) {
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
    pub(super) fn push_plain_from(
        &mut self,
        bytes: &[u8],
        mut i: usize,
        token: &mut Mark,
    ) -> Option<usize> {
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
    pub(super) fn make_room(&mut self, rest: usize) {
        let need = self.len + 3 * rest + 1 + SLACK;
        if self.padded.len() < need {
            // to a round size, which most texts need no more than: `resize` fills with a
            // `memset` whose branches on the length are missed when it varies
            self.padded.resize(need.max(ROOM), 0);
        }
    }

    /// The last byte pushed (0 before the first).
    pub(super) fn last(&self) -> u8 {
        self.padded
            .get(self.len.wrapping_sub(1))
            .copied()
            .unwrap_or(0)
    }

    /// Appends one byte.
    pub(super) fn put(&mut self, c: u8) {
        match self.padded.get_mut(self.len) {
            Some(slot) => *slot = c,
            None => self.padded.push(c),
        }
        self.len += 1;
    }

    /// Splits the bytes pushed from `from` on into words, as [`Splitter::byte`] does: each
    /// run of word bytes at once. A token's bytes end its last word.
    pub(super) fn split_words(&mut self, from: usize) {
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
pub(super) enum Special {
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
    pub(super) fn at(bytes: &[u8], i: usize) -> Option<Special> {
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

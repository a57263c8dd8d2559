//! Tokenising as VADER does (Python's `str.split()`, punctuation stripped from words), fast
//! paths for short ASCII words, and each token's look-up.

use super::*;

impl SentimentAnalyzer {
    /// Splits text like Python's `str.split()` and resolves every token: ASCII tokens on the
    /// fast paths, tokens with other characters on the exact one unless those are all plain
    /// (see [`SentimentAnalyzer::plain_chars`]). With `stop_at_emoji`, stops at the first
    /// token with an emoji and returns true (the text must be tokenised again after replacing
    /// them); otherwise returns false.
    ///
    /// Most tokens are words of up to 15 bytes followed by one space: the one or two eight-byte
    /// loads at a token's start then give its end, and are the key to look it up with. Longer
    /// ASCII tokens go to [`SentimentAnalyzer::push_long`]; others (followed by other
    /// whitespace, or touching control or non-ASCII characters) take the general boundary
    /// search.
    pub(super) fn tokens(
        &self,
        text: &str,
        stats: &mut TextStats,
        out: &mut Scratch,
        stop_at_emoji: bool,
    ) -> bool {
        let b = text.as_bytes();
        let mut pusher = Pusher::default();
        let mut i = 0;
        while i < b.len() {
            // the first stop byte of the sixteen (padding past the end counts), or the byte
            // after them, is a space or the end: the token is i..end, one to fifteen ASCII
            // bytes, and the next one starts after the space (a longer run of whitespace is
            // skipped next time round). One branch on whether the first eight bytes hold its
            // end picks the path for the token's length.
            let w = load8(b, i);
            let stops = stop_bytes(w);
            let n = if stops != 0 {
                let n = (stops.trailing_zeros() / 8) as usize;
                if n > 0 && matches!(b.get(i + n), Some(b' ') | None) {
                    pusher.push(out, self.token_short(n, w, stats));
                    i += n + 1;
                    continue;
                }
                n
            } else {
                let w2 = load8(b, i + 8);
                let n = 8 + (stop_bytes(w2).trailing_zeros() / 8) as usize;
                if n < 16 && matches!(b.get(i + n), Some(b' ') | None) {
                    pusher.push(out, self.token_two(n, w, w2, stats));
                    i += n + 1;
                    continue;
                }
                n
            };
            if n == 0 {
                let start = skip_separators(text, i);
                if start > i {
                    i = start;
                    continue;
                }
            }
            let e = if n == 16 {
                self.push_long(text, i, stats, stop_at_emoji, &mut pusher, out)
            } else {
                self.push_general(text, i, stats, stop_at_emoji, &mut pusher, out)
            };
            let Some(e) = e else {
                return true;
            };
            i = e;
        }
        pusher.finish(out);
        false
    }

    /// The ASCII token of `n` bytes (one to seven) whose bytes (and what follows them) are
    /// `w`, as the tokeniser loaded them to find its end. Most tokens are letters and digits
    /// only: they take a few dozen instructions and one look-up, with nothing to strip, no
    /// marks to count and no "n't" to look for. The others (one in five) are stripped with
    /// the same masks by [`SentimentAnalyzer::token_punct`].
    #[inline(always)]
    pub(super) fn token_short(&self, n: usize, w: u64, stats: &mut TextStats) -> Token {
        let mask = u64::MAX >> (64 - 8 * n);
        let t = w & mask;
        let (upper, lower) = (upper_bytes(t), lower_bytes(t));
        let alnum = upper | lower | digit_bytes(t);
        // Python's isupper: some cased character and no lowercase one (punctuation is
        // uncased, so stripping it changes nothing)
        let all_caps = (upper != 0) & (lower == 0);
        stats.upper += usize::from(all_caps);
        let key = t | (upper >> 2);
        let mut token = if alnum == HIGH & mask {
            self.words.get_short(key, n)
        } else {
            self.token_punct(u128::from(t), u128::from(key), u128::from(alnum), n, stats)
        };
        token.add_flags(u8::from(all_caps) * ALL_CAPS);
        token
    }

    /// [`SentimentAnalyzer::token_short`] for a token of 8 to 15 bytes (one in six), whose
    /// bytes are `w0` (the first eight) and `w1`.
    #[inline(always)]
    pub(super) fn token_two(&self, n: usize, w0: u64, w1: u64, stats: &mut TextStats) -> Token {
        let mask = (1 << (8 * (n - 8))) - 1;
        let t1 = w1 & mask;
        let (upper0, lower0) = (upper_bytes(w0), lower_bytes(w0));
        let (upper1, lower1) = (upper_bytes(t1), lower_bytes(t1));
        let (alnum0, alnum1) = (
            upper0 | lower0 | digit_bytes(w0),
            upper1 | lower1 | digit_bytes(t1),
        );
        let all_caps = (upper0 | upper1 != 0) & (lower0 | lower1 == 0);
        stats.upper += usize::from(all_caps);
        let (key0, key1) = (w0 | (upper0 >> 2), t1 | (upper1 >> 2));
        // `&` rather than `&&`: one branch for both words
        let mut token = if (alnum0 == HIGH) & (alnum1 == HIGH & mask) {
            self.words.get_upto16(key0, key1, n)
        } else {
            let wide = |lo: u64, hi: u64| u128::from(lo) | u128::from(hi) << 64;
            let (t, key, alnum) = (wide(w0, t1), wide(key0, key1), wide(alnum0, alnum1));
            self.token_punct(t, key, alnum, n, stats)
        };
        token.add_flags(u8::from(all_caps) * ALL_CAPS);
        token
    }

    /// The token of the `n` ASCII bytes `t` (1 to 15, zero-padded, none of them whitespace
    /// or control characters) that are not all letters and digits, from the masks the fast
    /// paths computed for them: `key`, the bytes lowercased, and `alnum`, 0x80 in the
    /// letters and digits. Counts the token's marks into `stats`; leaves [`ALL_CAPS`] to the
    /// caller.
    ///
    /// Most of these tokens are words with punctuation before or after them: stripping it
    /// is a shift of the key by the leading punctuation and a mask at the last word byte,
    /// both found from `alnum`, so that they need not leave the tokeniser's loop for the
    /// general path. Every mark of the token counts, stripped or not, and "n't" (letters
    /// around an apostrophe) is always inside what stripping keeps, so neither depends on
    /// the stripping.
    #[inline(always)]
    pub(super) fn token_punct(
        &self,
        t: u128,
        key: u128,
        alnum: u128,
        n: usize,
        stats: &mut TextStats,
    ) -> Token {
        // DEL is neither punctuation nor a letter: stripping stops at it (adding one to a
        // byte below 0x80 sets its top bit only for DEL)
        let word = alnum | (t.wrapping_add(u128::MAX / 0xff) & (u128::MAX / 0xff * 0x80));
        // from the first to the last byte that is not punctuation (none: 16 and 0)
        let s = (word.trailing_zeros() / 8) as usize;
        let e = 16 - (word.leading_zeros() / 8) as usize;
        // the reference strips only when at least three characters are left
        let (s, len) = if e >= s + 3 { (s, e - s) } else { (0, n) };
        let stripped = (key >> (8 * s)) & (u128::MAX >> (128 - 8 * len));
        let (first, second) = (stripped as u64, (stripped >> 64) as u64);
        stats.add_marks(t);
        let nt = eq_bytes(key, b'n') & eq_bytes(key, b'\'') >> 8 & eq_bytes(key, b't') >> 16;
        token(self.words.get_upto16(first, second, len), false, || nt != 0)
    }

    /// Pushes the token starting at `i` whose first sixteen bytes are ASCII and neither
    /// whitespace nor control characters, and returns where it ends, like
    /// [`SentimentAnalyzer::push_general`]. Most such tokens are links, longer than any key
    /// even when stripped: their capitals, marks and "n't" come from eight bytes at a time,
    /// and they are not stripped or looked up. The others take the general paths.
    #[inline(never)]
    pub(super) fn push_long(
        &self,
        text: &str,
        i: usize,
        stats: &mut TextStats,
        stop_at_emoji: bool,
        pusher: &mut Pusher,
        out: &mut Scratch,
    ) -> Option<usize> {
        let b = text.as_bytes();
        let mut e = i + 16;
        loop {
            let stops = stop_bytes(load8(b, e));
            if stops != 0 {
                e += (stops.trailing_zeros() / 8) as usize;
                break;
            }
            e += 8;
        }
        if !matches!(b.get(e), Some(b' ') | None) {
            return self.push_general(text, i, stats, stop_at_emoji, pusher, out);
        }
        // what stripping leaves, from the first and last eight bytes of the token (DEL is
        // not stripped); a token with eight or more punctuation characters at an end takes
        // the general path
        let kept = |w: u64| {
            upper_bytes(w) | lower_bytes(w) | digit_bytes(w) | eq_bytes(u128::from(w), 0x7f) as u64
        };
        let (head, tail) = (kept(load8(b, i)), kept(load8(b, e - 8)));
        let len = e - i;
        let stripped = len - (head.trailing_zeros() / 8 + tail.leading_zeros() / 8) as usize;
        let key_len = if stripped >= 3 { stripped } else { len };
        if head == 0 || tail == 0 || key_len <= self.words.max_len {
            pusher.push(out, self.token_ascii(text, i, e, stats));
            return Some(e);
        }
        pusher.push(out, plain_token(b, i, e, stats));
        Some(e)
    }

    /// Pushes the token starting at `i` when it is not one for the fast paths, and returns
    /// where it ends; `None` when `stop_at_emoji` and it has an emoji. Out of line, so that
    /// the fast paths' loop keeps its registers; and it pushes the token itself because a
    /// token returned through memory, built there field by field, is then read back whole,
    /// which the CPU cannot forward from the stores (a stall of a dozen cycles).
    #[inline(never)]
    pub(super) fn push_general(
        &self,
        text: &str,
        i: usize,
        stats: &mut TextStats,
        stop_at_emoji: bool,
        pusher: &mut Pusher,
        out: &mut Scratch,
    ) -> Option<usize> {
        let (e, ascii, plain) = word_end(text, i, &self.plain_chars);
        let token = if ascii {
            self.token_ascii(text, i, e, stats)
        } else if plain {
            // no emoji, and not a key
            plain_token(text.as_bytes(), i, e, stats)
        } else {
            let raw = text.get(i..e).unwrap_or_default();
            if stop_at_emoji && self.has_emoji(raw) {
                return None;
            }
            self.token_non_ascii(raw, stats)
        };
        pusher.push(out, token);
        Some(e)
    }

    /// The ASCII token `text[start..end]`; words of up to eight bytes are handled in one
    /// 64-bit word. Inlined into its callers, which push the token (see
    /// [`SentimentAnalyzer::push_general`]).
    #[inline(always)]
    pub(super) fn token_ascii(
        &self,
        text: &str,
        start: usize,
        end: usize,
        stats: &mut TextStats,
    ) -> Token {
        let b = text.as_bytes();
        let (ws, we) = strip_ascii_punct(b, start, end, stats);
        let len = we - ws;
        if len > 16 {
            return self.token_ascii_long(b, ws, we, stats);
        }
        if len > 8 {
            return self.token_ascii_two(b, ws, we, stats);
        }
        self.token_ascii_short(b, ws, we, load_le(b, ws, len), stats)
    }

    /// The ASCII word `b[ws..we]` of at most eight bytes, `w` (zero-padded).
    #[inline(always)]
    pub(super) fn token_ascii_short(
        &self,
        b: &[u8],
        ws: usize,
        we: usize,
        w: u64,
        stats: &mut TextStats,
    ) -> Token {
        let len = we - ws;
        let c = Chunk::new(w, len);
        let word = || b.get(ws..we).unwrap_or_default();
        if !c.letters_only && has_mark(w) {
            stats.count_marks(word());
        }
        // Python's isupper: some cased character and no lowercase one
        let all_caps = c.upper != 0 && c.lower == 0;
        stats.upper += usize::from(all_caps);
        token(self.words.get_short(c.key, len), all_caps, || {
            !c.letters_only && has_byte(w, b'\'') && contains_nt(word())
        })
    }

    /// The ASCII word `b[start..end]` of 9 to 16 bytes (a tenth of the words): two chunks,
    /// the first one full.
    #[inline]
    pub(super) fn token_ascii_two(
        &self,
        b: &[u8],
        start: usize,
        end: usize,
        stats: &mut TextStats,
    ) -> Token {
        let len = end - start;
        let (w0, w1) = (load_le(b, start, 8), load_le(b, start + 8, len - 8));
        let (c0, c1) = (Chunk::new(w0, 8), Chunk::new(w1, len - 8));
        let word = || b.get(start..end).unwrap_or_default();
        let letters_only = c0.letters_only && c1.letters_only;
        if !letters_only && (has_mark(w0) || has_mark(w1)) {
            stats.count_marks(word());
        }
        let all_caps = (c0.upper | c1.upper) != 0 && (c0.lower | c1.lower) == 0;
        stats.upper += usize::from(all_caps);
        token(self.words.get_two(c0.key, c1.key, len), all_caps, || {
            !letters_only && contains_nt(word())
        })
    }

    /// The ASCII word `b[start..end]` (what is left of a token after stripping) when it is
    /// longer than sixteen bytes.
    #[inline(never)]
    pub(super) fn token_ascii_long(
        &self,
        b: &[u8],
        start: usize,
        end: usize,
        stats: &mut TextStats,
    ) -> Token {
        let word = b.get(start..end).unwrap_or_default();
        let len = word.len();
        if len > self.words.max_len {
            // longer than any key (links, mostly): only the counts and flags
            let mut flags = WordFlags::default();
            for k in (0..len).step_by(8) {
                let n = (len - k).min(8);
                flags.add(load_le(b, start + k, n), n);
            }
            let all_caps = flags.count(word, stats);
            return token(WordInfo::default(), all_caps, || {
                flags.apostrophe && contains_nt(word)
            });
        }
        if len > INLINE_LEN {
            stats.count_marks(word);
            let all_caps =
                !word.iter().any(u8::is_ascii_lowercase) && word.iter().any(u8::is_ascii_uppercase);
            stats.upper += usize::from(all_caps);
            let info = self.words.get_bytes(&word.to_ascii_lowercase());
            return token(info, all_caps, || contains_nt(word));
        }
        let mut key = [0u8; INLINE_LEN];
        let mut flags = WordFlags::default();
        for (k, chunk) in key.chunks_exact_mut(8).enumerate().take(word_count(len)) {
            let n = (len - 8 * k).min(8);
            // loads from the whole text, so that only a word at its very end is read bytewise
            let lower = flags.add(load_le(b, start + 8 * k, n), n).key;
            chunk.copy_from_slice(&lower.to_le_bytes());
        }
        let all_caps = flags.count(word, stats);
        let info = self.words.get_bytes(key.get(..len).unwrap_or_default());
        token(info, all_caps, || flags.apostrophe && contains_nt(word))
    }

    /// A token with non-ASCII characters: [`SentimentAnalyzer::token_exact`], without the
    /// lowercasing and look-up when no key can match.
    pub(super) fn token_non_ascii(&self, raw: &str, stats: &mut TextStats) -> Token {
        let word = strip_punct_if_word(raw);
        if self.words.may_have(word) {
            return self.token_exact(raw, stats);
        }
        stats.count_marks(raw.as_bytes());
        let all_caps = py_isupper(word);
        stats.upper += usize::from(all_caps);
        // only 'N', 'n', '\'', 'T' and 't' lowercase to "n't"'s characters, one each
        token(WordInfo::default(), all_caps, || {
            contains_nt(word.as_bytes())
        })
    }

    /// Any token, with Unicode lowercasing and Python's `isupper`.
    pub(super) fn token_exact(&self, raw: &str, stats: &mut TextStats) -> Token {
        let word = strip_punct_if_word(raw);
        stats.count_marks(raw.as_bytes());
        let all_caps = py_isupper(word);
        stats.upper += usize::from(all_caps);
        let lower = word.to_lowercase();
        token(self.words.get_bytes(lower.as_bytes()), all_caps, || {
            lower.contains("n't")
        })
    }
}

/// `b[start..end]` without leading and trailing ASCII punctuation, unless that leaves fewer
/// than three characters (see [`strip_punct_if_word`]). Counts the '!' and '?' stripped,
/// since the caller only looks at the rest.
#[inline]
fn strip_ascii_punct(b: &[u8], start: usize, end: usize, stats: &mut TextStats) -> (usize, usize) {
    let Some(token) = b.get(start..end) else {
        return (start, end);
    };
    match (token.first(), token.last()) {
        (Some(&first), Some(&last)) if (class(first) | class(last)) & PUNCT != 0 => {
            let (s, e) = strip_punct_runs(token, stats);
            (start + s, start + e)
        }
        _ => (start, end),
    }
}

fn strip_punct_runs(token: &[u8], stats: &mut TextStats) -> (usize, usize) {
    let (s, e) = punct_runs(token);
    if e - s < 3 {
        return (0, token.len());
    }
    stats.count_marks(token.get(..s).unwrap_or_default());
    stats.count_marks(token.get(e..).unwrap_or_default());
    (s, e)
}

/// Where the word inside `token`'s leading and trailing ASCII punctuation starts and ends.
#[inline]
fn punct_runs(token: &[u8]) -> (usize, usize) {
    let is_word = |&x: &u8| class(x) & PUNCT == 0;
    let s = token.iter().position(is_word).unwrap_or(token.len());
    let e = token.iter().rposition(is_word).map_or(s, |p| p + 1);
    (s, e)
}

/// The token `b[i..e]` when it is no key, whatever is stripped, and its characters other than
/// ASCII are uncased (see [`SentimentAnalyzer::plain_chars`]): its capitals, marks and "n't"
/// are those of its ASCII characters, found eight bytes at a time. Stripping would not change
/// them: punctuation is uncased, every mark counts, and "n't" is always inside what stripping
/// keeps.
#[inline]
fn plain_token(b: &[u8], i: usize, e: usize, stats: &mut TextStats) -> Token {
    let (mut upper, mut lower, mut apostrophe) = (0, 0, 0);
    for k in (i..e).step_by(8) {
        let w = load8(b, k) & (u64::MAX >> (64 - 8 * (e - k).min(8)));
        // the bytes of other characters to zero, which none of the tests below takes
        let w = w & !(((w & HIGH) >> 7) * 0xff);
        upper |= upper_bytes(w);
        lower |= lower_bytes(w);
        apostrophe |= eq_bytes(u128::from(w), b'\'') as u64;
        stats.add_marks(u128::from(w));
    }
    let all_caps = upper != 0 && lower == 0;
    stats.upper += usize::from(all_caps);
    let word = b.get(i..e).unwrap_or_default();
    token(WordInfo::default(), all_caps, || {
        apostrophe != 0 && contains_nt(word)
    })
}

/// Whether the lowercase of the ASCII `word` contains "n't".
fn contains_nt(word: &[u8]) -> bool {
    word.windows(3)
        .any(|w| w[0] | 0x20 == b'n' && w[1] == b'\'' && w[2] | 0x20 == b't')
}

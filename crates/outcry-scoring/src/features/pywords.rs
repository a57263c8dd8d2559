//! Python's `str.split()` over the raw text, for VADER and for quoting evidence.

use super::*;

/// `text.split(is_py_space).filter(|s| !s.is_empty())`, bytewise over ASCII (the scorer
/// walks [`PyWords`] from a position; signal evidence and tests from the start).
pub(crate) fn py_words(text: &str) -> PyWords<'_> {
    PyWords { text, pos: 0 }
}

pub(crate) struct PyWords<'t> {
    pub(super) text: &'t str,
    pub(super) pos: usize,
}

impl PyWords<'_> {
    /// length of the separator starting at byte `i` (0 if none), and the length of the
    /// character there (1 for ASCII and for bytes inside a character)
    #[inline]
    pub(super) fn space_at(&self, i: usize) -> (usize, usize) {
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
pub(super) fn chunk(bytes: &[u8], at: usize) -> u64 {
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
pub(super) fn space_bits(w: u64) -> u64 {
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
pub(super) fn token_starts(bytes: &[u8], first: usize, last: usize) -> Option<(usize, usize)> {
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
pub(super) fn next_space(bytes: &[u8], from: usize) -> usize {
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
pub(super) fn is_ascii_py_space(b: u8) -> bool {
    BYTE_CLASS[usize::from(b)] & PY_SPACE != 0
}

pub(super) const PY_SPACE: u8 = 1;
pub(super) const WORD_BYTE: u8 = 2;
pub(super) const NON_ASCII: u8 = 4;

/// Per-byte classes: [`PY_SPACE`] for ASCII separators, [`WORD_BYTE`] for word bytes,
/// [`NON_ASCII`] for bytes of multi-byte characters.
pub(super) static BYTE_CLASS: [u8; 256] = {
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
pub(super) fn is_word_byte(b: u8) -> bool {
    BYTE_CLASS[usize::from(b)] & WORD_BYTE != 0
}

//! Where tokens start and end: Python's `str.split()` separators, and the characters that
//! end a word.

use super::*;

/// The first byte at or after `i` that does not start Python whitespace.
#[inline]
pub(super) fn skip_separators(text: &str, mut i: usize) -> usize {
    let b = text.as_bytes();
    while let Some(&x) = b.get(i) {
        if x < 0x80 {
            if class(x) & SPACE == 0 {
                break;
            }
            i += 1;
        } else {
            match non_ascii_at(text, i) {
                Some(c) if is_py_space(c) => i += c.len_utf8(),
                _ => break,
            }
        }
    }
    i
}

/// The end of the token starting at `start`, whether the token is all ASCII, and whether
/// its other characters are all in `plain` (see [`SentimentAnalyzer::plain_chars`]). Runs of
/// ordinary bytes (0x21..=0x7f) are skipped eight at a time.
#[inline]
pub(super) fn word_end(text: &str, start: usize, plain: &CharSet) -> (usize, bool, bool) {
    let b = text.as_bytes();
    let (mut i, mut ascii, mut all_plain) = (start, true, true);
    while let Some(&x) = b.get(i) {
        if x > 0x20 && x < 0x80 {
            match b.get(i..i + 8).and_then(|s| <[u8; 8]>::try_from(s).ok()) {
                // b[i] is ordinary, so the first stop byte is past it
                Some(chunk) => match stop_bytes(u64::from_le_bytes(chunk)) {
                    0 => i += 8,
                    stops => i += (stops.trailing_zeros() / 8) as usize,
                },
                None => i += 1,
            }
        } else if x < 0x80 {
            if class(x) & SPACE != 0 {
                break;
            }
            // a control character that is not whitespace belongs to the token
            i += 1;
        } else {
            match non_ascii_at(text, i) {
                Some(c) if is_py_space(c) => break,
                Some(c) => {
                    ascii = false;
                    all_plain &= plain.contains(c);
                    i += c.len_utf8();
                }
                None => {
                    ascii = false;
                    all_plain = false;
                    i += 1;
                }
            }
        }
    }
    (i, ascii, all_plain)
}

/// A set of characters below U+10000, one bit each.
#[derive(Debug, Clone, Default)]
pub(super) struct CharSet {
    pub(super) bits: Box<[u64]>,
}

impl CharSet {
    /// The characters of U+0080..U+10000 for which `keep` holds.
    pub(super) fn of_bmp(keep: impl Fn(char) -> bool) -> CharSet {
        let mut bits = vec![0u64; 0x10000 / 64];
        for c in ('\u{80}'..='\u{ffff}').filter(|&c| keep(c)) {
            if let Some(w) = bits.get_mut(c as usize / 64) {
                *w |= 1 << (c as usize % 64);
            }
        }
        CharSet {
            bits: bits.into_boxed_slice(),
        }
    }

    #[inline]
    pub(super) fn contains(&self, c: char) -> bool {
        let c = c as usize;
        self.bits
            .get(c / 64)
            .is_some_and(|w| w >> (c % 64) & 1 != 0)
    }
}

//! Byte-level helpers of normalisation: eight bytes at a time, classes, folding.

use super::*;

/// How many bytes at the start of `bytes` `class` marks, eight at a time: `class` takes
/// eight bytes (little-endian, zero-padded) and sets 0x80 in those of the class, exactly up to
/// the first that is not; a zero byte must not be of the class.
#[inline(always)]
pub(super) fn leading(bytes: &[u8], class: impl Fn(u64) -> u64) -> usize {
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
pub(super) fn name_bytes(w: u64) -> u64 {
    let letters = lower_bytes(w | (ONES * 0x20));
    let digits = digit_bytes(w);
    // zero bytes of `v`, exactly (an underscore must not borrow from the byte after it)
    let v = w ^ (ONES * u64::from(b'_'));
    let underscores = !(((v & !HIGH) + !HIGH) | v);
    (letters | digits | underscores) & HIGH
}

/// The length of the URL at the start of `rest`: up to a separator or a non-ASCII byte.
#[inline(always)]
pub(super) fn url_len(rest: &[u8]) -> usize {
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
pub(super) fn skip_separators(bytes: &[u8], mut i: usize) -> usize {
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
pub(super) fn load_tail(b: &[u8], at: usize) -> u64 {
    match b.last_chunk::<8>() {
        Some(&last) if at < b.len() => u64::from_le_bytes(last) >> (8 * (at + 8 - b.len())),
        _ => load_le(b, at, 8),
    }
}

/// Writes the eight bytes `w` at `buf[at..]`, little-endian; `None` if there is no room.
#[inline(always)]
pub(super) fn put8(buf: &mut [u8], at: usize, w: u64) -> Option<()> {
    *buf.get_mut(at..)?.first_chunk_mut()? = w.to_le_bytes();
    Some(())
}

/// Whether the folded byte `lc`, to be written at `len`, is dropped as a repeat: digit runs
/// collapse to one 0, other runs to at most three. Only a token's own bytes can match: a
/// space, never a folded byte, comes before every token, and what follows a handle's `@user`
/// does not start with a name byte.
#[inline(always)]
pub(super) fn repeats(buf: &[u8], len: usize, lc: u8) -> bool {
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
pub(super) fn letter_run(w: u64, last: u8) -> (u64, usize) {
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
pub(super) fn push_token(raw: &str, padded: &mut Vec<u8>) {
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
pub(super) fn may_be_handle_or_url(w: u64) -> bool {
    // the first four bytes with 0x20 set, as in `is_url`
    let four = (w | 0x2020_2020) as u32;
    let le = |p: &[u8; 4]| u32::from_le_bytes(*p);
    (w as u8 == b'@') | (four == le(b"http")) | (four == le(b"www."))
}

/// Whether a token starts with `http://`, `https://` or `www.`, in any case: compared eight
/// bytes at a time, with 0x20 set in the letters' places (only a letter of either case becomes
/// that lowercase letter so) and the punctuation compared as it is.
#[inline]
pub(super) fn is_url(raw: &[u8]) -> bool {
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
pub(super) fn push_folded(raw: &str, out: &mut Vec<u8>) {
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
pub(super) static FOLD: [u8; 256] = {
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
pub(super) const FOLD_WORD: u8 = 0x80;

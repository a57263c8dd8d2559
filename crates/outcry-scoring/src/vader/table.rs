//! The perfect hash table from lowercase words to what the rules need of them, and the
//! eight-bytes-at-a-time helpers its look-ups use.

use super::*;

/// Perfect hash table from lowercase words to [`WordInfo`], built at load time from the fixed
/// lexicon.
///
/// Every key of up to 16 bytes (all but a few dozen) has a slot of its own, found with one
/// probe: a key's hash picks a bucket and a slot hash, and the bucket's pilot, chosen when
/// the table is built so that no two keys share a slot (as in PTHash, Pibiri and Trani 2021),
/// is XORed into the slot hash. A look-up is two dependent loads (the pilot, from an array
/// small enough to stay in L1, then the entry) and a comparison of the key whose result masks
/// the entry instead of being branched on: whether a word is in the lexicon is unpredictable,
/// and without a branch on it the look-ups of consecutive tokens overlap.
///
/// Keys are compared as little-endian, zero-padded 64-bit words, so the ASCII tokeniser can
/// lowercase eight bytes at a time straight from the text and look a token up without
/// copying it into a string. Longer keys live in a map of their own.
#[derive(Debug, Clone)]
pub(super) struct WordTable {
    /// per bucket, the value XORed into its keys' slot hashes
    pub(super) pilots: Box<[u32]>,
    /// `64 - log2(pilots.len())`: bucket of a key = top bits of its hash
    pub(super) bucket_shift: u32,
    /// `64 - log2(entries.len())`: slot hash = top bits of the hash times [`SLOT_MIX`]
    pub(super) slot_shift: u32,
    /// mixed into every hash; the build tries seeds until the pilots place every key
    pub(super) seed: u64,
    /// the keys of up to 16 bytes by slot, a power of two long; [`EMPTY`] in unused slots
    pub(super) entries: Box<[Entry]>,
    /// keys longer than 16 bytes, too few to be worth a fast path
    pub(super) long: FxHashMap<Box<[u8]>, WordInfo>,
    /// longest key in bytes: longer tokens are not looked up
    pub(super) max_len: usize,
    /// the non-ASCII characters of the keys, sorted: a word with a character whose lowercase
    /// has any other non-ASCII character cannot be a key, which spares most non-ASCII tokens
    /// their lowercasing
    pub(super) key_chars: Vec<char>,
}

/// A key of up to 16 bytes and its [`WordInfo`], 32 bytes.
#[derive(Debug, Clone, Copy)]
pub(super) struct Entry {
    pub(super) first: u64,
    pub(super) second: u64,
    pub(super) valence: f64,
    /// the key's length in the low 32 bits, then the special code and the flags: one load
    /// gives the look-up both what it compares and what it masks
    pub(super) meta: u64,
}

/// An unused slot: no key has this length, so no look-up matches it.
pub(super) const EMPTY: Entry = Entry {
    first: 0,
    second: 0,
    valence: 0.0,
    meta: u32::MAX as u64,
};

/// Longest key the table holds in its slots (two words).
pub(super) const SLOT_KEY_LEN: usize = 16;

/// Longest token the ASCII path looks up from a stack buffer (longer ones are lowercased into
/// a new buffer).
pub(super) const INLINE_LEN: usize = 32;

pub(super) const FX_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// Multiplier that turns a key's hash into its slot hash: the bucket takes the hash's top
/// bits, so the keys of a bucket must get their slots from bits that differ between them.
pub(super) const SLOT_MIX: u64 = 0x9e37_79b9_7f4a_7c15;

/// FxHash over the key words, seeded with the length (so that zero padding cannot collide)
/// and the table's seed.
#[inline]
pub(super) fn key_hash(words: &[u64], len: usize, seed: u64) -> u64 {
    words.iter().fold(len as u64 ^ seed, |h, &w| {
        (h.rotate_left(5) ^ w).wrapping_mul(FX_SEED)
    })
}

/// Number of 64-bit words a key of `len` bytes occupies (at least one, so "" has a first word).
#[inline]
pub(super) fn word_count(len: usize) -> usize {
    len.div_ceil(8).max(1)
}

/// `bytes` (at most 16) as two little-endian 64-bit words, zero-padded.
pub(super) fn pack_two(bytes: &[u8]) -> [u64; 2] {
    let mut words = [0u64; 2];
    for (k, &b) in bytes.iter().take(SLOT_KEY_LEN).enumerate() {
        words[k / 8] |= u64::from(b) << (8 * (k % 8));
    }
    words
}

impl Entry {
    pub(super) fn new(key: &[u8], info: WordInfo) -> Entry {
        let [first, second] = pack_two(key);
        let meta = key.len() as u64 | u64::from(info.code) << 32;
        Entry {
            first,
            second,
            valence: info.valence,
            meta,
        }
    }

    /// The key's length in bytes.
    pub(super) fn len(&self) -> usize {
        self.meta as u32 as usize
    }
}

impl WordTable {
    pub(super) fn new(words: FxHashMap<Box<str>, WordInfo>) -> WordTable {
        let mut short = Vec::with_capacity(words.len());
        let mut long = FxHashMap::default();
        let mut key_chars = Vec::new();
        let mut max_len = 0;
        for (key, info) in words {
            key_chars.extend(key.chars().filter(|c| !c.is_ascii()));
            max_len = max_len.max(key.len());
            if key.len() > SLOT_KEY_LEN {
                long.insert(Box::from(key.as_bytes()), info);
            } else {
                short.push(Entry::new(key.as_bytes(), info));
            }
        }
        key_chars.sort_unstable();
        key_chars.dedup();
        // the same table for every run (the map's order is not the same from run to run)
        short.sort_unstable_by_key(|e| (e.len(), e.first, e.second));
        let n = short.len();
        // about two keys a bucket and slots at most about 94% full: the pilots are found in
        // a few milliseconds and take 16 KiB for the embedded lexicon
        let buckets = (n / 2).next_power_of_two().max(2);
        let mut slots = (n + n / 16).next_power_of_two().max(16);
        let mut seed = 0u64;
        loop {
            if let Some(table) = WordTable::place(&short, buckets, slots, seed) {
                return WordTable {
                    long,
                    max_len,
                    key_chars,
                    ..table
                };
            }
            // a seed fails when two keys of a bucket get one slot hash, or a bucket finds
            // no pilot; after a few, a sparser table
            seed += 1;
            if seed & 15 == 0 {
                slots *= 2;
            }
        }
    }

    /// The table with pilots that place every key of `keys` in a slot of its own, if the
    /// hashes with `seed` allow it.
    pub(super) fn place(
        keys: &[Entry],
        buckets: usize,
        slots: usize,
        seed: u64,
    ) -> Option<WordTable> {
        let mut table = WordTable {
            pilots: vec![0u32; buckets].into_boxed_slice(),
            bucket_shift: 64 - buckets.trailing_zeros(),
            slot_shift: 64 - slots.trailing_zeros(),
            seed,
            entries: vec![EMPTY; slots].into_boxed_slice(),
            long: FxHashMap::default(),
            max_len: 0,
            key_chars: Vec::new(),
        };
        let mut by_bucket: Vec<Vec<(u32, &Entry)>> = vec![Vec::new(); buckets];
        for e in keys {
            let words = [e.first, e.second];
            let h = key_hash(&words[..word_count(e.len())], e.len(), seed);
            by_bucket[table.bucket(h)].push((table.slot_hash(h), e));
        }
        let mut order: Vec<usize> = (0..buckets).collect();
        // the biggest buckets first, while most slots are free
        order.sort_by_key(|&b| (std::cmp::Reverse(by_bucket[b].len()), b));
        let mut used = vec![false; slots];
        for b in order {
            let keys = &by_bucket[b];
            if keys.is_empty() {
                break;
            }
            let pilot = (0..slots as u32).find(|&p| {
                keys.iter().enumerate().all(|(k, &(s, _))| {
                    !used[(s ^ p) as usize] && keys[..k].iter().all(|&(t, _)| t != s)
                })
            })?;
            for &(s, e) in keys {
                used[(s ^ pilot) as usize] = true;
                table.entries[(s ^ pilot) as usize] = *e;
            }
            table.pilots[b] = pilot;
        }
        Some(table)
    }

    #[inline(always)]
    pub(super) fn bucket(&self, h: u64) -> usize {
        (h >> self.bucket_shift) as usize
    }

    #[inline(always)]
    pub(super) fn slot_hash(&self, h: u64) -> u32 {
        (h.wrapping_mul(SLOT_MIX) >> self.slot_shift) as u32
    }

    /// Whether the lowercase of `word` may be a key, judging by its non-ASCII characters.
    pub(super) fn may_have(&self, word: &str) -> bool {
        word.chars().all(|c| {
            c.is_ascii()
                || c.to_lowercase()
                    .all(|l| l.is_ascii() || self.key_chars.binary_search(&l).is_ok())
        })
    }

    /// The entry of the key packed as `first`, `second` (zero when the key has at most eight
    /// bytes) of `len` bytes, at most 16, whose hash is `h`; all zero when it is not a key.
    #[inline(always)]
    pub(super) fn find(&self, first: u64, second: u64, len: usize, h: u64) -> WordInfo {
        let pilot = self.pilots.get(self.bucket(h)).copied().unwrap_or(0);
        let e = self
            .entries
            .get((self.slot_hash(h) ^ pilot) as usize)
            .unwrap_or(&EMPTY);
        let diff = (e.first ^ first) | (e.second ^ second) | ((e.meta as u32 as u64) ^ len as u64);
        // all ones on a hit: masks the code and the flags (a choice between the entry and a
        // default would compile to a branch on the look-up)
        let keep = u64::from(diff == 0).wrapping_neg();
        WordInfo {
            // only read with HAS_LEX, which a miss clears
            valence: e.valence,
            code: ((e.meta >> 32) & keep) as u16,
        }
    }

    /// Look-up of a key of up to eight bytes, packed in `key`.
    #[inline(always)]
    pub(super) fn get_short(&self, key: u64, len: usize) -> WordInfo {
        self.find(key, 0, len, key_hash(&[key], len, self.seed))
    }

    /// Look-up of a key of 9 to 16 bytes, packed in `first` and `second`.
    #[inline(always)]
    pub(super) fn get_two(&self, first: u64, second: u64, len: usize) -> WordInfo {
        self.find(
            first,
            second,
            len,
            key_hash(&[first, second], len, self.seed),
        )
    }

    /// Look-up of a key of up to 16 bytes, packed in `first` and `second`, without a branch
    /// on whether it has more than eight (which [`WordTable::get_short`] and
    /// [`WordTable::get_two`] hash differently).
    #[inline(always)]
    pub(super) fn get_upto16(&self, first: u64, second: u64, len: usize) -> WordInfo {
        let h1 = key_hash(&[first], len, self.seed);
        let h2 = key_hash(&[first, second], len, self.seed);
        self.find(first, second, len, if len > 8 { h2 } else { h1 })
    }

    /// Look-up of any (already lowercase) key.
    pub(super) fn get_bytes(&self, key: &[u8]) -> WordInfo {
        if key.len() > SLOT_KEY_LEN {
            return self.long.get(key).copied().unwrap_or_default();
        }
        let [first, second] = pack_two(key);
        if key.len() > 8 {
            return self.get_two(first, second, key.len());
        }
        self.get_short(first, key.len())
    }
}

// Byte-parallel tests on eight ASCII bytes (each below 0x80, so adding at most 0x7f or
// subtracting from a byte with its top bit set never carries into the next byte): each
// returns 0x80 in the bytes that pass.

/// `A..=Z`: at least 0x41 (x + 0x3f reaches 0x80) and not above 0x5a (x + 0x25 stays below).
#[inline]
pub(super) fn upper_bytes(w: u64) -> u64 {
    w.wrapping_add(ONES * 0x3f) & !w.wrapping_add(ONES * 0x25) & HIGH
}

/// Bytes that may end an ASCII word run: at most 0x20 (whitespace, and control characters
/// that the caller checks one by one) or not ASCII. Exact for any bytes.
#[inline]
pub(super) fn stop_bytes(w: u64) -> u64 {
    (!((w | HIGH) - ONES * 0x21) | w) & HIGH
}

/// Bytes of `w` equal to `byte` (the classic zero-byte test on `w ^ byte`); a borrow can
/// also flag the byte after a match, so only whether the result is zero is exact.
#[inline]
pub(super) fn byte_matches(w: u64, byte: u8) -> u64 {
    let v = w ^ (ONES * u64::from(byte));
    v.wrapping_sub(ONES) & !v & HIGH
}

#[inline]
pub(super) fn has_byte(w: u64, byte: u8) -> bool {
    byte_matches(w, byte) != 0
}

/// 0x80 in the bytes of `w` equal to `byte`, exactly (unlike [`byte_matches`]), when every
/// byte of `w` and `byte` are below 0x80: adding 0x7f to a byte that is not zero sets its top
/// bit without a carry.
#[inline]
pub(super) fn eq_bytes(w: u128, byte: u8) -> u128 {
    pub(super) const ONES: u128 = u128::MAX / 0xff;
    let v = w ^ (ONES * u128::from(byte));
    !v.wrapping_add(ONES * 0x7f) & (ONES * 0x80)
}

/// Whether `w` has a '!' or a '?'.
#[inline]
pub(super) fn has_mark(w: u64) -> bool {
    byte_matches(w, b'!') | byte_matches(w, b'?') != 0
}

/// What the tokeniser needs from up to eight bytes of an ASCII word, found in parallel.
pub(super) struct Chunk {
    /// the bytes lowercased: A..=Z to a..=z by adding 0x20 where `upper` has 0x80
    pub(super) key: u64,
    pub(super) upper: u64,
    pub(super) lower: u64,
    /// only letters, so no '!', '?' or apostrophe to look for
    pub(super) letters_only: bool,
}

impl Chunk {
    /// The chunk `w` holding `n` bytes of a word (1 to 8, zero-padded).
    #[inline]
    pub(super) fn new(w: u64, n: usize) -> Chunk {
        let upper = upper_bytes(w);
        let lower = lower_bytes(w);
        // the padding counts as letters
        let padding = HIGH.checked_shl(8 * n as u32).unwrap_or(0);
        Chunk {
            key: w | (upper >> 2),
            upper,
            lower,
            letters_only: upper | lower | padding == HIGH,
        }
    }
}

/// What the chunks of a word say about it, gathered chunk by chunk.
#[derive(Default)]
pub(super) struct WordFlags {
    pub(super) upper: u64,
    pub(super) lower: u64,
    /// a `!` or `?` may be in the word
    pub(super) marks: bool,
    /// an apostrophe may be in the word (so may "n't")
    pub(super) apostrophe: bool,
}

impl WordFlags {
    /// Takes the chunk `w` holding `n` bytes of the word (see [`Chunk::new`]).
    #[inline]
    pub(super) fn add(&mut self, w: u64, n: usize) -> Chunk {
        let c = Chunk::new(w, n);
        self.upper |= c.upper;
        self.lower |= c.lower;
        if !c.letters_only {
            self.marks |= has_mark(w);
            self.apostrophe |= has_byte(w, b'\'');
        }
        c
    }

    /// Counts the word's marks and capitals into `stats`; whether it is ALL CAPS.
    #[inline]
    pub(super) fn count(&self, word: &[u8], stats: &mut TextStats) -> bool {
        if self.marks {
            stats.count_marks(word);
        }
        let all_caps = self.upper != 0 && self.lower == 0;
        stats.upper += usize::from(all_caps);
        all_caps
    }
}

/// ASCII lowercase of eight bytes at once (every byte must be below 0x80).
#[cfg(test)]
pub(super) fn ascii_lower(w: u64) -> u64 {
    w | (upper_bytes(w) >> 2)
}

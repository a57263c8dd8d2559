//! VADER sentiment (Hutto and Gilbert, ICWSM 2014), reimplemented from the published rules.
//!
//! The lexicons are the ones the authors publish with the `vaderSentiment` package
//! (`data/vader_lexicon.txt`, `data/emoji_utf8_lexicon.txt`, MIT). The rules follow the
//! reference implementation's observable behaviour, including its quirks, because the
//! scores are checked against it (see `tests/vader_reference.rs`):
//!
//! - tokens are whitespace-separated; leading/trailing ASCII punctuation is stripped unless
//!   that leaves two characters or fewer (so emoticons like `:)` survive);
//! - emoji are replaced by their textual description before tokenising;
//! - boosters and dampeners up to three words before a lexicon word scale it (0.293, damped
//!   by 0.95 and 0.9 with distance), ALL-CAPS words in mixed-case text add 0.733;
//! - negations up to three words before flip and shrink it (x -0.74), with the exceptions
//!   "never so/this" and "without doubt";
//! - "no" as a determiner, "least", "kind of", special idioms ("the shit", "kiss of death");
//! - "but": words before it count half, words after it 1.5 times;
//! - up to four "!" add 0.292 each, two or more "?" add 0.18 each (capped at 0.96);
//! - compound = sum / sqrt(sum^2 + 15).
//!
//! Scoring is on the hot path of every mention, so everything the rules need to know about a
//! word (valence, booster value, whether it negates, which of the few words the rules name it
//! is) is resolved by one look-up in a `WordTable` keyed by the lowercase word, and the rules
//! compare small `Special` codes instead of strings. The table is a perfect hash built at
//! load time: one probe, and a key comparison that masks the entry rather than being branched
//! on, since whether a token is a lexicon word is unpredictable and a branch on it would wait
//! for the look-up.
//!
//! ASCII tokens (almost all of them) are split, stripped, lowercased and hashed eight bytes
//! at a time straight from the text, without building any string. A token of up to 15 bytes
//! followed by a space, found by the loads that find its end, takes an inline path: its
//! capitals, key and look-up come from a few byte-parallel operations, and for one of letters
//! and digits only (three tokens in four) that is all, with one branch for the whole test.
//! For the others, mostly words with punctuation before or after them, the same masks give
//! what stripping leaves (a shift and a mask of the key), the marks and whether there is an
//! "n't". Longer tokens are mostly links, too long to be a key even once stripped (which
//! their first and last eight bytes tell): their capitals, marks and "n't" are found eight
//! bytes at a time, and they are not looked up. The other longer tokens and tokens touching
//! other whitespace or control characters take the general paths out of line. A token with
//! non-ASCII characters that are all "plain" (uncased, no emoji, in no key: curly quotes,
//! ellipses, replacement characters) cannot be a key, and its capitals, marks and "n't" are
//! those of its ASCII bytes; other non-ASCII tokens take the exact Unicode path, which skips
//! lowercasing when no key can match. Emoji can only be in those tokens (unless some emoji
//! key is ASCII or whitespace, when emoji are replaced first), and send the rare text that
//! has one through emoji replacement and a second tokenising.
//!
//! The tokeniser notes the lexicon words and "but" as one bit per token, again without a
//! branch: only lexicon words can score, so one loop over the noted tokens works out their
//! sentiments, their sums and the first "but". The score arithmetic (signs, the emphasis,
//! rounding) is done with products, integers and an addition that rounds, where branches
//! would be coin tosses.

use std::borrow::Cow;
use std::sync::OnceLock;

use serde::Serialize;

use crate::features::{digit_bytes, load8, load_le, lower_bytes, HIGH, ONES};
use crate::hash::FxHashMap;
use crate::ScoringError;

const B_INCR: f64 = 0.293;
const B_DECR: f64 = -0.293;
const C_INCR: f64 = 0.733;
const N_SCALAR: f64 = -0.74;
const ALPHA: f64 = 15.0;

/// The embedded lexicon files (see `data/README.md` for their source and license).
pub const VADER_LEXICON: &str = include_str!("../data/vader_lexicon.txt");
pub const EMOJI_LEXICON: &str = include_str!("../data/emoji_utf8_lexicon.txt");

/// VADER's four scores, rounded as the reference rounds them (compound to 4 places,
/// the proportions to 3).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Sentiment {
    pub compound: f64,
    pub pos: f64,
    pub neu: f64,
    pub neg: f64,
}

/// Lexicons loaded once; scoring takes `&self` and allocates only small scratch buffers.
#[derive(Debug, Clone)]
pub struct SentimentAnalyzer {
    /// everything the rules need about each word they look at (one look-up per token)
    words: WordTable,
    lexicon_len: usize,
    emoji: FxHashMap<char, Box<str>>,
    /// true when some emoji key is ASCII, which disables the ASCII fast path
    ascii_emoji: bool,
    /// true when some emoji key is ASCII or whitespace, so that emoji must be replaced before
    /// tokenising; otherwise only tokens with non-ASCII characters can hold one, and text
    /// without such tokens (most) is never scanned for emoji
    eager_emoji: bool,
    /// the "plain" non-ASCII characters (below U+10000): in no key, their own lowercase,
    /// and neither cased, whitespace nor emoji. A token whose characters are ASCII or plain
    /// (most non-ASCII tokens: curly quotes and apostrophes, ellipses, replacement
    /// characters) cannot be a key, and its capitals, marks and "n't" are those of its
    /// ASCII characters, whatever is stripped.
    plain_chars: CharSet,
}

/// Scores `text` with the embedded lexicons.
pub fn polarity_scores(text: &str) -> Sentiment {
    SentimentAnalyzer::embedded().polarity_scores(text)
}

/// The words the rules single out by name. Resolving them once per token lets the rules
/// compare one byte where the reference compares strings (each needs one code because the
/// rules test for it at some position, see [`Ctx`]). A byte rather than an enum, so that a
/// look-up can clear it with a mask (see [`WordTable::find`]); 0 is no such word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Special(u8);

impl Special {
    const NONE: Special = Special(0);
    const NO: Special = Special(1);
    const OR: Special = Special(2);
    const NOR: Special = Special(3);
    const NEVER: Special = Special(4);
    const SO: Special = Special(5);
    const THIS: Special = Special(6);
    const WITHOUT: Special = Special(7);
    const DOUBT: Special = Special(8);
    const LEAST: Special = Special(9);
    const AT: Special = Special(10);
    const VERY: Special = Special(11);
    const KIND: Special = Special(12);
    const OF: Special = Special(13);
    const SORT: Special = Special(14);
    const JUST: Special = Special(15);
    const ENOUGH: Special = Special(16);
    const BUT: Special = Special(17);
    const THE: Special = Special(18);
    const SHIT: Special = Special(19);
    const BOMB: Special = Special(20);
    const TO: Special = Special(21);
    const DIE: Special = Special(22);
    const FOR: Special = Special(23);
    const BAD: Special = Special(24);
    const ASS: Special = Special(25);
    const BUS: Special = Special(26);
    const STOP: Special = Special(27);
    const YEAH: Special = Special(28);
    const RIGHT: Special = Special(29);
    const KISS: Special = Special(30);
    const DEATH: Special = Special(31);
    const BEATING: Special = Special(32);
    const HEART: Special = Special(33);
}

const SPECIAL_WORDS: &[(&str, Special)] = &[
    ("no", Special::NO),
    ("or", Special::OR),
    ("nor", Special::NOR),
    ("never", Special::NEVER),
    ("so", Special::SO),
    ("this", Special::THIS),
    ("without", Special::WITHOUT),
    ("doubt", Special::DOUBT),
    ("least", Special::LEAST),
    ("at", Special::AT),
    ("very", Special::VERY),
    ("kind", Special::KIND),
    ("of", Special::OF),
    ("sort", Special::SORT),
    ("just", Special::JUST),
    ("enough", Special::ENOUGH),
    ("but", Special::BUT),
    ("the", Special::THE),
    ("shit", Special::SHIT),
    ("bomb", Special::BOMB),
    ("to", Special::TO),
    ("die", Special::DIE),
    ("for", Special::FOR),
    ("bad", Special::BAD),
    ("ass", Special::ASS),
    ("bus", Special::BUS),
    ("stop", Special::STOP),
    ("yeah", Special::YEAH),
    ("right", Special::RIGHT),
    ("kiss", Special::KISS),
    ("death", Special::DEATH),
    ("beating", Special::BEATING),
    ("heart", Special::HEART),
];

/// What the rules need to know about one word; 16 bytes, as it is copied into every token.
/// Tokens are `WordInfo`s too (see [`Token`]). Two fields rather than three, so that a
/// function returns one in registers: a three-field struct comes back through memory, built
/// there field by field and then read back whole, which the CPU cannot forward from the
/// stores (a stall of a dozen cycles a token).
#[derive(Debug, Clone, Copy, Default)]
struct WordInfo {
    /// the lexicon valence when the flags have [`HAS_LEX`]
    valence: f64,
    /// the [`Special`] code in the low byte, the flags in the high one
    code: u16,
}

/// [`WordInfo::flags`]: in the lexicon
const HAS_LEX: u8 = 1;
/// a booster (+0.293)
const BOOST_INCR: u8 = 2;
/// a dampener (-0.293)
const BOOST_DECR: u8 = 4;
/// a negation word or a word containing "n't" (the reference's `negated` test)
const NEGATED: u8 = 8;
/// Python's `isupper` of the token (tokens only)
const ALL_CAPS: u8 = 16;
/// "but", which the tokeniser notes like the lexicon words so that the rules need not look
/// at every token
const BUT: u8 = 32;
/// one of the words the rules look for before a lexicon word when no booster or negation is
/// there (see [`LOOKS_BACK`])
const CONTEXT: u8 = 64;
/// The flags of the words that can change the sentiment of a lexicon word up to three tokens
/// after them: boosters, negations and the [`CONTEXT`] words. A lexicon word with none of them
/// in the three tokens before it, and that is neither a booster nor a word the rules name,
/// keeps its valence (with the emphasis of capitals), which spares most lexicon words the
/// rules' dozen tests of their neighbours, each a branch.
const LOOKS_BACK: u8 = BOOST_INCR | BOOST_DECR | NEGATED | CONTEXT;

/// The words the rules look for before a lexicon word, besides the boosters and negations
/// (see [`Ctx::valence`]): "no" one to three tokens before it, "so" or "this" one or two
/// before, "least" just before, and the words that end the idioms and the phrases that
/// dampen ("the shit", "bad ass", "to die for", "kiss of death", "kind of", "just enough"),
/// since each idiom needs its last word or the one before it in those three tokens. The
/// words that only start idioms ("the", "to", "for", "kind") or are only looked for next to
/// one of these ("at", "very", "or", "doubt") are left out: most of them are common, and
/// they change nothing alone ("never" and "without", also looked for next to these, are
/// negations, so their flag is in [`LOOKS_BACK`] anyway).
const CONTEXT_WORDS: &[Special] = &[
    Special::NO,
    Special::SO,
    Special::THIS,
    Special::LEAST,
    Special::SHIT,
    Special::BOMB,
    Special::ASS,
    Special::STOP,
    Special::RIGHT,
    Special::HEART,
    Special::DIE,
    Special::OF,
    Special::ENOUGH,
];

impl WordInfo {
    #[inline]
    fn flags(&self) -> u8 {
        (self.code >> 8) as u8
    }

    #[inline]
    fn special(&self) -> Special {
        Special(self.code as u8)
    }

    /// Sets `flags` (without a branch when `flags` is computed).
    #[inline]
    fn add_flags(&mut self, flags: u8) {
        self.code |= u16::from(flags) << 8;
    }

    #[inline]
    fn lex(&self) -> Option<f64> {
        (self.flags() & HAS_LEX != 0).then_some(self.valence)
    }

    #[inline]
    fn booster(&self) -> Option<f64> {
        if self.flags() & BOOST_INCR != 0 {
            Some(B_INCR)
        } else if self.flags() & BOOST_DECR != 0 {
            Some(B_DECR)
        } else {
            None
        }
    }

    #[inline]
    fn negated(&self) -> bool {
        self.flags() & NEGATED != 0
    }

    #[inline]
    fn all_caps(&self) -> bool {
        self.flags() & ALL_CAPS != 0
    }
}

/// A token: the [`WordInfo`] of its lowercase word (no flags and no special code when not in
/// the table), plus [`ALL_CAPS`], and [`NEGATED`] for words that contain "n't".
type Token = WordInfo;

/// The token of a word whose look-up gave `info`. Whether the word contains "n't" is asked
/// whatever the look-up found: table entries that contain it have [`NEGATED`] already, so
/// the answer only matters for misses, but asking it spares a branch on the look-up.
#[inline]
fn token(info: WordInfo, all_caps: bool, contains_nt: impl FnOnce() -> bool) -> Token {
    let mut t = info;
    if contains_nt() {
        t.add_flags(NEGATED);
    }
    // without a branch: which tokens are in capitals is unpredictable
    t.add_flags(u8::from(all_caps) * ALL_CAPS);
    t
}

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
struct WordTable {
    /// per bucket, the value XORed into its keys' slot hashes
    pilots: Box<[u32]>,
    /// `64 - log2(pilots.len())`: bucket of a key = top bits of its hash
    bucket_shift: u32,
    /// `64 - log2(entries.len())`: slot hash = top bits of the hash times [`SLOT_MIX`]
    slot_shift: u32,
    /// mixed into every hash; the build tries seeds until the pilots place every key
    seed: u64,
    /// the keys of up to 16 bytes by slot, a power of two long; [`EMPTY`] in unused slots
    entries: Box<[Entry]>,
    /// keys longer than 16 bytes, too few to be worth a fast path
    long: FxHashMap<Box<[u8]>, WordInfo>,
    /// longest key in bytes: longer tokens are not looked up
    max_len: usize,
    /// the non-ASCII characters of the keys, sorted: a word with a character whose lowercase
    /// has any other non-ASCII character cannot be a key, which spares most non-ASCII tokens
    /// their lowercasing
    key_chars: Vec<char>,
}

/// A key of up to 16 bytes and its [`WordInfo`], 32 bytes.
#[derive(Debug, Clone, Copy)]
struct Entry {
    first: u64,
    second: u64,
    valence: f64,
    /// the key's length in the low 32 bits, then the special code and the flags: one load
    /// gives the look-up both what it compares and what it masks
    meta: u64,
}

/// An unused slot: no key has this length, so no look-up matches it.
const EMPTY: Entry = Entry {
    first: 0,
    second: 0,
    valence: 0.0,
    meta: u32::MAX as u64,
};

/// Longest key the table holds in its slots (two words).
const SLOT_KEY_LEN: usize = 16;

/// Longest token the ASCII path looks up from a stack buffer (longer ones are lowercased into
/// a new buffer).
const INLINE_LEN: usize = 32;

const FX_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// Multiplier that turns a key's hash into its slot hash: the bucket takes the hash's top
/// bits, so the keys of a bucket must get their slots from bits that differ between them.
const SLOT_MIX: u64 = 0x9e37_79b9_7f4a_7c15;

/// FxHash over the key words, seeded with the length (so that zero padding cannot collide)
/// and the table's seed.
#[inline]
fn key_hash(words: &[u64], len: usize, seed: u64) -> u64 {
    words.iter().fold(len as u64 ^ seed, |h, &w| {
        (h.rotate_left(5) ^ w).wrapping_mul(FX_SEED)
    })
}

/// Number of 64-bit words a key of `len` bytes occupies (at least one, so "" has a first word).
#[inline]
fn word_count(len: usize) -> usize {
    len.div_ceil(8).max(1)
}

/// `bytes` (at most 16) as two little-endian 64-bit words, zero-padded.
fn pack_two(bytes: &[u8]) -> [u64; 2] {
    let mut words = [0u64; 2];
    for (k, &b) in bytes.iter().take(SLOT_KEY_LEN).enumerate() {
        words[k / 8] |= u64::from(b) << (8 * (k % 8));
    }
    words
}

impl Entry {
    fn new(key: &[u8], info: WordInfo) -> Entry {
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
    fn len(&self) -> usize {
        self.meta as u32 as usize
    }
}

impl WordTable {
    fn new(words: FxHashMap<Box<str>, WordInfo>) -> WordTable {
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
    fn place(keys: &[Entry], buckets: usize, slots: usize, seed: u64) -> Option<WordTable> {
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
    fn bucket(&self, h: u64) -> usize {
        (h >> self.bucket_shift) as usize
    }

    #[inline(always)]
    fn slot_hash(&self, h: u64) -> u32 {
        (h.wrapping_mul(SLOT_MIX) >> self.slot_shift) as u32
    }

    /// Whether the lowercase of `word` may be a key, judging by its non-ASCII characters.
    fn may_have(&self, word: &str) -> bool {
        word.chars().all(|c| {
            c.is_ascii()
                || c.to_lowercase()
                    .all(|l| l.is_ascii() || self.key_chars.binary_search(&l).is_ok())
        })
    }

    /// The entry of the key packed as `first`, `second` (zero when the key has at most eight
    /// bytes) of `len` bytes, at most 16, whose hash is `h`; all zero when it is not a key.
    #[inline(always)]
    fn find(&self, first: u64, second: u64, len: usize, h: u64) -> WordInfo {
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
    fn get_short(&self, key: u64, len: usize) -> WordInfo {
        self.find(key, 0, len, key_hash(&[key], len, self.seed))
    }

    /// Look-up of a key of 9 to 16 bytes, packed in `first` and `second`.
    #[inline(always)]
    fn get_two(&self, first: u64, second: u64, len: usize) -> WordInfo {
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
    fn get_upto16(&self, first: u64, second: u64, len: usize) -> WordInfo {
        let h1 = key_hash(&[first], len, self.seed);
        let h2 = key_hash(&[first, second], len, self.seed);
        self.find(first, second, len, if len > 8 { h2 } else { h1 })
    }

    /// Look-up of any (already lowercase) key.
    fn get_bytes(&self, key: &[u8]) -> WordInfo {
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
fn upper_bytes(w: u64) -> u64 {
    w.wrapping_add(ONES * 0x3f) & !w.wrapping_add(ONES * 0x25) & HIGH
}

/// Bytes that may end an ASCII word run: at most 0x20 (whitespace, and control characters
/// that the caller checks one by one) or not ASCII. Exact for any bytes.
#[inline]
fn stop_bytes(w: u64) -> u64 {
    (!((w | HIGH) - ONES * 0x21) | w) & HIGH
}

/// Bytes of `w` equal to `byte` (the classic zero-byte test on `w ^ byte`); a borrow can
/// also flag the byte after a match, so only whether the result is zero is exact.
#[inline]
fn byte_matches(w: u64, byte: u8) -> u64 {
    let v = w ^ (ONES * u64::from(byte));
    v.wrapping_sub(ONES) & !v & HIGH
}

#[inline]
fn has_byte(w: u64, byte: u8) -> bool {
    byte_matches(w, byte) != 0
}

/// 0x80 in the bytes of `w` equal to `byte`, exactly (unlike [`byte_matches`]), when every
/// byte of `w` and `byte` are below 0x80: adding 0x7f to a byte that is not zero sets its top
/// bit without a carry.
#[inline]
fn eq_bytes(w: u128, byte: u8) -> u128 {
    const ONES: u128 = u128::MAX / 0xff;
    let v = w ^ (ONES * u128::from(byte));
    !v.wrapping_add(ONES * 0x7f) & (ONES * 0x80)
}

/// Whether `w` has a '!' or a '?'.
#[inline]
fn has_mark(w: u64) -> bool {
    byte_matches(w, b'!') | byte_matches(w, b'?') != 0
}

/// What the tokeniser needs from up to eight bytes of an ASCII word, found in parallel.
struct Chunk {
    /// the bytes lowercased: A..=Z to a..=z by adding 0x20 where `upper` has 0x80
    key: u64,
    upper: u64,
    lower: u64,
    /// only letters, so no '!', '?' or apostrophe to look for
    letters_only: bool,
}

impl Chunk {
    /// The chunk `w` holding `n` bytes of a word (1 to 8, zero-padded).
    #[inline]
    fn new(w: u64, n: usize) -> Chunk {
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
struct WordFlags {
    upper: u64,
    lower: u64,
    /// a `!` or `?` may be in the word
    marks: bool,
    /// an apostrophe may be in the word (so may "n't")
    apostrophe: bool,
}

impl WordFlags {
    /// Takes the chunk `w` holding `n` bytes of the word (see [`Chunk::new`]).
    #[inline]
    fn add(&mut self, w: u64, n: usize) -> Chunk {
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
    fn count(&self, word: &[u8], stats: &mut TextStats) -> bool {
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
fn ascii_lower(w: u64) -> u64 {
    w | (upper_bytes(w) >> 2)
}

/// Byte classes for the tokeniser.
const SPACE: u8 = 1;
const PUNCT: u8 = 2;

static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        if matches!(c, b' ' | b'\t'..=b'\r' | 0x1c..=0x1f) {
            t[i] |= SPACE;
        }
        if c.is_ascii_punctuation() {
            t[i] |= PUNCT;
        }
        i += 1;
    }
    t
};

#[inline]
fn class(b: u8) -> u8 {
    CLASS[usize::from(b)]
}

/// The character starting at byte `i` (at a non-ASCII byte).
#[cold]
fn non_ascii_at(text: &str, i: usize) -> Option<char> {
    text.get(i..).and_then(|t| t.chars().next())
}

/// Per-thread buffers of [`SentimentAnalyzer::polarity_scores`].
#[derive(Default)]
struct Scratch {
    toks: Vec<Token>,
    /// which tokens are lexicon words or "but", one bit per token, 64 tokens a word
    noted: Vec<u64>,
    /// (token index, sentiment) of the lexicon words; every other token's sentiment is 0
    sentiments: Vec<(usize, f64)>,
}

impl Scratch {
    fn clear(&mut self) {
        self.toks.clear();
        self.noted.clear();
        self.sentiments.clear();
    }
}

/// Pushes tokens into a [`Scratch`], noting the lexicon words and "but" without a branch
/// on the token: which tokens are lexicon words is unpredictable, and a branch on it would
/// wait for the token's look-up, so that the look-ups of the tokens after it could not
/// start. A local of the tokeniser, so that the bits it notes stay in a register.
#[derive(Default)]
struct Pusher {
    /// the noted bits of the tokens since the last multiple of 64
    bits: u64,
}

impl Pusher {
    #[inline(always)]
    fn push(&mut self, out: &mut Scratch, t: Token) {
        let i = out.toks.len();
        self.bits |= u64::from(t.flags() & (HAS_LEX | BUT) != 0) << (i % 64);
        if i % 64 == 63 {
            out.noted.push(self.bits);
            self.bits = 0;
        }
        out.toks.push(t);
    }

    /// Hands what was noted to `out` once all tokens are pushed.
    fn finish(self, out: &mut Scratch) {
        if out.toks.len() & 63 != 0 {
            out.noted.push(self.bits);
        }
    }
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// Counts the rules need besides the tokens.
#[derive(Debug, Default)]
struct TextStats {
    exclamations: usize,
    questions: usize,
    /// ALL-CAPS tokens
    upper: usize,
}

impl TextStats {
    /// Counts the marks of up to fifteen ASCII bytes `t` (zero-padded), without a loop.
    #[inline(always)]
    fn add_marks(&mut self, t: u128) {
        // the '!'s in bit 0 and the '?'s in bit 4 of their bytes; a sum over at most
        // fifteen bytes fits each count in its nibble of the top byte
        let marks = eq_bytes(t, b'!') >> 7 | eq_bytes(t, b'?') >> 3;
        let counts = ((marks as u64) + ((marks >> 64) as u64)).wrapping_mul(ONES) >> 56;
        self.exclamations += (counts & 15) as usize;
        self.questions += (counts >> 4) as usize;
    }

    fn count_marks(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.exclamations += usize::from(b == b'!');
            self.questions += usize::from(b == b'?');
        }
    }
}

/// Which tokeniser to use: `Exact` sends every token through the Unicode path, so tests can
/// check the ASCII fast path against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Path {
    Fast,
    #[cfg(test)]
    Exact,
}

impl SentimentAnalyzer {
    /// The analyzer over the embedded lexicons, parsed once per process.
    pub fn embedded() -> &'static SentimentAnalyzer {
        static EMBEDDED: OnceLock<SentimentAnalyzer> = OnceLock::new();
        EMBEDDED.get_or_init(|| {
            // the embedded files are fixed at compile time and covered by tests
            SentimentAnalyzer::from_lexicons(VADER_LEXICON, EMOJI_LEXICON)
                .unwrap_or_else(|_| SentimentAnalyzer::empty())
        })
    }

    fn empty() -> SentimentAnalyzer {
        SentimentAnalyzer {
            words: WordTable::new(FxHashMap::default()),
            lexicon_len: 0,
            emoji: FxHashMap::default(),
            ascii_emoji: false,
            eager_emoji: false,
            plain_chars: CharSet::default(),
        }
    }

    /// Parses the two lexicon files (`word\tmean\t...` and `emoji\tdescription`).
    pub fn from_lexicons(lexicon: &str, emoji: &str) -> Result<SentimentAnalyzer, ScoringError> {
        let mut lex = FxHashMap::default();
        for (n, line) in lexicon.trim_end_matches('\n').split('\n').enumerate() {
            if line.is_empty() {
                continue;
            }
            let mut cols = line.trim().split('\t');
            let (Some(word), Some(measure)) = (cols.next(), cols.next()) else {
                return Err(ScoringError::Lexicon(format!(
                    "line {}: expected word and mean",
                    n + 1
                )));
            };
            let value: f64 = measure.trim().parse().map_err(|_| {
                ScoringError::Lexicon(format!("line {}: bad mean {measure:?}", n + 1))
            })?;
            lex.insert(Box::from(word), value);
        }
        let mut emo = FxHashMap::default();
        for line in emoji.trim_end_matches('\n').split('\n') {
            let mut cols = line.trim().split('\t');
            let (Some(key), Some(desc)) = (cols.next(), cols.next()) else {
                continue;
            };
            let mut chars = key.chars();
            // the reference replaces character by character, so only one-character keys can match
            if let (Some(c), None) = (chars.next(), chars.next()) {
                emo.insert(c, Box::from(desc));
            }
        }
        let ascii_emoji = emo.keys().any(char::is_ascii);
        let eager_emoji = ascii_emoji || emo.keys().any(|&c| is_py_space(c));
        let lexicon_len = lex.len();
        let words = WordTable::new(word_infos(lex));
        // about a millisecond; uncased letters (most of the plane) are plain too
        let plain_chars = CharSet::of_bmp(|c| {
            c.to_lowercase().eq([c])
                && !c.is_lowercase()
                && !c.is_uppercase()
                && !is_titlecase(c)
                && !is_py_space(c)
                && !emo.contains_key(&c)
                && words.key_chars.binary_search(&c).is_err()
        });
        Ok(SentimentAnalyzer {
            words,
            lexicon_len,
            emoji: emo,
            ascii_emoji,
            eager_emoji,
            plain_chars,
        })
    }

    /// Number of entries in the word lexicon.
    pub fn lexicon_len(&self) -> usize {
        self.lexicon_len
    }

    /// Valence of a lowercase word in the lexicon, if present.
    pub fn word_valence(&self, lower: &str) -> Option<f64> {
        self.words.get_bytes(lower.as_bytes()).lex()
    }

    /// Whether some character of `text` has an emoji description.
    fn has_emoji(&self, text: &str) -> bool {
        if self.ascii_emoji {
            return text.chars().any(|c| self.emoji.contains_key(&c));
        }
        if text.is_ascii() {
            return false;
        }
        // only non-ASCII characters can be emoji: skip ASCII eight bytes at a time
        let b = text.as_bytes();
        let mut i = 0;
        while let Some(&x) = b.get(i) {
            if x < 0x80 {
                match b.get(i..i + 8).and_then(|s| <[u8; 8]>::try_from(s).ok()) {
                    Some(chunk) if u64::from_le_bytes(chunk) & HIGH == 0 => i += 8,
                    _ => i += 1,
                }
                continue;
            }
            match text.get(i..).and_then(|t| t.chars().next()) {
                Some(c) if self.emoji.contains_key(&c) => return true,
                Some(c) => i += c.len_utf8(),
                None => i += 1,
            }
        }
        false
    }

    fn replace_emoji<'t>(&self, text: &'t str) -> Cow<'t, str> {
        // without ASCII keys only non-ASCII characters can be emoji
        if !self.has_emoji(text) {
            return Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len() + 32);
        let mut prev_space = true;
        for c in text.chars() {
            if let Some(desc) = (self.ascii_emoji || !c.is_ascii())
                .then(|| self.emoji.get(&c))
                .flatten()
            {
                if !prev_space {
                    out.push(' ');
                }
                out.push_str(desc);
                prev_space = false;
            } else {
                out.push(c);
                prev_space = c == ' ';
            }
        }
        Cow::Owned(out)
    }

    /// VADER's compound, pos, neu and neg for `text`.
    pub fn polarity_scores(&self, text: &str) -> Sentiment {
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut scratch) => self.polarity_scores_with(text, &mut scratch, Path::Fast),
            Err(_) => self.polarity_scores_with(text, &mut Scratch::default(), Path::Fast),
        })
    }

    fn polarity_scores_with(&self, text: &str, scratch: &mut Scratch, path: Path) -> Sentiment {
        scratch.clear();
        let mut stats = TextStats::default();
        match path {
            Path::Fast if self.eager_emoji => {
                self.tokens(&self.replace_emoji(text), &mut stats, scratch, false);
            }
            Path::Fast => {
                // emoji can only be in the tokens with non-ASCII characters: tokenise again
                // after replacing them in the rare text that has some
                if self.tokens(text, &mut stats, scratch, true) {
                    scratch.clear();
                    stats = TextStats::default();
                    self.tokens(&self.replace_emoji(text), &mut stats, scratch, false);
                }
            }
            #[cfg(test)]
            Path::Exact => {
                let mut pusher = Pusher::default();
                for raw in crate::features::py_words(&self.replace_emoji(text)) {
                    pusher.push(scratch, self.token_exact(raw, &mut stats));
                }
                pusher.finish(scratch);
            }
        }
        let Scratch {
            toks,
            noted,
            sentiments,
        } = scratch;
        if toks.is_empty() {
            return Sentiment::default();
        }
        let n = toks.len();
        let ctx = Ctx {
            toks,
            cap_diff: stats.upper > 0 && stats.upper < n,
        };
        // one loop over the noted tokens finds the lexicon words' sentiments, their sums and
        // the first "but": each loop over them ends after a number of rounds that the CPU
        // cannot predict
        let mut sums = Sums::default();
        let mut but = None;
        for (k, &word) in noted.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                let i = 64 * k + bits.trailing_zeros() as usize;
                let flags = ctx.toks.get(i).map_or(0, WordInfo::flags);
                if flags & HAS_LEX != 0 {
                    let s = match path {
                        Path::Fast => ctx.sentiment_fast(i),
                        // the rules in full, for the tests to compare with
                        #[cfg(test)]
                        Path::Exact => ctx.sentiment(i),
                    };
                    sentiments.push((i, s));
                    sums.add(s);
                }
                if flags & BUT != 0 && but.is_none() {
                    but = Some(i);
                }
                bits &= bits - 1;
            }
        }
        if sentiments.is_empty() && path == Path::Fast {
            // no lexicon word (about a third of the texts): every token is neutral whatever the
            // marks, which only add to a sum that is not zero, and the scores are those of
            // zero sums, without their square root, divisions and roundings (the exact path
            // works them out, for the tests to compare with)
            return Sentiment {
                neu: 1.0,
                ..Sentiment::default()
            };
        }
        if let Some(bi) = but {
            but_check(sentiments, bi);
            sums = Sums::default();
            for &(_, s) in sentiments.iter() {
                sums.add(s);
            }
        }
        sums.scores(n - sentiments.len(), punctuation_emphasis(&stats))
    }

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
    fn tokens(
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
    fn token_short(&self, n: usize, w: u64, stats: &mut TextStats) -> Token {
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
    fn token_two(&self, n: usize, w0: u64, w1: u64, stats: &mut TextStats) -> Token {
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
    fn token_punct(
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
    fn push_long(
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
    fn push_general(
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
    fn token_ascii(&self, text: &str, start: usize, end: usize, stats: &mut TextStats) -> Token {
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
    fn token_ascii_short(
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
    fn token_ascii_two(&self, b: &[u8], start: usize, end: usize, stats: &mut TextStats) -> Token {
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
    fn token_ascii_long(&self, b: &[u8], start: usize, end: usize, stats: &mut TextStats) -> Token {
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
    fn token_non_ascii(&self, raw: &str, stats: &mut TextStats) -> Token {
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
    fn token_exact(&self, raw: &str, stats: &mut TextStats) -> Token {
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

/// The first byte at or after `i` that does not start Python whitespace.
#[inline]
fn skip_separators(text: &str, mut i: usize) -> usize {
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
fn word_end(text: &str, start: usize, plain: &CharSet) -> (usize, bool, bool) {
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
struct CharSet {
    bits: Box<[u64]>,
}

impl CharSet {
    /// The characters of U+0080..U+10000 for which `keep` holds.
    fn of_bmp(keep: impl Fn(char) -> bool) -> CharSet {
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
    fn contains(&self, c: char) -> bool {
        let c = c as usize;
        self.bits
            .get(c / 64)
            .is_some_and(|w| w >> (c % 64) & 1 != 0)
    }
}

/// The word table's contents: the lexicon, the boosters, and the words the rules name.
fn word_infos(lex: FxHashMap<Box<str>, f64>) -> FxHashMap<Box<str>, WordInfo> {
    let mut words: FxHashMap<Box<str>, WordInfo> = lex
        .into_iter()
        .map(|(w, v)| {
            let mut info = WordInfo {
                valence: v,
                code: 0,
            };
            info.add_flags(HAS_LEX);
            (w, info)
        })
        .collect();
    for &w in BOOSTER_INCR
        .iter()
        .chain(BOOSTER_DECR)
        .chain(NEGATION_WORDS)
    {
        words.entry(Box::from(w)).or_default();
    }
    for &(w, special) in SPECIAL_WORDS {
        let info = words.entry(Box::from(w)).or_default();
        // the special words are distinct, so no code is there yet
        info.code |= u16::from(special.0);
        if special == Special::BUT {
            info.add_flags(BUT);
        }
        if CONTEXT_WORDS.contains(&special) {
            info.add_flags(CONTEXT);
        }
    }
    for (w, info) in &mut words {
        info.add_flags(booster_flag(w));
        if negated(w) {
            info.add_flags(NEGATED);
        }
    }
    words
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

struct Ctx<'c> {
    toks: &'c [Token],
    cap_diff: bool,
}

impl Ctx<'_> {
    #[inline]
    fn is(&self, i: usize, special: Special) -> bool {
        self.toks.get(i).is_some_and(|t| t.special() == special)
    }

    #[inline]
    fn special(&self, i: usize) -> Special {
        self.toks.get(i).map_or(Special::NONE, WordInfo::special)
    }

    #[inline]
    fn negated(&self, i: usize) -> bool {
        self.toks.get(i).is_some_and(WordInfo::negated)
    }

    #[inline]
    fn has_lex(&self, i: usize) -> bool {
        self.toks.get(i).is_some_and(|t| t.flags() & HAS_LEX != 0)
    }

    /// The sentiment of token `i` before the "but" rule: boosters and "kind" of "kind of"
    /// count zero themselves.
    #[inline]
    fn sentiment(&self, i: usize) -> f64 {
        let Some(tok) = self.toks.get(i) else {
            return 0.0;
        };
        // words outside the lexicon count zero whatever they are, so test that first
        if tok.flags() & HAS_LEX == 0
            || tok.booster().is_some()
            || (tok.special() == Special::KIND && self.is(i + 1, Special::OF))
        {
            return 0.0;
        }
        self.valence(i, tok, tok.valence)
    }

    /// [`Ctx::sentiment`] of a lexicon word, without the rules when nothing in the three
    /// tokens before it can change its valence (see [`LOOKS_BACK`]) and it is no booster and
    /// no word the rules name. Those tokens are read without a branch on where the text
    /// starts (a token before the first counts as none).
    #[inline]
    fn sentiment_fast(&self, i: usize) -> f64 {
        let Some(tok) = self.toks.get(i) else {
            return 0.0;
        };
        let code = |j: usize| self.toks.get(j).map_or(0, |t| t.code);
        let before = code(i.wrapping_sub(1)) | code(i.wrapping_sub(2)) | code(i.wrapping_sub(3));
        let own = u16::from(BOOST_INCR | BOOST_DECR) << 8 | 0xff;
        if (before >> 8) as u8 & LOOKS_BACK != 0 || tok.code & own != 0 {
            return self.sentiment(i);
        }
        // the valence as [`Ctx::valence`] leaves it with no booster, negation or idiom
        // about: the zeros it adds for the missing boosters change nothing but a -0.0 (no
        // embedded valence is zero), and a -0.0 sentiment scores as 0.0 does
        let v = tok.valence;
        if tok.all_caps() && self.cap_diff {
            return if v > 0.0 { v + C_INCR } else { v - C_INCR };
        }
        v
    }

    fn valence(&self, i: usize, tok: &Token, base: f64) -> f64 {
        let n = self.toks.len();
        let mut v = base;
        // "no" directly before a lexicon word negates that word instead of counting itself
        if tok.special() == Special::NO && i + 1 < n && self.has_lex(i + 1) {
            v = 0.0;
        }
        if (i > 0 && self.is(i - 1, Special::NO))
            || (i > 1 && self.is(i - 2, Special::NO))
            || (i > 2
                && self.is(i - 3, Special::NO)
                && matches!(self.special(i - 1), Special::OR | Special::NOR))
        {
            v = base * N_SCALAR;
        }
        if tok.all_caps() && self.cap_diff {
            if v > 0.0 {
                v += C_INCR;
            } else {
                v -= C_INCR;
            }
        }
        for start_i in 0..3 {
            if i > start_i && !self.has_lex(i - start_i - 1) {
                let mut s = self.scalar_inc_dec(i - start_i - 1, v);
                if start_i == 1 && s != 0.0 {
                    s *= 0.95;
                }
                if start_i == 2 && s != 0.0 {
                    s *= 0.9;
                }
                v += s;
                v = self.negation_check(v, start_i, i);
                if start_i == 2 {
                    v = self.special_idioms(v, i);
                }
            }
        }
        self.least_check(v, i)
    }

    fn scalar_inc_dec(&self, j: usize, valence: f64) -> f64 {
        let Some(tok) = self.toks.get(j) else {
            return 0.0;
        };
        let Some(b) = tok.booster() else {
            return 0.0;
        };
        let mut s = if valence < 0.0 { -b } else { b };
        if tok.all_caps() && self.cap_diff {
            if valence > 0.0 {
                s += C_INCR;
            } else {
                s -= C_INCR;
            }
        }
        s
    }

    fn negation_check(&self, v: f64, start_i: usize, i: usize) -> f64 {
        let so_this = |j: usize| matches!(self.special(j), Special::SO | Special::THIS);
        match start_i {
            0 => {
                if self.negated(i - 1) {
                    return v * N_SCALAR;
                }
            }
            1 => {
                if self.is(i - 2, Special::NEVER) && so_this(i - 1) {
                    return v * 1.25;
                } else if self.is(i - 2, Special::WITHOUT) && self.is(i - 1, Special::DOUBT) {
                    return v;
                } else if self.negated(i - 2) {
                    return v * N_SCALAR;
                }
            }
            _ => {
                if (self.is(i - 3, Special::NEVER) && so_this(i - 2)) || so_this(i - 1) {
                    return v * 1.25;
                } else if self.is(i - 3, Special::WITHOUT)
                    && (self.is(i - 2, Special::DOUBT) || self.is(i - 1, Special::DOUBT))
                {
                    return v;
                } else if self.negated(i - 3) {
                    return v * N_SCALAR;
                }
            }
        }
        v
    }

    /// only called with i >= 3
    fn special_idioms(&self, mut v: f64, i: usize) -> f64 {
        let n = self.toks.len();
        let (w3, w2, w1, w0) = (
            self.special(i - 3),
            self.special(i - 2),
            self.special(i - 1),
            self.special(i),
        );
        let seqs: [&[Special]; 5] = [
            &[w1, w0],
            &[w2, w1, w0],
            &[w2, w1],
            &[w3, w2, w1],
            &[w3, w2],
        ];
        for seq in seqs {
            if let Some(s) = special_case(seq) {
                v = s;
                break;
            }
        }
        if n - 1 > i {
            if let Some(s) = special_case(&[w0, self.special(i + 1)]) {
                v = s;
            }
        }
        if n - 1 > i + 1 {
            if let Some(s) = special_case(&[w0, self.special(i + 1), self.special(i + 2)]) {
                v = s;
            }
        }
        // multi-word dampeners ("kind of", "sort of", "just enough") before the word
        for (a, b) in [(w3, w2), (w2, w1)] {
            if let Some(bv) = booster_phrase(a, b) {
                v += bv;
            }
        }
        v
    }

    fn least_check(&self, v: f64, i: usize) -> f64 {
        if i > 0 && !self.has_lex(i - 1) && self.is(i - 1, Special::LEAST) {
            if i > 1 {
                if !matches!(self.special(i - 2), Special::AT | Special::VERY) {
                    return v * N_SCALAR;
                }
                return v;
            }
            return v * N_SCALAR;
        }
        v
    }
}

/// The reference rescales each value found at its *first* equal position, so repeated
/// values are rescaled in place repeatedly; reproduced as is to agree with it. `bi` is the
/// index of the first "but".
///
/// Only the lexicon words' sentiments are passed: the other tokens' are zero, a nonzero
/// value never equals them, and rescaling a zero leaves a zero (the sign of a zero does not
/// reach the scores), so skipping them changes nothing.
fn but_check(sentiments: &mut [(usize, f64)], bi: usize) {
    for k in 0..sentiments.len() {
        let value = sentiments[k].1;
        let Some(first) = sentiments.iter_mut().find(|(_, x)| *x == value) else {
            continue;
        };
        if first.0 < bi {
            first.1 = value * 0.5;
        } else if first.0 > bi {
            first.1 = value * 1.5;
        }
    }
}

/// The sums the scores are made of, added in token order over the lexicon words' sentiments.
/// The other tokens only count as neutral: adding their zeros would not change any sum.
#[derive(Default)]
struct Sums {
    sum: f64,
    pos: f64,
    neg: f64,
    /// lexicon words whose sentiment is zero
    zeros: usize,
}

impl Sums {
    #[inline]
    fn add(&mut self, s: f64) {
        self.sum += s;
        // adding zeros rather than branching on the sign, a coin toss: neither sum is ever
        // -0.0, the one value that adding 0.0 changes
        self.pos += if s > 0.0 { s + 1.0 } else { 0.0 };
        self.neg += if s < 0.0 { s - 1.0 } else { 0.0 };
        self.zeros += usize::from(s == 0.0);
    }

    /// The scores, with `others` tokens besides the lexicon words and the punctuation
    /// emphasis `punct`.
    fn scores(self, others: usize, punct: f64) -> Sentiment {
        let Sums {
            sum,
            mut pos,
            mut neg,
            zeros,
        } = self;
        // the emphasis goes the way of the sum, and of the bigger of the two sides; as
        // products rather than branches (coin tosses too): `punct` times 1, -1 or 0 is
        // exactly `punct`, `-punct` or 0.0, and adding 0.0 changes none of these sums, which
        // are never -0.0
        let sign = f64::from(i8::from(sum > 0.0) - i8::from(sum < 0.0));
        let compound = normalize(sum + punct * sign);
        let (more_pos, more_neg) = (pos > neg.abs(), pos < neg.abs());
        pos += punct * f64::from(u8::from(more_pos));
        neg -= punct * f64::from(u8::from(more_neg));
        let neu_count = (others + zeros) as f64;
        let total = pos + neg.abs() + neu_count;
        if total == 0.0 {
            return Sentiment {
                compound: round_places(compound, 4),
                ..Sentiment::default()
            };
        }
        Sentiment {
            compound: round_places(compound, 4),
            pos: round_places((pos / total).abs(), 3),
            neu: round_places((neu_count / total).abs(), 3),
            neg: round_places((neg / total).abs(), 3),
        }
    }
}

fn punctuation_emphasis(stats: &TextStats) -> f64 {
    let (ep, qm) = (stats.exclamations, stats.questions);
    let ep_amp = ep.min(4) as f64 * 0.292;
    let qm_amp = match qm {
        0 | 1 => 0.0,
        2 | 3 => qm as f64 * 0.18,
        _ => 0.96,
    };
    ep_amp + qm_amp
}

fn normalize(score: f64) -> f64 {
    (score / (score * score + ALPHA).sqrt()).clamp(-1.0, 1.0)
}

/// Rounds like Python's `round(x, places)` (nearest, ties to even on the exact value).
#[inline]
fn round_places(x: f64, places: i32) -> f64 {
    // the powers the callers use, exactly as `powi` computes them, without the call
    let scale = match places {
        3 => 1e3,
        4 => 1e4,
        _ => 10f64.powi(places),
    };
    let y = x * scale;
    // the nearest integer away from a half, where ties to even and away from zero agree
    let (floor, nearest) = floor_rint(y);
    let frac = y - floor;
    if (frac - 0.5).abs() < 1e-6 {
        return round_near_tie(x, places, nearest / scale);
    }
    nearest / scale
}

/// Near a tie the product's rounding error matters: defer to exact decimal formatting.
#[cold]
#[inline(never)]
fn round_near_tie(x: f64, places: i32, fallback: f64) -> f64 {
    format!("{:.*}", places as usize, x)
        .parse()
        .unwrap_or(fallback)
}

/// `(y.floor(), y.round_ties_even())`, signed zeros included, without the libm calls the
/// baseline x86-64 target makes for them, and without branches (which side of a half `y`
/// falls is a coin toss) or conversions to integers: below 2^51, adding 1.5 * 2^52 leaves
/// no bits for a fraction, so adding it and taking it away again rounds `y` to the nearest
/// integer, ties to even. The callers' values are at most 10^4.
#[inline]
fn floor_rint(y: f64) -> (f64, f64) {
    const SHIFTER: f64 = 6_755_399_441_055_744.0;
    // one test, which NaN fails too
    if y.abs() < 2_251_799_813_685_248.0 {
        // the sign of `y` gives the zeros theirs
        let rint = ((y + SHIFTER) - SHIFTER).copysign(y);
        let floor = (rint - f64::from(u8::from(rint > y))).copysign(y);
        return (floor, rint);
    }
    (y.floor(), y.round_ties_even())
}

/// Python's `str.isspace` for one character: Unicode White_Space plus the ASCII
/// information separators (0x1c-0x1f), which `str.split()` also splits on.
#[inline]
pub(crate) fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

fn strip_punct_if_word(token: &str) -> &str {
    // ASCII punctuation is one byte and never part of a multi-byte character, so trimming
    // bytes is `trim_matches(|c: char| c.is_ascii_punctuation())`
    let b = token.as_bytes();
    let (mut s, mut e) = (0, b.len());
    while s < e && b[s].is_ascii_punctuation() {
        s += 1;
    }
    while e > s && b[e - 1].is_ascii_punctuation() {
        e -= 1;
    }
    let stripped = token.get(s..e).unwrap_or(token);
    if stripped.chars().nth(2).is_none() {
        token
    } else {
        stripped
    }
}

fn is_titlecase(c: char) -> bool {
    matches!(c as u32,
        0x01C5 | 0x01C8 | 0x01CB | 0x01F2 | 0x1F88..=0x1F8F | 0x1F98..=0x1F9F | 0x1FA8..=0x1FAF
        | 0x1FBC | 0x1FCC | 0x1FFC)
}

/// Python's `str.isupper`: at least one cased character and no lowercase or titlecase one.
fn py_isupper(word: &str) -> bool {
    if word.is_ascii() {
        let b = word.as_bytes();
        return !b.iter().any(u8::is_ascii_lowercase) && b.iter().any(u8::is_ascii_uppercase);
    }
    let mut cased = false;
    for c in word.chars() {
        if c.is_lowercase() || is_titlecase(c) {
            return false;
        }
        if c.is_uppercase() {
            cased = true;
        }
    }
    cased
}

fn negated(lower: &str) -> bool {
    is_negation_word(lower) || lower.contains("n't")
}

/// VADER's negation words.
pub fn is_negation_word(lower: &str) -> bool {
    NEGATION_WORDS.contains(&lower)
}

const NEGATION_WORDS: &[&str] = &[
    "aint",
    "arent",
    "cannot",
    "cant",
    "couldnt",
    "darent",
    "didnt",
    "doesnt",
    "ain't",
    "aren't",
    "can't",
    "couldn't",
    "daren't",
    "didn't",
    "doesn't",
    "dont",
    "hadnt",
    "hasnt",
    "havent",
    "isnt",
    "mightnt",
    "mustnt",
    "neither",
    "don't",
    "hadn't",
    "hasn't",
    "haven't",
    "isn't",
    "mightn't",
    "mustn't",
    "neednt",
    "needn't",
    "never",
    "none",
    "nope",
    "nor",
    "not",
    "nothing",
    "nowhere",
    "oughtnt",
    "shant",
    "shouldnt",
    "uhuh",
    "wasnt",
    "werent",
    "oughtn't",
    "shan't",
    "shouldn't",
    "uh-uh",
    "wasn't",
    "weren't",
    "without",
    "wont",
    "wouldnt",
    "won't",
    "wouldn't",
    "rarely",
    "seldom",
    "despite",
];

const BOOSTER_INCR: &[&str] = &[
    "absolutely",
    "amazingly",
    "awfully",
    "completely",
    "considerable",
    "considerably",
    "decidedly",
    "deeply",
    "effing",
    "enormous",
    "enormously",
    "entirely",
    "especially",
    "exceptional",
    "exceptionally",
    "extreme",
    "extremely",
    "fabulously",
    "flipping",
    "flippin",
    "frackin",
    "fracking",
    "fricking",
    "frickin",
    "frigging",
    "friggin",
    "fully",
    "fuckin",
    "fucking",
    "fuggin",
    "fugging",
    "greatly",
    "hella",
    "highly",
    "hugely",
    "incredible",
    "incredibly",
    "intensely",
    "major",
    "majorly",
    "more",
    "most",
    "particularly",
    "purely",
    "quite",
    "really",
    "remarkably",
    "so",
    "substantially",
    "thoroughly",
    "total",
    "totally",
    "tremendous",
    "tremendously",
    "uber",
    "unbelievably",
    "unusually",
    "utter",
    "utterly",
    "very",
];
const BOOSTER_DECR: &[&str] = &[
    "almost",
    "barely",
    "hardly",
    "kinda",
    "kindof",
    "kind-of",
    "less",
    "little",
    "marginal",
    "marginally",
    "occasional",
    "occasionally",
    "partly",
    "scarce",
    "scarcely",
    "slight",
    "slightly",
    "somewhat",
    "sorta",
    "sortof",
    "sort-of",
];

/// Single-word boosters (+0.293) and dampeners (-0.293).
fn booster_flag(lower: &str) -> u8 {
    if BOOSTER_INCR.contains(&lower) {
        BOOST_INCR
    } else if BOOSTER_DECR.contains(&lower) {
        BOOST_DECR
    } else {
        0
    }
}

fn booster_phrase(a: Special, b: Special) -> Option<f64> {
    match (a, b) {
        (Special::JUST, Special::ENOUGH)
        | (Special::KIND, Special::OF)
        | (Special::SORT, Special::OF) => Some(B_DECR),
        _ => None,
    }
}

fn special_case(words: &[Special]) -> Option<f64> {
    use Special as S;
    match words {
        [S::THE, S::SHIT] | [S::THE, S::BOMB] | [S::TO, S::DIE, S::FOR] => Some(3.0),
        [S::BAD, S::ASS] => Some(1.5),
        [S::BUS, S::STOP] => Some(0.0),
        [S::YEAH, S::RIGHT] => Some(-2.0),
        [S::KISS, S::OF, S::DEATH] => Some(-1.5),
        [S::BEATING, S::HEART] => Some(3.5),
        _ => None,
    }
}

#[cfg(test)]
mod tests;

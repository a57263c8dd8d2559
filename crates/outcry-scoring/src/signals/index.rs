//! The tables that index the patterns by their first words, the byte filters in front of them,
//! and what the visits to a text's words have found.

use super::*;

/// Patterns indexed by their first words, for trying all that may match at a word.
#[derive(Debug, Clone)]
pub(super) struct Rules {
    /// the planes of the three tables' keys in the detector's [`Filters`]
    pub(super) planes: Planes,
    /// patterns by their exact first word, under its unigram hash (which the text has already
    /// computed for every word); only those whose second word is not exact
    pub(super) by_word: Table,
    /// patterns starting with two exact words, under the bigram hash of the two (also already
    /// computed): the commonest words start only such patterns ("i", "my", "for", "no"), and
    /// keyed by one word they cost a look-up and a comparison per pattern at every occurrence
    pub(super) by_pair: Table,
    /// patterns by the first [`PREFIX_KEY_LEN`] bytes of their first word's prefix
    pub(super) by_prefix: Table,
}

/// The planes of a [`Rules`]' word, pair and prefix tables; 0 for a table that must be empty.
#[derive(Debug, Clone, Copy)]
pub(super) struct Planes {
    pub(super) word: u8,
    pub(super) pair: u8,
    pub(super) prefix: u8,
}

impl Rules {
    /// Files `patterns`, which start with an exact word or a long enough prefix, and marks
    /// their keys in `filters`.
    pub(super) fn new(
        patterns: impl IntoIterator<Item = Pattern>,
        planes: Planes,
        filters: &mut Filters,
    ) -> Rules {
        // per table, (hash, key, run) entries
        let mut by_word: Vec<(u64, u32, Vec<Pattern>)> = Vec::new();
        let (mut by_pair, mut by_prefix) = (Vec::new(), Vec::new());
        for pattern in patterns {
            let (list, hash, key) = match (&pattern.toks[0], pattern.toks.get(1)) {
                (Tok::Exact(a), Some(Tok::Exact(b))) => {
                    let pair = normalized_hashes(&format!("{} {}", a.text, b.text));
                    let hash = pair.get(1).map_or(0, |h| h.bigram);
                    (&mut by_pair, hash, hash as u32)
                }
                (Tok::Exact(w), _) => (&mut by_word, w.hash, w.hash as u32),
                (Tok::Prefix(p), _) => {
                    let (hash, key) = prefix_key(p.as_bytes(), 0);
                    (&mut by_prefix, hash, key)
                }
                (Tok::Any, _) => unreachable!("refused by SignalDetector::new"),
            };
            match list.iter_mut().find(|(_, k, _)| *k == key) {
                Some((_, _, run)) => run.push(pattern),
                None => list.push((hash, key, vec![pattern])),
            }
        }
        for (entries, plane) in [
            (&by_word, planes.word),
            (&by_pair, planes.pair),
            (&by_prefix, planes.prefix),
        ] {
            assert!(
                plane != 0 || entries.is_empty(),
                "patterns for a table with no plane"
            );
            for &(hash, _, _) in entries {
                filters.mark(hash, plane);
            }
        }
        Rules {
            planes,
            by_word: Table::new(by_word),
            by_pair: Table::new(by_pair),
            by_prefix: Table::new(by_prefix),
        }
    }

    /// Calls `found` with the matches of the patterns filed under word `i`'s unigram hash.
    #[inline(always)]
    pub(super) fn word_matches(&self, norm: &Normalized, i: usize, found: &mut impl FnMut(Match)) {
        if let Some(h) = norm.hashes.get(i) {
            let key = (h.unigram, h.unigram as u32);
            self.by_word.each_match(key, 1, norm, i, found);
        }
    }

    /// Calls `found` with the matches at word `i - 1` of the pair patterns filed under word
    /// `i`'s bigram hash (that of the two words).
    #[inline(always)]
    pub(super) fn pair_matches(&self, norm: &Normalized, i: usize, found: &mut impl FnMut(Match)) {
        if let (Some(h), true) = (norm.hashes.get(i), i > 0) {
            let key = (h.bigram, h.bigram as u32);
            self.by_pair.each_match(key, 2, norm, i - 1, found);
        }
    }

    /// Calls `found` with the matches of the patterns filed under word `i`'s prefix key.
    #[inline(always)]
    pub(super) fn prefix_matches(
        &self,
        norm: &Normalized,
        i: usize,
        found: &mut impl FnMut(Match),
    ) {
        if let Some(&(s, _)) = norm.words.get(i) {
            let key = prefix_key(norm.padded.as_bytes(), s as usize);
            self.by_prefix.each_match(key, 0, norm, i, found);
        }
    }

    /// Calls `found` with the matches at word `i` of the tables whose filter planes are set
    /// in `planes` (what [`SignalDetector::planes_at`] let through for the word).
    #[inline(always)]
    pub(super) fn planed_matches(
        &self,
        planes: u8,
        norm: &Normalized,
        i: usize,
        found: &mut impl FnMut(Match),
    ) {
        if planes & Filters::SIGNAL_WORD != 0 {
            self.word_matches(norm, i, found);
        }
        if planes & Filters::SIGNAL_PAIR != 0 {
            self.pair_matches(norm, i, found);
        }
        if planes & Filters::SIGNAL_PREFIX != 0 {
            self.prefix_matches(norm, i, found);
        }
    }

    /// Calls `found` with the matches at word `i` of the patterns that do not start with two
    /// exact words (all of them, in rules with no pair patterns).
    #[inline]
    pub(super) fn single_matches(
        &self,
        filters: &Filters,
        norm: &Normalized,
        i: usize,
        mut found: impl FnMut(Match),
    ) {
        let (Some(h), Some(&(s, _))) = (norm.hashes.get(i), norm.words.get(i)) else {
            return;
        };
        if filters.may_hold(h.unigram, self.planes.word) {
            self.word_matches(norm, i, &mut found);
        }
        // rules with no prefix patterns load and hash no key
        if self.planes.prefix != 0
            && filters.may_hold(
                prefix_key(norm.padded.as_bytes(), s as usize).0,
                self.planes.prefix,
            )
        {
            self.prefix_matches(norm, i, &mut found);
        }
    }

    /// Whether a one-word pattern matches word `i`, in rules with no pair patterns.
    pub(super) fn matches_word(&self, filters: &Filters, norm: &Normalized, i: usize) -> bool {
        let mut hit = false;
        self.single_matches(filters, norm, i, |_| hit = true);
        hit
    }
}

/// A pattern matching at a word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Match {
    /// the word it starts at
    pub(super) start: usize,
    /// one past the word it ends at
    pub(super) end: usize,
    pub(super) rank: u16,
    pub(super) class: Class,
}

/// The filters of the detector's tables, sets of hashes that may answer "no" for sure: a
/// byte per value of a hash's top [`FILTER_BITS`] bits, in which a bit per table (its plane)
/// is set for the hashes of its keys. Most words start no pattern, and stop at the filters.
/// One array for all tables: it takes the cache that one would.
#[derive(Debug, Clone)]
pub(super) struct Filters(pub(super) Box<[u8; 1 << FILTER_BITS]>);

/// With at most [`MAX_KEYS`] hashes a plane, under 2% of its bits are set: few words get past
/// in vain. A byte per value: a test takes one load, an AND and no shifts.
pub(super) const FILTER_BITS: u32 = 14;

impl Filters {
    /// The planes of the signal tables.
    pub(super) const SIGNAL_WORD: u8 = 1;
    pub(super) const SIGNAL_PAIR: u8 = 2;
    pub(super) const SIGNAL_PREFIX: u8 = 4;
    /// The plane of the unigram hashes of `?` and `!` (see [`SignalDetector::PUNCTUATION`]).
    pub(super) const PUNCTUATION: u8 = 8;
    /// The plane of the question words.
    pub(super) const QUESTION_WORD: u8 = 16;
    /// The planes of the staff words and of the staff prefixes.
    pub(super) const STAFF_WORD: u8 = 32;
    pub(super) const STAFF_PREFIX: u8 = 64;

    pub(super) fn new() -> Filters {
        Filters(Box::new([0; 1 << FILTER_BITS]))
    }

    /// Sets `plane`'s bit for `hash`.
    pub(super) fn mark(&mut self, hash: u64, plane: u8) {
        self.0[(hash >> (64 - FILTER_BITS)) as usize] |= plane;
    }

    /// The bits set for `hash`, and for any other hash with the same top bits.
    #[inline(always)]
    pub(super) fn marks(&self, hash: u64) -> u8 {
        self.0[(hash >> (64 - FILTER_BITS)) as usize]
    }

    /// Whether `hash` may be set in `plane`: if not, it is not (never in plane 0).
    #[inline(always)]
    pub(super) fn may_hold(&self, hash: u64, plane: u8) -> bool {
        self.marks(hash) & plane != 0
    }
}

/// A flat open-addressing table (linear probing) from a 32-bit key to a run of patterns. Its
/// sizes are constants so that the probes index with shifts of constants and no bounds checks.
#[derive(Debug, Clone)]
pub(super) struct Table {
    /// a key's slot is its hash's top [`SLOT_BITS`] bits, or the next free one
    pub(super) slots: Box<[Slot; 1 << SLOT_BITS]>,
    /// the runs, each in pattern order
    pub(super) patterns: Vec<Pattern>,
}

/// Room for [`MAX_KEYS`] keys, a quarter full, so that a hit rarely probes a second slot.
pub(super) const SLOT_BITS: u32 = 10;
pub(super) const MAX_KEYS: usize = 1 << (SLOT_BITS - 2);

#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Slot {
    pub(super) key: u32,
    pub(super) start: u16,
    pub(super) end: u16,
}

impl Table {
    /// A table of `(hash, key, run)` entries, keys distinct, runs not empty.
    pub(super) fn new(entries: Vec<(u64, u32, Vec<Pattern>)>) -> Table {
        assert!(entries.len() <= MAX_KEYS, "{} table keys", entries.len());
        let mut slots = Box::new([Slot::default(); 1 << SLOT_BITS]);
        let mut patterns = Vec::new();
        // last first: the lists end with the commonest words, which so take their first slot
        // and cost one probe
        for (hash, key, run) in entries.into_iter().rev() {
            let mut at = (hash >> (64 - SLOT_BITS)) as usize;
            // an empty slot has an empty run
            while slots[at].start != slots[at].end {
                assert_ne!(slots[at].key, key, "table keys must be distinct");
                at = (at + 1) % slots.len();
            }
            let start = patterns.len() as u16;
            patterns.extend(run);
            slots[at] = Slot {
                key,
                start,
                end: patterns.len() as u16,
            };
        }
        Table { slots, patterns }
    }

    /// The patterns filed under `key` (empty if none); the table's filter turns most keys
    /// away more cheaply.
    #[inline(always)]
    pub(super) fn get(&self, hash: u64, key: u32) -> &[Pattern] {
        let mut at = (hash >> (64 - SLOT_BITS)) as usize;
        loop {
            let slot = self.slots[at];
            // an empty slot ends the probe with its empty run
            if slot.key == key || slot.start == slot.end {
                return self
                    .patterns
                    .get(usize::from(slot.start)..usize::from(slot.end))
                    .unwrap_or(&[]);
            }
            at = (at + 1) % self.slots.len();
        }
    }

    /// Calls `found` with the matches at word `i` of the patterns filed under `key`, which
    /// share their first `shared` words.
    #[inline(always)]
    pub(super) fn each_match(
        &self,
        (hash, key): (u64, u32),
        shared: usize,
        norm: &Normalized,
        i: usize,
        found: &mut impl FnMut(Match),
    ) {
        let run = self.get(hash, key);
        // compared once for the run
        if !run
            .first()
            .is_some_and(|p| p.toks_match(norm, i, 0, shared))
        {
            return;
        }
        for p in run {
            if let Some(len) = p.match_len(norm, i, shared) {
                found(Match {
                    start: i,
                    end: i + len,
                    rank: p.rank,
                    class: p.class,
                });
            }
        }
    }
}

/// The [`PREFIX_KEY_LEN`] bytes at `at` in `padded`, where a word starts (with what follows a
/// shorter word, or 0 at the very end: either way no prefix's key, as prefixes are as long),
/// and the hash that places them in a prefix table.
#[inline]
pub(super) fn prefix_key(padded: &[u8], at: usize) -> (u64, u32) {
    let key = padded
        .get(at..at + PREFIX_KEY_LEN)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u32::from_le_bytes);
    (prefix_hash(key), key)
}

/// The hash of a prefix key, whose top bits place it in the prefix tables.
#[inline(always)]
pub(super) fn prefix_hash(key: u32) -> u64 {
    u64::from(key).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// Prefix patterns are filed by this many leading bytes, so their prefixes must be as long:
/// the shortest are four bytes ("burn*", "jerk*"), and three would let common words ("can",
/// "com") through to the patterns of longer prefixes ("cancel*", "compensat*").
pub(super) const PREFIX_KEY_LEN: usize = size_of::<u32>();

/// The first match of a kind so far: the least by (start word, rank).
#[derive(Debug, Clone, Copy)]
pub(super) struct First {
    pub(super) start: usize,
    pub(super) rank: u16,
    /// the words of the evidence
    pub(super) span: (usize, usize),
}

/// What the visits to a text's words have found so far.
#[derive(Debug, Default)]
pub(super) struct Found {
    pub(super) kinds: [Option<First>; 8],
    /// the first `?`
    pub(super) first_q: Option<usize>,
    /// the first question word that opens a question, if before the first `?`
    pub(super) question_start: Option<usize>,
}

impl Found {
    /// Keeps the match at `start` of rank `rank` for `kind` if it comes first.
    #[inline]
    pub(super) fn offer(
        &mut self,
        kind: SignalKind,
        start: usize,
        rank: u16,
        span: (usize, usize),
    ) {
        let slot = &mut self.kinds[kind as usize];
        if slot.is_none_or(|f| (start, rank) < (f.start, f.rank)) {
            *slot = Some(First { start, rank, span });
        }
    }
}

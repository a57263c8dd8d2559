//! The words that moved the complaint score most, for the explanation.
//!
//! Every mention gets them, so this is on the hot path. A tweet has a few dozen words: they
//! are merged (a word that occurs twice counts once, with both contributions) in an
//! open-addressing table indexed by the word's unigram hash. The table lives in
//! [`TopScratch`] and is never cleared: a slot belongs to the current call only if it carries
//! the call's stamp, so a call touches only the slots its words land in. Of the distinct words
//! the few largest are kept without a branch on where each one ranks, which no predictor
//! learns (see [`select_few`]); ties on the magnitude, which the words decide, and longer
//! lists go through an insertion into a sorted array.

use crate::features::{Normalized, NS_UNIGRAM};
use crate::hash::Fnv64;

/// Slots of the merge table for texts of up to a quarter as many words (nearly every
/// tweet), so that words rarely share a first slot; the table's size is known when compiling,
/// so its lookups need no bounds checks.
const SMALL_SLOTS: usize = 256;

/// Reusable buffers of [`top_words`].
#[derive(Debug, Default)]
pub(crate) struct TopScratch {
    /// the merge table (a power of two long): a slot is taken in this call if its stamp is
    /// `stamp`, so the table is never cleared between calls
    slots: Vec<Slot>,
    /// the stamp of the current call, never 0 (the stamp of a slot no call took)
    stamp: u32,
    /// the slots taken in this call, in the order of their words' first occurrence; at least
    /// as long as the text has words
    taken: Vec<u32>,
    /// the largest so far
    top: Vec<Ranked>,
}

/// A slot of the merge table: a distinct word, its first occurrence, its unigram hash and
/// its summed contribution.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    key: u64,
    sum: f64,
    word: u32,
    /// the call that took the slot
    stamp: u32,
}

/// A word among the largest so far: the bits of its sum's magnitude, and its slot.
#[derive(Debug, Clone, Copy, Default)]
struct Ranked {
    /// for non-negative floats the bits order as the float does
    rank: u64,
    slot: u32,
}

/// The bits of a float's magnitude.
const MAGNITUDE: u64 = u64::MAX >> 1;

/// The words normalisation puts in place of handles and URLs: they explain nothing.
const PLACEHOLDERS: [&[u8]; 2] = [b"@user", b"<url>"];

/// The unigram hashes of [`PLACEHOLDERS`], as normalisation computes them: a placeholder has
/// its hash (the merge relies on the same, that equal words have equal hashes), so it is
/// found where its hash leads.
const PLACEHOLDER_KEYS: [u64; 2] = [unigram_key(PLACEHOLDERS[0]), unigram_key(PLACEHOLDERS[1])];

/// The unigram hash of a word (see `features::WordHashes`).
const fn unigram_key(word: &[u8]) -> u64 {
    let mut h = Fnv64::new(NS_UNIGRAM);
    h.bytes(word);
    h.finish()
}

impl TopScratch {
    /// Starts a call for a text of `n` words: a new stamp, so every slot is free for it, and
    /// the size of the table it uses.
    fn start(&mut self, n: usize) -> usize {
        let size = (4 * n).next_power_of_two().max(SMALL_SLOTS);
        if self.slots.len() < size {
            self.slots.resize(size, Slot::default());
        }
        if self.taken.len() < n {
            self.taken.resize(n, 0);
        }
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            // every stamp has been used: old slots could carry the new call's
            self.slots.fill(Slot::default());
            self.stamp = 1;
        }
        size
    }
}

/// The `k` words with the largest summed contribution, largest magnitude first and ties by
/// the word, each rounded to four places; the `i`-th of `contributions` is word `i`'s (it
/// has one per word). Words whose sum is at most 1e-4 in magnitude, and placeholders, are
/// left out. The contributions are taken as an iterator, which the merge runs in its loop:
/// the model makes them as they are merged rather than in a pass of its own.
#[inline(never)]
pub(crate) fn top_words(
    norm: &Normalized,
    k: usize,
    scratch: &mut TopScratch,
    contributions: impl Iterator<Item = f64>,
) -> Vec<(String, f64)> {
    if k == 0 {
        return Vec::new();
    }
    let words = Words::new(norm);
    let size = scratch.start(norm.hashes.len());
    let TopScratch {
        slots,
        stamp,
        taken,
        top,
    } = scratch;
    let small = slots
        .get_mut(..SMALL_SLOTS)
        .and_then(|t| <&mut [Slot; SMALL_SLOTS]>::try_from(t).ok());
    let distinct = match small {
        // the same code, compiled for the small table's constant size
        Some(table) if size == SMALL_SLOTS => merge(&words, table, *stamp, taken, contributions),
        _ => merge(&words, &mut slots[..size], *stamp, taken, contributions),
    };
    select(
        &words,
        slots,
        taken.get(..distinct).unwrap_or_default(),
        k,
        top,
    );
    // a map of the slice's iterator: the result is allocated once, at its length
    top.iter()
        .map(|r| {
            let slot = slots.get(r.slot as usize).copied().unwrap_or_default();
            (words.string(slot.word), round(slot.sum * 1e4) / 1e4)
        })
        .collect()
}

/// Merges repeated words into `slots` (a power of two long, more than the words), leaving
/// out placeholders, and returns the number of distinct words: their slots are the first
/// entries of `taken`, in the order of their first occurrence.
#[inline(always)]
fn merge(
    words: &Words<'_>,
    slots: &mut [Slot],
    stamp: u32,
    taken: &mut [u32],
    contributions: impl Iterator<Item = f64>,
) -> usize {
    let mask = slots.len() - 1;
    let hashes = &words.norm.hashes;
    let mut distinct = 0;
    for (i, (h, sum)) in (0u32..).zip(hashes.iter().zip(contributions)) {
        let key = h.unigram;
        // the hash is avalanched: its low bits will do
        let mut s = key as usize;
        loop {
            let slot = &mut slots[s & mask];
            if slot.stamp != stamp {
                *slot = Slot {
                    key,
                    sum,
                    word: i,
                    stamp,
                };
                if let Some(t) = taken.get_mut(distinct) {
                    *t = (s & mask) as u32;
                }
                distinct += 1;
                break;
            }
            if slot.key == key && words.same(slot.word, i) {
                slot.sum += sum;
                break;
            }
            s += 1;
        }
    }
    // placeholders are left out after the merge, each looked up once, rather than tested
    // word by word: which word of a text is `@user` is a branch no predictor learns
    for (placeholder, key) in PLACEHOLDERS.iter().zip(PLACEHOLDER_KEYS) {
        let mut s = key as usize;
        loop {
            let slot = &mut slots[s & mask];
            if slot.stamp != stamp {
                break;
            }
            if slot.key == key && words.bytes(slot.word) == *placeholder {
                // never reported, as no sum of magnitude 0 is
                slot.sum = 0.0;
                break;
            }
            s += 1;
        }
    }
    distinct
}

/// The least rank of a reported word: a magnitude above 1e-4.
const REPORTED: u64 = 1e-4f64.to_bits() + 1;

/// Most words [`select_few`] keeps: as many as the explanation asks for.
const FEW: usize = crate::TOP_TERMS;

/// Leaves in `top` the `k` largest (by magnitude, ties by the word) of the words in `taken`
/// whose magnitude is above 1e-4, largest first.
#[inline(always)]
fn select(words: &Words<'_>, slots: &[Slot], taken: &[u32], k: usize, top: &mut Vec<Ranked>) {
    if k > FEW || !select_few(slots, taken, k, top) {
        select_any(words, slots, taken, k, top);
    }
}

/// [`select`] for `k <= FEW` without a branch on where a word ranks, which no predictor
/// learns: the largest so far are kept in no order, a word larger than the smallest of them
/// takes its place, and the smallest is found again with conditional moves; at the end they
/// are sorted by counting. Only magnitudes are compared: if two of the words it keeps could
/// have the same, it gives up (returns false) for [`select_any`], which compares the words.
#[inline(always)]
fn select_few(slots: &[Slot], taken: &[u32], k: usize, top: &mut Vec<Ranked>) -> bool {
    // free entries rank below every reported word, each differently; those past `k` never
    // leave
    let mut rank: [u64; FEW] = std::array::from_fn(|j| if j < k { j as u64 } else { u64::MAX });
    let mut slot = [0u32; FEW];
    // the smallest entry, where it is, and what a word needs to take its place
    let (mut min, mut at, mut floor) = (0u64, 0usize, REPORTED);
    let mut tie = false;
    for &s in taken {
        let r = slots
            .get(s as usize)
            .map_or(0, |slot| slot.sum.to_bits() & MAGNITUDE);
        if r < floor {
            continue;
        }
        rank[at % FEW] = r;
        slot[at % FEW] = s;
        let left = min;
        (min, at) = (rank[0], 0);
        for (j, &e) in rank.iter().enumerate().skip(1) {
            if e < min {
                (min, at) = (e, j);
            }
        }
        floor = min.max(REPORTED);
        // the word was as large as the one it replaced, or that one had a twin (which is
        // the smallest now, as the word is larger): the words would decide
        tie |= (r == left) | (min == left);
    }
    // sorted by counting: an entry's place is the number of larger ones, less the entries
    // past `k`, which are larger than any
    let mut order = [0usize; FEW + 1];
    let (mut kept, mut places) = (0, 0u32);
    for (i, &r) in rank.iter().enumerate() {
        let reported = (REPORTED..u64::MAX).contains(&r);
        let larger = rank.iter().fold(0, |n, &e| n + usize::from(e > r));
        let place = larger.wrapping_sub(FEW - k);
        // entries not reported go to the spare place at the end
        let place = if reported { place } else { FEW };
        order[place.min(FEW)] = i;
        kept += usize::from(reported);
        places |= 1u32.checked_shl(place as u32).unwrap_or(0);
    }
    // twins among the kept would share a place
    if tie || places & ((1 << FEW) - 1) != (1 << kept) - 1 {
        return false;
    }
    top.clear();
    top.extend(order.iter().take(kept).map(|&i| Ranked {
        rank: rank[i % FEW],
        slot: slot[i % FEW],
    }));
    true
}

/// [`select`] for any `k`, by insertion into a sorted array; most words are turned away by
/// one comparison with `floor`, the rank a word needs to enter.
#[inline(never)]
fn select_any(words: &Words<'_>, slots: &[Slot], taken: &[u32], k: usize, top: &mut Vec<Ranked>) {
    top.clear();
    let mut floor = REPORTED;
    let word = |r: &Ranked| slots.get(r.slot as usize).map_or(0, |s| s.word);
    for &s in taken {
        let Some(slot) = slots.get(s as usize) else {
            continue;
        };
        let rank = slot.sum.to_bits() & MAGNITUDE;
        if rank < floor {
            continue;
        }
        let before = |other: &Ranked| {
            rank > other.rank
                || (rank == other.rank && words.bytes(slot.word) < words.bytes(word(other)))
        };
        if top.len() == k && !top.last().is_some_and(before) {
            // full, and the word does not rank before the last
            continue;
        }
        let mut j = top.len();
        if j == k {
            j -= 1;
        } else {
            top.push(Ranked::default());
        }
        // the word is held, not swapped down: each step moves one entry up
        while j > 0 && before(&top[j - 1]) {
            top[j] = top[j - 1];
            j -= 1;
        }
        top[j] = Ranked { rank, slot: s };
        if top.len() == k {
            floor = top[k - 1].rank;
        }
    }
}

/// `x.round()` (half away from zero), without the library call it is on x86-64 before
/// SSE4.1: an integer conversion truncates, and the fraction it dropped says whether to
/// round up in magnitude.
#[inline(always)]
fn round(x: f64) -> f64 {
    // from 2^52 on every float is an integer (and NaN fails the test)
    if x.abs() < 4_503_599_627_370_496.0 {
        let t = x as i64 as f64;
        // exact: the fraction of a float is a float
        let up: f64 = if (x - t).abs() >= 0.5 { 1.0 } else { 0.0 };
        // the sign, also of a zero, is `x`'s
        (t + up.copysign(x)).copysign(x)
    } else {
        x
    }
}

/// The bytes of a text's words.
struct Words<'a> {
    norm: &'a Normalized,
    bytes: &'a [u8],
}

impl<'a> Words<'a> {
    fn new(norm: &'a Normalized) -> Words<'a> {
        Words {
            norm,
            bytes: norm.padded.as_bytes(),
        }
    }

    #[inline]
    fn bytes(&self, i: u32) -> &'a [u8] {
        let (s, e) = self.norm.words.get(i as usize).copied().unwrap_or((0, 0));
        self.bytes.get(s as usize..e as usize).unwrap_or(&[])
    }

    /// Word `i` as a `String`. A word of up to eight bytes is copied as the eight bytes from
    /// its start and cut to its length, a load and a store, rather than by `memcpy`, whose
    /// branches on the length mispredict: the string then has room for eight bytes, which
    /// the allocator gives any string of up to 24 anyway.
    #[inline(always)]
    fn string(&self, i: u32) -> String {
        let (s, e) = self.norm.words.get(i as usize).copied().unwrap_or((0, 0));
        let (s, n) = (s as usize, e.wrapping_sub(s) as usize);
        let padded = self.norm.padded.as_str();
        // (the word ends on a character boundary, as a word does)
        if n <= 8 && padded.is_char_boundary(s + n) {
            // fails only near the end of the text, or if the eight bytes end inside a character
            if let Some(eight) = padded.get(s..s + 8) {
                let mut text = String::with_capacity(8);
                text.push_str(eight);
                text.truncate(n);
                return text;
            }
        }
        padded.get(s..s + n).unwrap_or_default().to_string()
    }

    /// Whether words `a` and `b` are the same word (the merge asks when their hashes are
    /// equal), byte by byte: a call to `memcmp` would have the merge loop keep its values on
    /// the stack, around the call.
    #[inline(always)]
    fn same(&self, a: u32, b: u32) -> bool {
        let (a, b) = (self.bytes(a), self.bytes(b));
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
    }
}

#[cfg(test)]
pub(crate) mod tests;

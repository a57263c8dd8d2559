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
pub(crate) mod tests {
    use super::*;
    use crate::features::normalize_into;

    /// [`top_words`] of contributions given as a slice, in a scratch of its own.
    fn top_fresh(norm: &Normalized, k: usize, per_word: &[f64]) -> Vec<(String, f64)> {
        top_words(
            norm,
            k,
            &mut TopScratch::default(),
            per_word.iter().copied(),
        )
    }

    /// Fewer than `max` words of `vocab`, drawn with `r`: the count, then each word.
    pub(crate) fn random_words<'v>(
        r: &mut crate::hash::SplitMix64,
        vocab: &[&'v str],
        max: u64,
    ) -> Vec<&'v str> {
        let n = r.next_u64() % max;
        (0..n)
            .map(|_| vocab[(r.next_u64() % vocab.len() as u64) as usize])
            .collect()
    }

    /// Merge by the word, full sort by (magnitude descending, word), first k.
    pub(crate) fn reference(norm: &Normalized, per_word: &[f64], k: usize) -> Vec<(String, f64)> {
        let mut sums: Vec<(String, f64)> = Vec::new();
        for (i, &c) in per_word.iter().enumerate() {
            if matches!(norm.word(i), "@user" | "<url>") {
                continue;
            }
            match sums.iter_mut().find(|(w, _)| w == norm.word(i)) {
                Some((_, s)) => *s += c,
                None => sums.push((norm.word(i).to_string(), c)),
            }
        }
        sums.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()).then_with(|| a.0.cmp(&b.0)));
        sums.iter()
            .take(k)
            .filter(|(_, s)| s.abs() > 1e-4)
            .map(|(w, s)| (w.clone(), (s * 1e4).round() / 1e4))
            .collect()
    }

    #[test]
    fn top_words_match_a_full_sort() {
        // placeholders too, and words that normalise to them: they are never reported
        let vocab = [
            "late",
            "refund",
            "bad",
            "ok",
            "why",
            "never",
            "again",
            "a",
            "b",
            "c",
            "@brand",
            "https://t.co/x",
            "<url>",
            "customerservice",
            "customerservices",
            "?",
        ];
        let mut r = crate::hash::SplitMix64::new(11);
        let mut scratch = TopScratch::default();
        for case in 0..6_000 {
            // past the small table now and then
            let text = random_words(&mut r, &vocab, 90);
            let mut norm = Normalized::default();
            normalize_into(&text.join(" "), &mut norm);
            let per_word: Vec<f64> = (0..norm.words.len())
                .map(|_| {
                    if case % 2 == 0 {
                        // few distinct magnitudes, so ties on the sum are decided by the word
                        ((r.next_u64() % 9) as f64 - 4.0) * 0.25
                    } else {
                        // hardly any ties, some sums too small to report
                        (r.next_u64() % 4001) as f64 / 1000.0 - 2.0
                    }
                })
                .collect();
            for k in 0..8 {
                let want = reference(&norm, &per_word, k);
                let got = top_words(&norm, k, &mut scratch, per_word.iter().copied());
                assert_eq!(got, want, "case {case} k {k}: {text:?}");
            }
        }
    }

    #[test]
    fn colliding_hashes_are_told_apart_by_the_bytes() {
        let mut norm = Normalized::default();
        normalize_into("late refund late bad refund late", &mut norm);
        // every word given the same hash: the table cannot tell them apart, the bytes can
        for h in &mut norm.hashes {
            h.unigram = 7;
        }
        let per_word = [1.0, 0.5, 1.0, -4.0, 0.5, 1.0];
        let want = reference(&norm, &per_word, 3);
        assert_eq!(want[0], ("bad".to_string(), -4.0));
        let got = top_fresh(&norm, 3, &per_word);
        assert_eq!(got, want);
    }

    #[test]
    fn the_branch_free_selection_gives_up_only_on_ties() {
        let few = |sums: &[f64], k: usize| {
            let slots: Vec<Slot> = sums
                .iter()
                .map(|&sum| Slot {
                    sum,
                    ..Slot::default()
                })
                .collect();
            let taken: Vec<u32> = (0..sums.len() as u32).collect();
            let mut top = Vec::new();
            select_few(&slots, &taken, k, &mut top).then(|| {
                top.iter()
                    .map(|r| sums[r.slot as usize])
                    .collect::<Vec<f64>>()
            })
        };
        let sums = [0.5, -3.0, 1e-5, 2.0, -0.25, 1.5, 0.0, -1.0, 4.0];
        for k in 1..=FEW {
            let mut want: Vec<f64> = sums
                .iter()
                .copied()
                .filter(|s: &f64| s.abs() > 1e-4)
                .collect();
            want.sort_by(|a, b| b.abs().total_cmp(&a.abs()));
            want.truncate(k);
            assert_eq!(few(&sums, k), Some(want), "k {k}");
        }
        // equal magnitudes where the words would decide: which one is kept, or in which order
        assert_eq!(few(&[1.0, 2.0, -1.0], 2), None);
        assert_eq!(few(&[3.0, 1.0, 2.0, 1.0, 4.0, 5.0, 6.0], 5), None);
        assert_eq!(few(&[2.0, -2.0, 1.0], 5), None);
        // and where they would not: below the kept ones
        assert_eq!(few(&[5.0, 6.0, 1.0, -1.0], 2), Some(vec![6.0, 5.0]));
    }

    #[test]
    fn placeholders_are_told_by_their_bytes() {
        let mut norm = Normalized::default();
        normalize_into("@brand late http://t.co/x bad", &mut norm);
        assert_eq!(norm.hashes[0].unigram, PLACEHOLDER_KEYS[0]);
        assert_eq!(norm.hashes[2].unigram, PLACEHOLDER_KEYS[1]);
        let per_word = [3.0, 1.0, 2.0, -0.5];
        let want = vec![("late".to_string(), 1.0), ("bad".to_string(), -0.5)];
        assert_eq!(top_fresh(&norm, 5, &per_word), want);
        // words with a placeholder's hash are still reported, before or after it
        norm.hashes[1].unigram = PLACEHOLDER_KEYS[0];
        norm.hashes[3].unigram = PLACEHOLDER_KEYS[1];
        assert_eq!(top_fresh(&norm, 5, &per_word), want);
        norm.hashes.swap(0, 1);
        norm.words.swap(0, 1);
        let per_word = [1.0, 3.0, 2.0, -0.5];
        assert_eq!(top_fresh(&norm, 5, &per_word), want);
    }

    #[test]
    fn stamps_wrap_around_without_stale_slots() {
        let mut scratch = TopScratch::default();
        let mut norm = Normalized::default();
        let texts = ["late refund late", "bad ok why", "refund never again late"];
        for (i, text) in texts.iter().cycle().take(12).enumerate() {
            if i == 2 {
                // the next calls' stamps wrap to 0, which every unused slot carries
                scratch.stamp = u32::MAX - 2;
            }
            normalize_into(text, &mut norm);
            let per_word: Vec<f64> = (0..norm.words.len()).map(|j| j as f64 - 1.5).collect();
            let want = reference(&norm, &per_word, 5);
            assert_eq!(
                top_words(&norm, 5, &mut scratch, per_word.iter().copied()),
                want,
                "{i}"
            );
        }
    }

    #[test]
    fn words_are_copied_whole() {
        let mut norm = Normalized::default();
        for text in [
            "a",
            "ok late refund",
            "caf\u{e9} na\u{ef}ve x\u{1F620}\u{1F620} \u{1F620}",
            "abcdefg abcdefgh abcdefghi customerservices",
            "\u{e9}\u{e9}\u{e9}\u{e9} b",
            "why?! @brand",
        ] {
            normalize_into(text, &mut norm);
            let words = Words::new(&norm);
            for i in 0..norm.words.len() {
                assert_eq!(words.string(i as u32), norm.word(i), "{text:?} {i}");
            }
        }
    }

    #[test]
    fn rounding_is_f64_round() {
        let mut r = crate::hash::SplitMix64::new(5);
        let mut xs = vec![
            0.0,
            -0.0,
            0.5,
            -0.5,
            1.5,
            2.5,
            -2.5,
            0.499_999_999_999_999_94,
            4_503_599_627_370_495.5,
            4_503_599_627_370_496.0,
            -4_503_599_627_370_497.0,
            f64::MAX,
            f64::MIN_POSITIVE,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ];
        for _ in 0..100_000 {
            let bits = r.next_u64();
            xs.push(f64::from_bits(bits));
            // within the range the explanation rounds, and at halves
            xs.push((bits % 2_000_000) as f64 / 7.0 - 140_000.0);
            xs.push((bits % 20_001) as f64 / 2.0 - 5_000.0);
        }
        for x in xs {
            let (got, want) = (round(x), x.round());
            assert!(
                got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                "{x:e}: {got:e} != {want:e}"
            );
        }
    }
}

//! The words that moved the complaint score most, for the explanation.
//!
//! Every mention gets them, so this is on the hot path. A tweet has a few dozen words: they
//! are merged (a word that occurs twice counts once, with both contributions) in a small
//! open-addressing table on the stack indexed by the word's unigram hash, and the largest
//! are kept by insertion into a short sorted array, which most words leave after one
//! comparison. Longer texts take the same steps through heap buffers.

use crate::features::{load_le, Normalized};

/// Most words the stack buffers hold; longer texts use [`TopScratch`].
const STACK_WORDS: usize = 64;

/// Reusable buffers of [`top_words`] for texts of more than [`STACK_WORDS`] words.
#[derive(Debug, Default)]
pub(crate) struct TopScratch {
    slots: Vec<u32>,
    distinct: Vec<Distinct>,
    /// the largest so far (for every text)
    top: Vec<Distinct>,
}

/// A distinct word: its first occurrence, its unigram hash and its summed contribution.
#[derive(Debug, Clone, Copy, Default)]
struct Distinct {
    word: u32,
    key: u64,
    sum: f64,
}

/// The words normalisation puts in place of handles and URLs: they explain nothing.
const PLACEHOLDERS: [&[u8]; 2] = [b"@user", b"<url>"];

/// The `k` words with the largest summed contribution, largest magnitude first and ties by
/// the word, each rounded to four places; `contributions[i]` is word `i`'s. Words whose sum
/// is at most 1e-4 in magnitude, and placeholders, are left out.
#[inline(never)]
pub(crate) fn top_words(
    norm: &Normalized,
    k: usize,
    scratch: &mut TopScratch,
    contributions: &[f64],
) -> Vec<(String, f64)> {
    let contribution = |i: usize| contributions.get(i).copied().unwrap_or_default();
    let n = norm.hashes.len();
    let words = Words::new(norm);
    let mut stack_slots = [0u32; 2 * STACK_WORDS];
    let mut stack_distinct = [Distinct::default(); STACK_WORDS];
    let TopScratch {
        slots,
        distinct,
        top,
    } = scratch;
    let (slots, distinct) = if n <= STACK_WORDS {
        (&mut stack_slots[..], &mut stack_distinct[..])
    } else {
        slots.clear();
        slots.resize((2 * n).next_power_of_two(), 0);
        distinct.clear();
        distinct.resize(n, Distinct::default());
        (&mut slots[..], &mut distinct[..])
    };
    let distinct = merge(&words, slots, distinct, &contribution);
    top.clear();
    for d in distinct.iter() {
        keep_largest(top, k, *d, &words);
    }
    top.iter()
        .map(|d| {
            let text = norm.word(d.word as usize).to_string();
            (text, (d.sum * 1e4).round() / 1e4)
        })
        .collect()
}

/// Merges repeated words: the distinct words of the text, in the order of their first
/// occurrence, at the start of `distinct`. `slots` (a power of two long, at least twice the
/// number of words, all 0) holds `1 + index into distinct` per slot.
#[inline(always)]
fn merge<'d>(
    words: &Words<'_>,
    slots: &mut [u32],
    distinct: &'d mut [Distinct],
    contribution: &impl Fn(usize) -> f64,
) -> &'d [Distinct] {
    let mask = slots.len() - 1;
    let bits = slots.len().trailing_zeros();
    let mut n = 0usize;
    for (i, h) in (0u32..).zip(&words.norm.hashes) {
        let sum = contribution(i as usize);
        let key = h.unigram;
        // the high bits of a multiply mix every bit of the FNV hash
        let mut slot = (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - bits)) as usize & mask;
        loop {
            let at = slots[slot] as usize;
            if at == 0 {
                slots[slot] = n as u32 + 1;
                if let Some(d) = distinct.get_mut(n) {
                    *d = Distinct { word: i, key, sum };
                }
                n += 1;
                break;
            }
            if let Some(d) = distinct.get_mut(at - 1) {
                if d.key == key && words.bytes(d.word) == words.bytes(i) {
                    d.sum += sum;
                    break;
                }
            }
            slot = (slot + 1) & mask;
        }
    }
    &distinct[..n.min(distinct.len())]
}

/// Inserts `d` into `top` (at most `k` long, largest magnitude first, ties by the word) if
/// it ranks among the first `k` and is reported at all.
#[inline(always)]
fn keep_largest(top: &mut Vec<Distinct>, k: usize, d: Distinct, words: &Words<'_>) {
    let magnitude = d.sum.abs();
    if magnitude <= 1e-4 || k == 0 {
        return;
    }
    // the bits of a non-negative float order as the float does
    let rank = magnitude.to_bits();
    let before = |other: &Distinct| {
        let r = other.sum.abs().to_bits();
        rank > r || (rank == r && words.bytes(d.word) < words.bytes(other.word))
    };
    if top.len() == k {
        match top.last() {
            Some(last) if before(last) => {}
            _ => return,
        }
    }
    if words.is_placeholder(d.word) {
        return;
    }
    if top.len() == k {
        top.pop();
    }
    top.push(d);
    let mut j = top.len() - 1;
    while j > 0 && before(&top[j - 1]) {
        top.swap(j, j - 1);
        j -= 1;
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

    #[inline]
    fn is_placeholder(&self, i: u32) -> bool {
        let (s, e) = self.norm.words.get(i as usize).copied().unwrap_or((0, 0));
        e - s == 5 && {
            let five = load_le(self.bytes, s as usize, 5);
            PLACEHOLDERS.iter().any(|p| five == load_le(p, 0, 5))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::normalize_into;

    /// Merge by the word, full sort by (magnitude descending, word), first k.
    fn reference(norm: &Normalized, per_word: &[f64], k: usize) -> Vec<(String, f64)> {
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
        for case in 0..3_000 {
            // past the stack buffers now and then
            let n = (r.next_u64() % 90) as usize;
            let text: Vec<&str> = (0..n)
                .map(|_| vocab[(r.next_u64() % vocab.len() as u64) as usize])
                .collect();
            let mut norm = Normalized::default();
            normalize_into(&text.join(" "), &mut norm);
            // few distinct magnitudes, so ties on the sum are decided by the word
            let per_word: Vec<f64> = (0..norm.words.len())
                .map(|_| ((r.next_u64() % 9) as f64 - 4.0) * 0.25)
                .collect();
            for k in 0..8 {
                let want = reference(&norm, &per_word, k);
                let got = top_words(&norm, k, &mut scratch, &per_word);
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
        let got = top_words(&norm, 3, &mut TopScratch::default(), &per_word);
        assert_eq!(got, want);
    }
}

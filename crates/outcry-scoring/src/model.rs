//! The complaint classifier: L2-regularised logistic regression over hashed word and character
//! n-grams (see `features`) plus VADER's four scores, trained with L-BFGS.
//!
//! Training is deterministic: documents are visited in file order, folds come from a seeded
//! splitmix64 shuffle, the optimiser has no randomness, and the model file is written in a fixed
//! order (sorted bucket indices), so the same data and seed give the same bytes.

use crate::features::{
    char_bucket, char_window, for_each_feature, group_sizes, load_le, normalize_into,
    FeatureConfig, Group, Normalized, CHAR_HASH_MUL, MAX_CHAR_N,
};
use crate::hash::{Fnv64, SplitMix64};
use crate::top_terms::{top_words, TopScratch};
use crate::vader::{Sentiment, SentimentAnalyzer};
use crate::ScoringError;

mod file;
mod train;

pub use file::version_of;

pub use train::{
    best_threshold, cross_val_probs, fit, macro_f1, stratified_folds, threshold_grid, Corpus,
    Example, TrainConfig,
};

/// VADER compound, pos, neu, neg
pub const DENSE: usize = 4;

/// A trained complaint model, ready to score.
#[derive(Debug, Clone)]
pub struct ComplaintModel {
    pub cfg: FeatureConfig,
    /// per-bucket weights with the inverse document frequency folded in; 0 for unseen buckets
    word_w: Weights,
    char_w: Weights,
    dense_w: [f32; DENSE],
    bias: f32,
    /// probability at or above which a mention is a complaint
    pub threshold: f64,
    version: String,
}

/// A bucket weight table with the inverse document frequency folded in; 0 for unseen buckets.
///
/// Scoring reads the weights in fixed point, `round(w * 2^shift)` as `i32`: integer sums are
/// exact and do not depend on their order, so a text's sum, each word's share of it and the
/// reference walk over [`for_each_feature`] agree to the last bit, and the n-gram loop carries
/// a one-cycle integer add instead of a four-cycle float add from one n-gram to the next.
/// `shift` is the largest (at most [`MAX_FIXED_SHIFT`]) that keeps every weight below 2^30,
/// which leaves a resolution of about 1e-8 for the shipped weights (all below 5).
#[derive(Debug, Clone, Default)]
struct Weights {
    /// as trained and stored in the model file
    dense: Vec<f32>,
    fixed: Vec<i32>,
    /// `2^-shift`: the value of one unit of `fixed`
    unit: f64,
}

/// Finest fixed-point scale of the weight tables (see [`Weights`]).
const MAX_FIXED_SHIFT: i32 = 27;

impl Weights {
    fn from_dense(dense: Vec<f32>) -> Weights {
        let max = dense.iter().fold(0f64, |m, w| m.max(f64::from(w.abs())));
        let mut shift = MAX_FIXED_SHIFT;
        // weights are finite (checked when a model file is read); a table of huge weights
        // only loses resolution
        while shift > -30 && max * 2f64.powi(shift) >= f64::from(1u32 << 30) {
            shift -= 1;
        }
        let scale = 2f64.powi(shift);
        let fixed = dense
            .iter()
            .map(|&w| (f64::from(w) * scale).round() as i32)
            .collect();
        Weights {
            dense,
            fixed,
            unit: 1.0 / scale,
        }
    }

    #[inline]
    fn get(&self, i: usize) -> f32 {
        self.dense.get(i).copied().unwrap_or(0.0)
    }

    /// The fixed-point weight of bucket `i` (the reference walk of the tests reads them
    /// one by one).
    #[cfg(test)]
    fn fixed(&self, i: usize) -> i64 {
        i64::from(self.fixed.get(i).copied().unwrap_or(0))
    }

    /// [`Weights::fixed`] of a hash masked with `mask` (one less than a power of two, at most
    /// the table's length): from the table cut to `mask + 1` weights, so that the compiler
    /// can see every masked hash is in it and check no bounds.
    #[inline(always)]
    fn masked(&self, mask: u32) -> impl Fn(u64) -> i64 + '_ {
        let table = self.fixed.get(..=mask as usize).unwrap_or_default();
        let mask = table.len().wrapping_sub(1);
        move |hash| i64::from(table.get(hash as usize & mask).copied().unwrap_or(0))
    }

    /// (bucket, value) of the non-zero buckets, in bucket order
    fn nonzero(&self) -> impl Iterator<Item = (u32, f32)> + '_ {
        self.dense
            .iter()
            .enumerate()
            .filter(|(_, w)| **w != 0.0)
            .map(|(i, w)| (i as u32, *w))
    }
}

/// Model output for one text.
#[derive(Debug, Clone, Default)]
pub struct Prediction {
    pub probability: f64,
    /// (word, contribution to the log-odds), largest magnitude first, at most `top_k`
    pub top_terms: Vec<(String, f64)>,
}

fn dense_features(s: &Sentiment) -> [f64; DENSE] {
    [s.compound, s.pos, s.neu, s.neg]
}

fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

impl ComplaintModel {
    /// A model of trained weight tables (as stored: bucket weights with the inverse document
    /// frequency folded in), read from a file or just fitted.
    fn from_parts(
        cfg: FeatureConfig,
        (word_w, char_w): (Vec<f32>, Vec<f32>),
        dense_w: [f32; DENSE],
        bias: f32,
        threshold: f64,
        version: String,
    ) -> ComplaintModel {
        ComplaintModel {
            cfg,
            word_w: Weights::from_dense(word_w),
            char_w: Weights::from_dense(char_w),
            dense_w,
            bias,
            threshold,
            version,
        }
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    /// Complaint probability and the words that contributed most to it.
    pub fn predict(&self, text: &str, sentiment: &Sentiment, top_k: usize) -> Prediction {
        let mut norm = Normalized::default();
        normalize_into(text, &mut norm);
        self.predict_normalized(&norm, sentiment, top_k)
    }

    /// As [`ComplaintModel::predict`], over an already normalised text.
    pub fn predict_normalized(
        &self,
        norm: &Normalized,
        sentiment: &Sentiment,
        top_k: usize,
    ) -> Prediction {
        let mut scratch = PredictScratch::default();
        self.predict_with(norm, sentiment, top_k, &mut scratch)
    }

    /// [`ComplaintModel::predict_normalized`] with caller-owned scratch buffers, so a hot
    /// loop allocates only the returned terms.
    pub fn predict_with(
        &self,
        norm: &Normalized,
        sentiment: &Sentiment,
        top_k: usize,
        scratch: &mut PredictScratch,
    ) -> Prediction {
        let scales = self.scales(norm);
        let sums = self.text_sums(norm, top_k > 0, scratch);
        let mut z =
            f64::from(self.bias) + sums.word as f64 * scales.word + sums.char as f64 * scales.char;
        for (w, x) in self.dense_w.iter().zip(dense_features(sentiment)) {
            z += f64::from(*w) * x;
        }
        let top_terms = if top_k == 0 {
            Vec::new()
        } else {
            // the contributions are made as the merge takes them, in its loop: not written
            // to a buffer in one pass and read back in the next
            let PredictScratch {
                per_word,
                prefix,
                top,
            } = scratch;
            top_words(
                norm,
                top_k,
                top,
                contributions(norm, prefix, per_word, scales),
            )
        };
        Prediction {
            probability: sigmoid(z),
            top_terms,
        }
    }

    /// The log-odds of one fixed-point unit of each group in `norm`.
    fn scales(&self, norm: &Normalized) -> Scales {
        let (n_word, n_char) = group_sizes(norm, &self.cfg);
        // the tables' unit, scaled by 1 / sqrt(n-grams in the group)
        Scales {
            word: self.word_w.unit / (n_word.max(1) as f64).sqrt(),
            char: self.char_w.unit / (n_char.max(1) as f64).sqrt(),
        }
    }

    /// The fixed-point sums of the word and char n-gram weights of a text, the same as adding
    /// up every feature [`for_each_feature`] visits. With `attribute`, also what
    /// [`contributions`] needs: each word's word n-gram share in `scratch.per_word` (its
    /// unigram and its bigram with the next word), and the char n-grams' prefix sums in
    /// `scratch.prefix`.
    fn text_sums(
        &self,
        norm: &Normalized,
        attribute: bool,
        scratch: &mut PredictScratch,
    ) -> TextSums {
        let b = norm.padded.as_bytes();
        let len = b.len();
        let (kmin, kmax) = (self.cfg.char_min as usize, self.cfg.char_max as usize);
        let shift = 64 - u32::from(self.cfg.char_bits);
        let table = self.char_w.fixed.as_slice();
        let prefix = &mut scratch.prefix;
        // `prefix[p]`, for `p` in `0..=len`, is the sum of the n-grams that start before `p`
        let char_sum = if kmin == kmax {
            // one n-gram length (the shipped model): no loop over lengths
            let grams = Grams {
                b,
                table,
                shift,
                k: kmin,
            };
            if attribute {
                grams.prefix_sums(prefix)
            } else {
                grams.sum()
            }
        } else {
            prefix.clear();
            let mut acc = 0i64;
            for p in 0..len {
                prefix.push(acc);
                let window = char_window(b, p);
                for k in kmin..=kmax.min(len - p) {
                    let bucket = char_bucket(window, k, shift) as usize;
                    acc += i64::from(table.get(bucket).copied().unwrap_or(0));
                }
            }
            prefix.push(acc);
            acc
        };
        let word = if attribute {
            self.word_shares(norm, &mut scratch.per_word)
        } else {
            self.word_sum(norm)
        };
        TextSums {
            word,
            char: char_sum,
        }
    }

    /// The fixed-point sum of the word n-gram weights of a text.
    fn word_sum(&self, norm: &Normalized) -> i64 {
        let Some((first, rest)) = norm.hashes.split_first() else {
            return 0;
        };
        let weight = self.word_w.masked(self.cfg.word_mask());
        rest.iter().fold(weight(first.unigram), |sum, h| {
            sum + weight(h.bigram) + weight(h.unigram)
        })
    }

    /// [`ComplaintModel::word_sum`], also leaving in `per_word` each word's share: its
    /// unigram and its bigram with the next word.
    fn word_shares(&self, norm: &Normalized, per_word: &mut Vec<i64>) -> i64 {
        per_word.clear();
        let Some((first, rest)) = norm.hashes.split_first() else {
            return 0;
        };
        let weight = self.word_w.masked(self.cfg.word_mask());
        let mut prev = weight(first.unigram);
        let mut word = prev;
        // a map of a slice's iterator: written in place, no capacity check per word
        per_word.extend(rest.iter().map(|h| {
            let (bigram, unigram) = (weight(h.bigram), weight(h.unigram));
            word += bigram + unigram;
            // the bigram completes the share of the word before
            let share = prev + bigram;
            prev = unigram;
            share
        }));
        per_word.push(prev);
        word
    }
}

/// The char n-grams of one length `k` of a normalised text `b`, weighted by `table`.
#[derive(Clone, Copy)]
struct Grams<'a> {
    b: &'a [u8],
    table: &'a [i32],
    /// `64 - log2(table.len())`
    shift: u32,
    k: usize,
}

/// The n-gram length and table size of the shipped model, for which the n-gram loops are
/// compiled with constant shifts (a shift by a variable count is three micro-operations on
/// x86-64 without BMI2, and the loop has two).
const SHIPPED_GRAMS: (usize, u32) = (3, 64 - 15);

/// The size of the shipped model's char table.
const SHIPPED_TABLE: usize = 1 << (64 - SHIPPED_GRAMS.1);

impl<'a> Grams<'a> {
    /// `self` with the shipped model's constants where they apply, for `f` to be inlined
    /// with them.
    #[inline(always)]
    fn specialised<R>(self, mut f: impl FnMut(Grams<'_>) -> R) -> R {
        if (self.k, self.shift) == SHIPPED_GRAMS {
            // a table of the size its buckets index (which it is) needs no bounds checks
            if let Ok(table) = <&[i32; SHIPPED_TABLE]>::try_from(self.table) {
                return f(Grams {
                    k: SHIPPED_GRAMS.0,
                    shift: SHIPPED_GRAMS.1,
                    table,
                    ..self
                });
            }
        }
        f(self)
    }

    /// The weight of the n-gram `window` (its `k` bytes, little-endian).
    #[inline(always)]
    fn weight(&self, window: u64) -> i64 {
        let key = (window << 8) | self.k as u64;
        let bucket = (key.wrapping_mul(CHAR_HASH_MUL) >> self.shift) as usize;
        i64::from(self.table.get(bucket).copied().unwrap_or(0))
    }

    /// The windows of the n-grams, of those starting at `0..b.len() + 1 - k`, rolled one
    /// byte at a time: each n-gram costs one byte load, not a load of its `k` bytes. A map of
    /// a slice's iterator, so its length is known to whoever collects it.
    #[inline(always)]
    fn windows(self) -> impl Iterator<Item = u64> + 'a {
        let top = 8 * (self.k as u32 - 1);
        // the first k - 1 bytes, one byte up: the first step shifts them into place
        let mut w = load_le(self.b, 0, self.k - 1) << 8;
        self.b
            .get(self.k - 1..)
            .unwrap_or_default()
            .iter()
            .map(move |&c| {
                w = (w >> 8) | (u64::from(c) << top);
                w
            })
    }

    /// The sum of the n-grams.
    #[inline(never)]
    fn sum(self) -> i64 {
        self.specialised(|g| g.windows().map(|w| g.weight(w)).sum())
    }

    /// [`Grams::sum`], also leaving in `prefix[p]` the sum of the n-grams that start before
    /// `p`, for `p` in `0..=b.len()`.
    #[inline(never)]
    fn prefix_sums(self, prefix: &mut Vec<i64>) -> i64 {
        prefix.clear();
        let acc = self.specialised(|g| {
            let mut acc = 0i64;
            // written in place, as the windows' length is known: no clearing beforehand and
            // no capacity check per n-gram
            prefix.extend(g.windows().map(|w| {
                let before = acc;
                acc += g.weight(w);
                before
            }));
            acc
        });
        // no n-gram starts in the last k - 1 bytes: the prefixes there are the whole sum
        prefix.resize(self.b.len() + 1, acc);
        acc
    }
}

/// The char n-grams [`Normalized::owners`] gives each word in turn, from prefix sums (see
/// [`ComplaintModel::text_sums`], one entry per byte and one more): the n-grams starting in a
/// word's bytes and the space before it, none for `?` and `!`.
struct CharShares<'a> {
    b: &'a [u8],
    prefix: &'a [i64],
    /// the end of the word before
    p: usize,
}

impl<'a> CharShares<'a> {
    fn new(norm: &'a Normalized, prefix: &'a [i64]) -> CharShares<'a> {
        CharShares {
            b: norm.padded.as_bytes(),
            prefix,
            p: 0,
        }
    }

    /// The share of the next word, the one at `(s, e)`.
    #[inline(always)]
    fn share(&mut self, (s, e): (u32, u32)) -> i64 {
        let (s, e) = (s as usize, e as usize);
        let p = std::mem::replace(&mut self.p, e);
        let at = |q: usize| self.prefix.get(q).copied().unwrap_or(0);
        let first = self.b.get(s).copied().unwrap_or(0);
        if first == b'?' || first == b'!' {
            return 0;
        }
        let from = if s > p && self.b.get(s - 1) == Some(&b' ') {
            s - 1
        } else {
            s
        };
        at(e) - at(from)
    }
}

/// What each word adds to the log-odds at `scales`: its word n-gram share (`per_word`, see
/// [`ComplaintModel::word_shares`]) and the char n-grams [`Normalized::owners`] gives it, from
/// `prefix` (one entry per byte of the text and one more, see
/// [`ComplaintModel::text_sums`]). A map of slices' iterators, so that the merge of
/// [`top_words`], which takes them, makes them in its own loop.
#[inline(always)]
fn contributions<'a>(
    norm: &'a Normalized,
    prefix: &'a [i64],
    per_word: &'a [i64],
    scales: Scales,
) -> impl Iterator<Item = f64> + 'a {
    let mut chars = CharShares::new(norm, prefix);
    norm.words.iter().zip(per_word).map(move |(&span, &word)| {
        word as f64 * scales.word + chars.share(span) as f64 * scales.char
    })
}

/// Reusable buffers of [`ComplaintModel::predict_with`].
#[derive(Debug, Default)]
pub struct PredictScratch {
    /// per word, its fixed-point share of the text's word n-gram sum
    per_word: Vec<i64>,
    /// `prefix[p]`: the fixed-point sum of the char n-grams starting before `p`
    prefix: Vec<i64>,
    top: TopScratch,
}

/// The log-odds of one fixed-point unit of the word and char weights in a text.
#[derive(Debug, Clone, Copy)]
struct Scales {
    word: f64,
    char: f64,
}

/// What [`ComplaintModel::text_sums`] adds up, in fixed point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TextSums {
    word: i64,
    char: i64,
}

#[cfg(test)]
mod tests;

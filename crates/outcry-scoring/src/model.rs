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

const MAGIC: &[u8; 8] = b"OUTCRYCM";
/// 2: char n-grams hashed multiplicatively (`features::char_bucket`); 1 used FNV-1a for them,
/// so a version-1 file would index the wrong buckets and is rejected (retrain it).
const FORMAT_VERSION: u32 = 2;
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

    /// Serialises the model (little-endian, sparse: only buckets with a weight).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 << 20);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&[
            self.cfg.word_bits,
            self.cfg.char_bits,
            self.cfg.char_min,
            self.cfg.char_max,
        ]);
        out.extend_from_slice(&self.threshold.to_le_bytes());
        out.extend_from_slice(&self.bias.to_le_bytes());
        for w in self.dense_w {
            out.extend_from_slice(&w.to_le_bytes());
        }
        for table in [&self.word_w, &self.char_w] {
            let nz: Vec<(u32, f32)> = table.nonzero().filter(|(_, w)| *w != 0.0).collect();
            out.extend_from_slice(&(nz.len() as u32).to_le_bytes());
            for (i, w) in nz {
                out.extend_from_slice(&i.to_le_bytes());
                out.extend_from_slice(&w.to_le_bytes());
            }
        }
        out
    }

    /// Parses a model file written by [`ComplaintModel::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<ComplaintModel, ScoringError> {
        let mut r = Reader { bytes, pos: 0 };
        if r.take(8)? != MAGIC {
            return Err(ScoringError::Model(
                "not an outcry complaint model (bad magic)".into(),
            ));
        }
        let fv = r.u32()?;
        if fv != FORMAT_VERSION {
            return Err(ScoringError::Model(format!(
                "unsupported model format version {fv} (expected {FORMAT_VERSION}; retrain with `outcry train complaints`)"
            )));
        }
        let h = r.take(4)?;
        let cfg = FeatureConfig {
            word_bits: h[0],
            char_bits: h[1],
            char_min: h[2],
            char_max: h[3],
        };
        if !(8..=24).contains(&cfg.word_bits)
            || !(8..=24).contains(&cfg.char_bits)
            || cfg.char_min == 0
            || cfg.char_min > cfg.char_max
            || cfg.char_max as usize > MAX_CHAR_N
        {
            return Err(ScoringError::Model(format!(
                "invalid feature configuration {cfg:?}"
            )));
        }
        let threshold = f64::from_le_bytes(r.take(8)?.try_into().map_err(|_| r.truncated())?);
        if !(0.0..=1.0).contains(&threshold) {
            return Err(ScoringError::Model(format!(
                "threshold {threshold} outside [0, 1]"
            )));
        }
        let bias = r.f32()?;
        let mut dense_w = [0f32; DENSE];
        for w in &mut dense_w {
            *w = r.f32()?;
        }
        let mut tables = Vec::with_capacity(2);
        for bits in [cfg.word_bits, cfg.char_bits] {
            let size = 1usize << bits;
            let mut table = vec![0f32; size];
            let n = r.u32()? as usize;
            for _ in 0..n {
                let i = r.u32()? as usize;
                let w = r.f32()?;
                if i >= size || !w.is_finite() {
                    return Err(ScoringError::Model(format!(
                        "bad weight entry at bucket {i}"
                    )));
                }
                table[i] = w;
            }
            tables.push(table);
        }
        if r.pos != bytes.len() {
            return Err(ScoringError::Model(
                "trailing bytes after the weights".into(),
            ));
        }
        let char_w = tables.pop().unwrap_or_default();
        let word_w = tables.pop().unwrap_or_default();
        Ok(ComplaintModel {
            cfg,
            word_w: Weights::from_dense(word_w),
            char_w: Weights::from_dense(char_w),
            dense_w,
            bias,
            threshold,
            version: version_of(bytes),
        })
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

/// `complaint-lr-<first 12 hex digits of the FNV-1a hash of the model bytes>`
pub fn version_of(bytes: &[u8]) -> String {
    let mut h = Fnv64::new(0);
    h.bytes(bytes);
    format!("complaint-lr-{:012x}", h.finish() >> 16)
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

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn truncated(&self) -> ScoringError {
        ScoringError::Model(format!("truncated model file at byte {}", self.pos))
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], ScoringError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| self.truncated())?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u32(&mut self) -> Result<u32, ScoringError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn f32(&mut self) -> Result<f32, ScoringError> {
        let b = self.take(4)?;
        Ok(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

// ---------------------------------------------------------------------------------------------
// training

/// Training hyper-parameters (chosen by 10-fold cross-validation on the training file).
#[derive(Debug, Clone, Copy)]
pub struct TrainConfig {
    pub features: FeatureConfig,
    /// inverse regularisation strength (objective: C * sum of weighted log-losses + |w|^2 / 2)
    pub c: f64,
    pub max_iter: usize,
    /// weight classes inversely to their frequency
    pub balanced: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            features: FeatureConfig::default(),
            c: 0.5,
            max_iter: 300,
            balanced: true,
        }
    }
}

/// A labelled training example.
#[derive(Debug, Clone)]
pub struct Example {
    pub text: String,
    pub label: bool,
}

/// Per-document sparse counts, before idf and scaling.
struct DocCounts {
    /// (global index, count); word buckets first, then char buckets offset by 2^word_bits
    counts: Vec<(u32, f32)>,
    scale_word: f32,
    scale_char: f32,
    dense: [f64; DENSE],
}

fn doc_counts(text: &str, analyzer: &SentimentAnalyzer, cfg: &FeatureConfig) -> DocCounts {
    let mut norm = Normalized::default();
    normalize_into(text, &mut norm);
    let (n_word, n_char) = group_sizes(&norm, cfg);
    let offset = 1u32 << cfg.word_bits;
    let mut ids = Vec::with_capacity(n_word + n_char);
    for_each_feature(&norm, cfg, |g, bucket, _| {
        ids.push(match g {
            Group::Word => bucket,
            Group::Char => offset + bucket,
        })
    });
    ids.sort_unstable();
    let mut counts: Vec<(u32, f32)> = Vec::with_capacity(ids.len());
    for id in ids {
        match counts.last_mut() {
            Some((last, c)) if *last == id => *c += 1.0,
            _ => counts.push((id, 1.0)),
        }
    }
    DocCounts {
        counts,
        scale_word: 1.0 / (n_word.max(1) as f32).sqrt(),
        scale_char: 1.0 / (n_char.max(1) as f32).sqrt(),
        dense: dense_features(&analyzer.polarity_scores(text)),
    }
}

/// Featurised corpus, so cross-validation featurises each document once.
pub struct Corpus {
    docs: Vec<DocCounts>,
    labels: Vec<bool>,
    cfg: FeatureConfig,
}

impl Corpus {
    pub fn new(examples: &[Example], analyzer: &SentimentAnalyzer, cfg: FeatureConfig) -> Corpus {
        Corpus {
            docs: examples
                .iter()
                .map(|e| doc_counts(&e.text, analyzer, &cfg))
                .collect(),
            labels: examples.iter().map(|e| e.label).collect(),
            cfg,
        }
    }

    pub fn len(&self) -> usize {
        self.docs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    pub fn labels(&self) -> &[bool] {
        &self.labels
    }
}

/// Trains on the documents `train` of `corpus`.
pub fn fit(corpus: &Corpus, train: &[usize], tc: &TrainConfig, threshold: f64) -> ComplaintModel {
    let cfg = corpus.cfg;
    let word_size = 1usize << cfg.word_bits;
    let total = word_size + (1usize << cfg.char_bits);
    // document frequencies over the training documents; idf as scikit-learn's smooth idf
    let mut df = vec![0u32; total];
    for &d in train {
        for &(id, _) in &corpus.docs[d].counts {
            df[id as usize] += 1;
        }
    }
    // compact the seen buckets to 0..dim
    let mut index = vec![u32::MAX; total];
    let mut seen: Vec<u32> = Vec::new();
    for (id, &f) in df.iter().enumerate() {
        if f > 0 {
            index[id] = seen.len() as u32;
            seen.push(id as u32);
        }
    }
    let n = train.len() as f64;
    let idf: Vec<f64> = seen
        .iter()
        .map(|&id| ((1.0 + n) / (1.0 + f64::from(df[id as usize]))).ln() + 1.0)
        .collect();
    let dim = seen.len();
    // rows: (compact index, value) with idf and group scale applied, then dense features
    let rows: Vec<Vec<(u32, f64)>> = train
        .iter()
        .map(|&d| {
            let doc = &corpus.docs[d];
            doc.counts
                .iter()
                .map(|&(id, c)| {
                    let j = index[id as usize];
                    let scale = if (id as usize) < word_size {
                        doc.scale_word
                    } else {
                        doc.scale_char
                    };
                    (j, f64::from(c) * f64::from(scale) * idf[j as usize])
                })
                .collect()
        })
        .collect();
    let dense: Vec<[f64; DENSE]> = train.iter().map(|&d| corpus.docs[d].dense).collect();
    let y: Vec<bool> = train.iter().map(|&d| corpus.labels[d]).collect();
    let pos = y.iter().filter(|&&l| l).count() as f64;
    let neg = n - pos;
    let (wp, wn) = if tc.balanced && pos > 0.0 && neg > 0.0 {
        (n / (2.0 * pos), n / (2.0 * neg))
    } else {
        (1.0, 1.0)
    };
    let sample_w: Vec<f64> = y.iter().map(|&l| if l { wp } else { wn }).collect();

    let problem = Problem {
        rows: &rows,
        dense: &dense,
        y: &y,
        sample_w: &sample_w,
        dim,
        c: tc.c,
    };
    let theta = lbfgs(&problem, tc.max_iter);

    let mut word_w = vec![0f32; word_size];
    let mut char_w = vec![0f32; 1usize << cfg.char_bits];
    for (j, &id) in seen.iter().enumerate() {
        let w = (theta[j] * idf[j]) as f32;
        if (id as usize) < word_size {
            word_w[id as usize] = w;
        } else {
            char_w[id as usize - word_size] = w;
        }
    }
    let mut dense_w = [0f32; DENSE];
    for (k, w) in dense_w.iter_mut().enumerate() {
        *w = theta[dim + k] as f32;
    }
    let bias = theta[dim + DENSE] as f32;
    let mut model = ComplaintModel {
        cfg,
        word_w: Weights::from_dense(word_w),
        char_w: Weights::from_dense(char_w),
        dense_w,
        bias,
        threshold,
        version: String::new(),
    };
    model.version = version_of(&model.to_bytes());
    model
}

struct Problem<'a> {
    rows: &'a [Vec<(u32, f64)>],
    dense: &'a [[f64; DENSE]],
    y: &'a [bool],
    sample_w: &'a [f64],
    dim: usize,
    c: f64,
}

impl Problem<'_> {
    fn n_params(&self) -> usize {
        self.dim + DENSE + 1
    }

    /// objective and gradient; the bias (last parameter) is not regularised
    fn eval(&self, theta: &[f64], grad: &mut [f64]) -> f64 {
        let nb = self.dim + DENSE;
        let mut f = 0.0;
        for (g, t) in grad[..nb].iter_mut().zip(&theta[..nb]) {
            *g = *t;
            f += 0.5 * t * t;
        }
        grad[nb] = 0.0;
        for i in 0..self.rows.len() {
            let mut z = theta[nb];
            for &(j, v) in &self.rows[i] {
                z += theta[j as usize] * v;
            }
            for (k, x) in self.dense[i].iter().enumerate() {
                z += theta[self.dim + k] * x;
            }
            let s = if self.y[i] { 1.0 } else { -1.0 };
            let m = s * z;
            // log(1 + exp(-m)), stable
            let loss = if m > 0.0 {
                (-m).exp().ln_1p()
            } else {
                -m + m.exp().ln_1p()
            };
            let cw = self.c * self.sample_w[i];
            f += cw * loss;
            let d = -cw * s * sigmoid(-m);
            for &(j, v) in &self.rows[i] {
                grad[j as usize] += d * v;
            }
            for (k, x) in self.dense[i].iter().enumerate() {
                grad[self.dim + k] += d * x;
            }
            grad[nb] += d;
        }
        f
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Limited-memory BFGS with a backtracking (Armijo) line search.
fn lbfgs(p: &Problem<'_>, max_iter: usize) -> Vec<f64> {
    const M: usize = 10;
    let np = p.n_params();
    let mut x = vec![0.0; np];
    let mut g = vec![0.0; np];
    let mut f = p.eval(&x, &mut g);
    let mut s_hist: Vec<Vec<f64>> = Vec::with_capacity(M);
    let mut y_hist: Vec<Vec<f64>> = Vec::with_capacity(M);
    let mut rho: Vec<f64> = Vec::with_capacity(M);
    let mut x_new = vec![0.0; np];
    let mut g_new = vec![0.0; np];
    for iter in 0..max_iter {
        let gnorm = dot(&g, &g).sqrt();
        if gnorm < 1e-6 {
            break;
        }
        // two-loop recursion: d = -H g
        let mut q = g.clone();
        let k = s_hist.len();
        let mut alpha = vec![0.0; k];
        for i in (0..k).rev() {
            alpha[i] = rho[i] * dot(&s_hist[i], &q);
            for (qj, yj) in q.iter_mut().zip(&y_hist[i]) {
                *qj -= alpha[i] * yj;
            }
        }
        let gamma = if k > 0 {
            dot(&s_hist[k - 1], &y_hist[k - 1]) / dot(&y_hist[k - 1], &y_hist[k - 1])
        } else {
            1.0 / gnorm
        };
        for qj in &mut q {
            *qj *= gamma;
        }
        for i in 0..k {
            let beta = rho[i] * dot(&y_hist[i], &q);
            for (qj, sj) in q.iter_mut().zip(&s_hist[i]) {
                *qj += (alpha[i] - beta) * sj;
            }
        }
        let mut dir: Vec<f64> = q.iter().map(|v| -v).collect();
        let mut slope = dot(&g, &dir);
        if slope >= 0.0 {
            // not a descent direction: restart from steepest descent
            s_hist.clear();
            y_hist.clear();
            rho.clear();
            dir = g.iter().map(|v| -v / gnorm).collect();
            slope = dot(&g, &dir);
        }
        let mut step = 1.0;
        let mut f_new;
        let mut accepted = false;
        for _ in 0..40 {
            for ((xn, xi), di) in x_new.iter_mut().zip(&x).zip(&dir) {
                *xn = xi + step * di;
            }
            f_new = p.eval(&x_new, &mut g_new);
            if f_new <= f + 1e-4 * step * slope {
                accepted = true;
                let s: Vec<f64> = x_new.iter().zip(&x).map(|(a, b)| a - b).collect();
                let yv: Vec<f64> = g_new.iter().zip(&g).map(|(a, b)| a - b).collect();
                let sy = dot(&s, &yv);
                if sy > 1e-12 {
                    if s_hist.len() == M {
                        s_hist.remove(0);
                        y_hist.remove(0);
                        rho.remove(0);
                    }
                    s_hist.push(s);
                    y_hist.push(yv);
                    rho.push(1.0 / sy);
                }
                let rel = (f - f_new).abs() / f.abs().max(1.0);
                std::mem::swap(&mut x, &mut x_new);
                std::mem::swap(&mut g, &mut g_new);
                f = f_new;
                if rel < 1e-10 && iter > 5 {
                    return x;
                }
                break;
            }
            step *= 0.5;
        }
        if !accepted {
            break;
        }
    }
    x
}

/// Stratified fold assignment: each class shuffled with the seed, then dealt round-robin.
pub fn stratified_folds(labels: &[bool], k: usize, seed: u64) -> Vec<usize> {
    let mut rng = SplitMix64::new(seed);
    let mut fold = vec![0usize; labels.len()];
    let mut next = 0usize;
    for class in [true, false] {
        let mut idx: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        rng.shuffle(&mut idx);
        for i in idx {
            fold[i] = next % k.max(1);
            next += 1;
        }
    }
    fold
}

/// Macro-averaged F1 over the two classes.
pub fn macro_f1(labels: &[bool], predicted: &[bool]) -> f64 {
    let mut f1s = [0.0; 2];
    for (slot, class) in f1s.iter_mut().zip([true, false]) {
        let (mut tp, mut fp, mut fneg) = (0.0, 0.0, 0.0);
        for (&l, &p) in labels.iter().zip(predicted) {
            match (l == class, p == class) {
                (true, true) => tp += 1.0,
                (false, true) => fp += 1.0,
                (true, false) => fneg += 1.0,
                _ => {}
            }
        }
        *slot = if tp == 0.0 {
            0.0
        } else {
            2.0 * tp / (2.0 * tp + fp + fneg)
        };
    }
    (f1s[0] + f1s[1]) / 2.0
}

/// Thresholds considered when tuning the decision threshold.
pub fn threshold_grid() -> impl Iterator<Item = f64> {
    (0..=16).map(|i| 0.30 + 0.025 * f64::from(i))
}

/// The threshold maximising macro F1 of `probs` (ties: the one closest to 0.5).
pub fn best_threshold(labels: &[bool], probs: &[f64]) -> f64 {
    let mut best: (f64, f64) = (f64::MIN, 0.5);
    for t in threshold_grid() {
        let pred: Vec<bool> = probs.iter().map(|&p| p >= t).collect();
        let f = macro_f1(labels, &pred);
        if f > best.0 + 1e-12
            || ((f - best.0).abs() <= 1e-12 && (t - 0.5).abs() < (best.1 - 0.5).abs())
        {
            best = (f, t);
        }
    }
    best.1
}

/// Out-of-fold probabilities for every document of `corpus`.
pub fn cross_val_probs(corpus: &Corpus, folds: &[usize], k: usize, tc: &TrainConfig) -> Vec<f64> {
    let mut probs = vec![0.0; corpus.len()];
    for f in 0..k {
        let train: Vec<usize> = (0..corpus.len()).filter(|&i| folds[i] != f).collect();
        let test: Vec<usize> = (0..corpus.len()).filter(|&i| folds[i] == f).collect();
        if train.is_empty() || test.is_empty() {
            continue;
        }
        let model = fit(corpus, &train, tc, 0.5);
        for &i in &test {
            probs[i] = model.score_doc(&corpus.docs[i]);
        }
    }
    probs
}

impl ComplaintModel {
    fn score_doc(&self, doc: &DocCounts) -> f64 {
        let word_size = 1u32 << self.cfg.word_bits;
        let mut z = f64::from(self.bias);
        for &(id, c) in &doc.counts {
            let w = if id < word_size {
                self.word_w.get(id as usize) * doc.scale_word
            } else {
                self.char_w.get((id - word_size) as usize) * doc.scale_char
            };
            z += f64::from(w * c);
        }
        for (w, x) in self.dense_w.iter().zip(doc.dense) {
            z += f64::from(*w) * x;
        }
        sigmoid(z)
    }
}

#[cfg(test)]
mod tests;

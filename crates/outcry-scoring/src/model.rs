//! The complaint classifier: L2-regularised logistic regression over hashed word and character
//! n-grams (see `features`) plus VADER's four scores, trained with L-BFGS.
//!
//! Training is deterministic: documents are visited in file order, folds come from a seeded
//! splitmix64 shuffle, the optimiser has no randomness, and the model file is written in a fixed
//! order (sorted bucket indices), so the same data and seed give the same bytes.

use crate::features::{
    char_window, for_each_feature, group_sizes, normalize_into, FeatureConfig, Group, Normalized,
    CHAR_HASH_MUL, MAX_CHAR_N,
};
use crate::hash::{Fnv64, SplitMix64};
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
#[derive(Debug, Clone, Default)]
struct Weights {
    dense: Vec<f32>,
}

impl Weights {
    fn from_dense(dense: Vec<f32>) -> Weights {
        Weights { dense }
    }

    #[inline]
    fn get(&self, i: usize) -> f32 {
        self.dense.get(i).copied().unwrap_or(0.0)
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
        let (n_word, n_char) = group_sizes(norm, &self.cfg);
        let sw = 1.0 / (n_word.max(1) as f32).sqrt();
        let sc = 1.0 / (n_char.max(1) as f32).sqrt();
        let per_word = &mut scratch.per_word;
        per_word.clear();
        per_word.resize(norm.words.len() + 1, 0.0);
        let text_z = self.text_logit(norm, sw, sc, per_word, top_k > 0);
        let per_word = &per_word[..norm.words.len()];
        let mut z = f64::from(self.bias);
        z += f64::from(text_z);
        for (w, x) in self.dense_w.iter().zip(dense_features(sentiment)) {
            z += f64::from(*w) * x;
        }
        let top_terms = if top_k == 0 {
            Vec::new()
        } else {
            top_words(norm, per_word, top_k, &mut scratch.top)
        };
        Prediction {
            probability: sigmoid(z),
            top_terms,
        }
    }

    /// The text part of the log-odds: the same sum, in the same order, as visiting
    /// [`for_each_feature`] (so the f32 result is bit-identical), with each feature's
    /// contribution also added to the word it is attributed to (char n-grams only when
    /// `attribute`: without top terms nobody reads them).
    fn text_logit(
        &self,
        norm: &Normalized,
        sw: f32,
        sc: f32,
        per_word: &mut [f32],
        attribute: bool,
    ) -> f32 {
        let wmask = self.cfg.word_mask() as usize;
        let b = norm.padded.as_bytes();
        let mut text_z = 0f32;
        for (i, h) in norm.hashes.iter().enumerate() {
            let c = self.word_w.get(h.unigram as usize & wmask) * sw;
            text_z += c;
            per_word[i] += c;
            if i > 0 {
                let c = self.word_w.get(h.bigram as usize & wmask) * sw;
                text_z += c;
                per_word[i - 1] += c;
            }
        }
        let (kmin, kmax) = (self.cfg.char_min as usize, self.cfg.char_max as usize);
        let shift = 64 - u32::from(self.cfg.char_bits);
        // the n-gram lengths and their byte masks, once per call (see `char_bucket`)
        let mut grams = [(0u64, 0u64); MAX_CHAR_N];
        let n_grams = (kmin..=kmax.min(MAX_CHAR_N)).count();
        for (slot, k) in grams.iter_mut().zip(kmin..=kmax) {
            *slot = (u64::MAX >> (64 - 8 * k), k as u64);
        }
        let grams = &grams[..n_grams];
        let table = self.char_w.dense.as_slice();
        let len = b.len();
        let weight = |window: u64, mask: u64, k: u64| {
            let key = ((window & mask) << 8) | k;
            let bucket = (key.wrapping_mul(CHAR_HASH_MUL) >> shift) as usize;
            table.get(bucket).copied().unwrap_or(0.0) * sc
        };
        // the n-grams starting at position `p`: added to the text's sum and to `acc`, the
        // running sum of the word they are attributed to
        if let [(mask, k)] = *grams {
            // one n-gram length (the shipped model): no loop over lengths
            let last = (len + 1).saturating_sub(k as usize);
            if !attribute {
                for p in 0..last {
                    text_z += weight(char_window(b, p), mask, k);
                }
                return text_z;
            }
            let add = |p: usize, text_z: &mut f32, acc: &mut f32| {
                let c = weight(char_window(b, p), mask, k);
                *text_z += c;
                *acc += c;
            };
            char_ngram_pass(norm, last, per_word, &mut text_z, add);
        } else {
            let add = |p: usize, text_z: &mut f32, acc: &mut f32| {
                let (window, avail) = (char_window(b, p), (len - p) as u64);
                for &(mask, k) in grams.iter().take_while(|(_, k)| *k <= avail) {
                    let c = weight(window, mask, k);
                    *text_z += c;
                    *acc += c;
                }
            };
            char_ngram_pass(norm, len, per_word, &mut text_z, add);
        }
        text_z
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

/// Visits the char n-gram positions `0..end` of `norm.padded` in order, calling `add` with the
/// running sum of the word each position is attributed to (see [`Normalized::owners`]): a
/// word's bytes and the space before it, except for `?` and `!`; other positions add to a
/// sum that is dropped. Each word's slot of `per_word` gets the same additions in the same
/// order as visiting the n-grams one by one.
#[inline]
fn char_ngram_pass(
    norm: &Normalized,
    end: usize,
    per_word: &mut [f32],
    text_z: &mut f32,
    mut add: impl FnMut(usize, &mut f32, &mut f32),
) {
    let b = norm.padded.as_bytes();
    let mut unowned = 0f32;
    let mut p = 0;
    for (w, &(s, e)) in norm.words.iter().enumerate() {
        let (s, e) = (s as usize, e as usize);
        let attributed = !matches!(b.get(s), Some(b'?' | b'!'));
        let from = if attributed && s > p && b.get(s - 1) == Some(&b' ') {
            s - 1
        } else {
            s
        };
        let (from, e) = (from.min(end), e.min(end));
        for q in p..from {
            add(q, text_z, &mut unowned);
        }
        if attributed {
            let mut acc = per_word.get(w).copied().unwrap_or(0.0);
            for q in from..e {
                add(q, text_z, &mut acc);
            }
            if let Some(slot) = per_word.get_mut(w) {
                *slot = acc;
            }
        } else {
            for q in from..e {
                add(q, text_z, &mut unowned);
            }
        }
        p = e;
    }
    for q in p..end {
        add(q, text_z, &mut unowned);
    }
}

/// `complaint-lr-<first 12 hex digits of the FNV-1a hash of the model bytes>`
pub fn version_of(bytes: &[u8]) -> String {
    let mut h = Fnv64::new(0);
    h.bytes(bytes);
    format!("complaint-lr-{:012x}", h.finish() >> 16)
}

fn top_words(
    norm: &Normalized,
    per_word: &[f32],
    k: usize,
    scratch: &mut TopScratch,
) -> Vec<(String, f64)> {
    let TopScratch { merged, slots } = scratch;
    merged.clear();
    let bytes = norm.padded.as_bytes();
    let word = |i: usize| {
        let (s, e) = norm.words.get(i).copied().unwrap_or((0, 0));
        bytes.get(s as usize..e as usize).unwrap_or(&[])
    };
    // merge repeated words through an open-addressing table over the word's unigram hash, at
    // most half full, so a word costs one probe; the bytes are compared only when two hashes
    // are equal. Placeholders explain nothing and are skipped.
    let bits = (2 * per_word.len())
        .next_power_of_two()
        .max(16)
        .trailing_zeros();
    let mask = (1usize << bits) - 1;
    slots.clear();
    slots.resize(mask + 1, u32::MAX);
    for ((i, &c), h) in per_word.iter().enumerate().zip(&norm.hashes) {
        let key = h.unigram;
        // the high bits of a multiply mix every bit of the FNV hash
        let mut slot = (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - bits)) as usize;
        while let Some(&m) = slots.get(slot) {
            if m == u32::MAX {
                let w = word(i);
                if !(w.len() == 5 && (w == b"@user" || w == b"<url>")) {
                    slots[slot] = merged.len() as u32;
                    merged.push(Merged {
                        word: i as u32,
                        key,
                        sum: c,
                    });
                }
                break;
            }
            if let Some(entry) = merged
                .get_mut(m as usize)
                .filter(|e| e.key == key && word(e.word as usize) == word(i))
            {
                entry.sum += c;
                break;
            }
            slot = (slot + 1) & mask;
        }
    }
    // largest magnitude first, ties by the word: the bits of a non-negative float order as
    // the float does, so one integer comparison settles all but exact ties
    let magnitude = |m: &Merged| m.sum.abs().to_bits();
    let order = |a: &Merged, b: &Merged| {
        magnitude(b)
            .cmp(&magnitude(a))
            .then_with(|| word(a.word as usize).cmp(word(b.word as usize)))
    };
    // words are unique after merging, so the order is total: selecting the first k and
    // sorting only those gives exactly the first k of a full sort. A tweet has a dozen or two
    // distinct words and k is small, so most words cost one comparison with the current k-th.
    let kk = k.min(merged.len());
    for i in 0..merged.len() {
        let m = merged[i];
        let mut j = i.min(kk);
        if j == kk {
            if kk == 0 || order(&m, &merged[kk - 1]).is_ge() {
                continue;
            }
            j = kk - 1;
        }
        while j > 0 && order(&m, &merged[j - 1]).is_lt() {
            merged[j] = merged[j - 1];
            j -= 1;
        }
        merged[j] = m;
    }
    merged.truncate(kk);
    let mut out = Vec::with_capacity(merged.len());
    out.extend(merged.iter().filter(|m| m.sum.abs() > 1e-4).map(|m| {
        (
            norm.word(m.word as usize).to_string(),
            (f64::from(m.sum) * 1e4).round() / 1e4,
        )
    }));
    out
}

/// A distinct word of a text and its summed contribution, for [`top_words`].
#[derive(Debug, Clone, Copy)]
struct Merged {
    word: u32,
    key: u64,
    sum: f32,
}

/// Reusable buffers of [`top_words`].
#[derive(Debug, Default)]
struct TopScratch {
    merged: Vec<Merged>,
    /// the open-addressing table: index into `merged`, `u32::MAX` for an empty slot
    slots: Vec<u32>,
}

/// Reusable buffers of [`ComplaintModel::predict_with`].
#[derive(Debug, Default)]
pub struct PredictScratch {
    per_word: Vec<f32>,
    top: TopScratch,
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
mod tests {
    use super::*;

    #[test]
    fn top_words_match_a_full_sort() {
        // placeholders too: they are never reported
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
        ];
        let mut r = crate::hash::SplitMix64::new(11);
        for case in 0..2_000 {
            let n = (r.next_u64() % 24) as usize;
            let text: Vec<&str> = (0..n)
                .map(|_| vocab[(r.next_u64() % vocab.len() as u64) as usize])
                .collect();
            let mut norm = Normalized::default();
            crate::features::normalize_into(&text.join(" "), &mut norm);
            // few distinct magnitudes, so ties on the sum are decided by the word
            let per_word: Vec<f32> = (0..norm.words.len())
                .map(|_| ((r.next_u64() % 9) as f32 - 4.0) * 0.25)
                .collect();
            // reference: merge, full sort, first k
            let mut sums: Vec<(String, f32)> = Vec::new();
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
            for k in 0..8 {
                let want: Vec<(String, f64)> = sums
                    .iter()
                    .take(k)
                    .filter(|(_, s)| s.abs() > 1e-4)
                    .map(|(w, s)| (w.clone(), (f64::from(*s) * 1e4).round() / 1e4))
                    .collect();
                let got = top_words(&norm, &per_word, k, &mut TopScratch::default());
                assert_eq!(got, want, "case {case} k {k}: {text:?}");
            }
        }
    }

    #[test]
    fn macro_f1_of_perfect_and_inverted_predictions() {
        let y = [true, false, true, false];
        assert_eq!(macro_f1(&y, &y), 1.0);
        assert_eq!(macro_f1(&y, &[false, true, false, true]), 0.0);
    }

    #[test]
    fn folds_are_stratified_and_seeded() {
        let labels: Vec<bool> = (0..100).map(|i| i % 3 == 0).collect();
        let folds = stratified_folds(&labels, 5, 1);
        assert_eq!(folds, stratified_folds(&labels, 5, 1));
        assert_ne!(folds, stratified_folds(&labels, 5, 2));
        for f in 0..5 {
            let pos = (0..100).filter(|&i| folds[i] == f && labels[i]).count();
            assert!((6..=7).contains(&pos), "fold {f} has {pos} positives");
        }
    }

    fn toy() -> Vec<Example> {
        let mut ex = Vec::new();
        for (i, t) in [
            "my order never arrived",
            "worst service ever, still waiting",
            "refund me now, broken again",
        ]
        .iter()
        .enumerate()
        {
            ex.push(Example {
                text: format!("{t} #{i}"),
                label: true,
            });
        }
        for (i, t) in [
            "thanks for the quick reply",
            "love the new store",
            "great flight today",
        ]
        .iter()
        .enumerate()
        {
            ex.push(Example {
                text: format!("{t} #{i}"),
                label: false,
            });
        }
        ex
    }

    #[test]
    fn scoring_loop_is_bit_identical_to_the_generic_feature_walk() {
        let shipped = ComplaintModel::from_bytes(crate::EMBEDDED_MODEL).unwrap();
        // the shipped single n-gram length, and several lengths (the general loop)
        let mut several = shipped.clone();
        several.cfg.char_min = 2;
        several.cfg.char_max = 5;
        let mut all = shipped.clone();
        all.cfg.char_min = 1;
        all.cfg.char_max = MAX_CHAR_N as u8;
        let texts = [
            "",
            "  ",
            "a",
            "@Delta WHY did flight 1234 leave?? http://t.co/abc Sooooo late",
            "my order never arrived! refund me now, this is the 3rd time",
            "caf\u{e9} \u{1F620} &amp; <b> don't   stop",
            "ab",
            "abcdefg",
            "x\0y\0\0z",
        ];
        for (model, text) in [&shipped, &several, &all]
            .into_iter()
            .flat_map(|m| texts.iter().map(move |t| (m, *t)))
        {
            let mut norm = Normalized::default();
            normalize_into(text, &mut norm);
            let (n_word, n_char) = group_sizes(&norm, &model.cfg);
            let sw = 1.0 / (n_word.max(1) as f32).sqrt();
            let sc = 1.0 / (n_char.max(1) as f32).sqrt();
            let mut want_words = vec![0f32; norm.words.len()];
            let mut want_z = 0f32;
            for_each_feature(&norm, &model.cfg, |g, bucket, owner| {
                let c = match g {
                    Group::Word => model.word_w.get(bucket as usize) * sw,
                    Group::Char => model.char_w.get(bucket as usize) * sc,
                };
                want_z += c;
                if let Some(w) = owner {
                    want_words[w] += c;
                }
            });
            let mut got_words = vec![0f32; norm.words.len() + 1];
            let got_z = model.text_logit(&norm, sw, sc, &mut got_words, true);
            assert_eq!(got_z.to_bits(), want_z.to_bits(), "{text:?}");
            // without attribution (no top terms asked for), the same sum
            let plain_z = model.text_logit(&norm, sw, sc, &mut vec![0f32; got_words.len()], false);
            assert_eq!(plain_z.to_bits(), want_z.to_bits(), "{text:?}");
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                bits(&got_words[..norm.words.len()]),
                bits(&want_words),
                "{text:?}"
            );
        }
    }

    #[test]
    fn model_round_trips_through_bytes_with_the_same_predictions() {
        let ex = toy();
        let a = SentimentAnalyzer::embedded();
        let corpus = Corpus::new(
            &ex,
            a,
            FeatureConfig {
                word_bits: 12,
                char_bits: 12,
                char_min: 2,
                char_max: 4,
            },
        );
        let all: Vec<usize> = (0..ex.len()).collect();
        let m = fit(
            &corpus,
            &all,
            &TrainConfig {
                max_iter: 50,
                ..TrainConfig::default()
            },
            0.5,
        );
        let bytes = m.to_bytes();
        let back = ComplaintModel::from_bytes(&bytes).expect("parses");
        assert_eq!(back.to_bytes(), bytes);
        assert_eq!(back.version(), m.version());
        let s = a.polarity_scores("my order never arrived");
        let p1 = m.predict("my order never arrived", &s, 3).probability;
        assert_eq!(
            p1,
            back.predict("my order never arrived", &s, 3).probability
        );
        assert!(p1 > 0.5, "a training complaint scores as complaint: {p1}");
    }

    #[test]
    fn truncated_or_foreign_model_bytes_are_rejected() {
        assert!(matches!(
            ComplaintModel::from_bytes(b"nope"),
            Err(ScoringError::Model(_))
        ));
        let ex = toy();
        let corpus = Corpus::new(
            &ex,
            SentimentAnalyzer::embedded(),
            FeatureConfig {
                word_bits: 10,
                char_bits: 10,
                char_min: 2,
                char_max: 3,
            },
        );
        let m = fit(
            &corpus,
            &[0, 1, 3, 4],
            &TrainConfig {
                max_iter: 10,
                ..TrainConfig::default()
            },
            0.5,
        );
        let bytes = m.to_bytes();
        for cut in [9, 20, bytes.len() - 1] {
            assert!(
                ComplaintModel::from_bytes(&bytes[..cut]).is_err(),
                "cut at {cut}"
            );
        }
    }
}

//! Training: document counts, L-BFGS on the regularised log loss, folds, macro F1 and the
//! decision threshold.

use super::*;

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
    let mut model = ComplaintModel::from_parts(
        cfg,
        (word_w, char_w),
        dense_w,
        bias,
        threshold,
        String::new(),
    );
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

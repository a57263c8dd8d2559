use super::*;

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
fn scoring_sums_equal_the_generic_feature_walk() {
    let shipped = ComplaintModel::from_bytes(crate::EMBEDDED_MODEL).unwrap();
    // the shipped single n-gram length, other single lengths and several lengths
    let with = |min: u8, max: u8| {
        let mut m = shipped.clone();
        m.cfg.char_min = min;
        m.cfg.char_max = max;
        m
    };
    let models = [
        shipped.clone(),
        with(1, 1),
        with(4, 4),
        with(MAX_CHAR_N as u8, MAX_CHAR_N as u8),
        with(2, 5),
        with(1, MAX_CHAR_N as u8),
    ];
    let texts = [
        "",
        "  ",
        "a",
        "@Delta WHY did flight 1234 leave?? http://t.co/abc Sooooo late",
        "my order never arrived! refund me now, this is the 3rd time",
        "caf\u{e9} \u{1F620} &amp; <b> don't   stop",
        "? ! ?! a? !b",
        "ab",
        "abcdefg",
        "x\0y\0\0z",
    ];
    for (model, text) in models
        .iter()
        .flat_map(|m| texts.iter().map(move |t| (m, *t)))
    {
        let mut norm = Normalized::default();
        normalize_into(text, &mut norm);
        let mut want = TextSums { word: 0, char: 0 };
        let mut want_words = vec![(0i64, 0i64); norm.words.len()];
        for_each_feature(&norm, &model.cfg, |g, bucket, owner| {
            let (total, share) = match g {
                Group::Word => (&mut want.word, 0),
                Group::Char => (&mut want.char, 1),
            };
            let w = match g {
                Group::Word => model.word_w.fixed(bucket as usize),
                Group::Char => model.char_w.fixed(bucket as usize),
            };
            *total += w;
            if let Some(i) = owner {
                let s = &mut want_words[i];
                *if share == 0 { &mut s.0 } else { &mut s.1 } += w;
            }
        });
        let mut scratch = PredictScratch::default();
        let scales = model.scales(&norm);
        let got = model.text_sums(&norm, true, &mut scratch);
        let cfg = model.cfg;
        assert_eq!(got, want, "{text:?} {cfg:?}");
        let (words, chars): (Vec<i64>, Vec<i64>) = want_words.iter().copied().unzip();
        assert_eq!(scratch.per_word, words, "{text:?} {cfg:?}");
        let mut shares = CharShares::new(&norm, &scratch.prefix);
        let got_chars: Vec<i64> = norm.words.iter().map(|&w| shares.share(w)).collect();
        assert_eq!(got_chars, chars, "{text:?} {cfg:?}");
        let want_contributions: Vec<f64> = want_words
            .iter()
            .map(|&(w, c)| w as f64 * scales.word + c as f64 * scales.char)
            .collect();
        let got_contributions: Vec<f64> =
            contributions(&norm, &scratch.prefix, &scratch.per_word, scales).collect();
        assert_eq!(got_contributions, want_contributions, "{text:?} {cfg:?}");
        // without attribution (no top terms asked for), the same sums
        assert_eq!(
            model.text_sums(&norm, false, &mut scratch),
            want,
            "{text:?}"
        );
    }
}

#[test]
fn fixed_point_weights_are_within_half_a_unit_of_the_trained_ones() {
    let m = ComplaintModel::from_bytes(crate::EMBEDDED_MODEL).unwrap();
    for table in [&m.word_w, &m.char_w] {
        assert!(table.unit <= 1e-8, "unit {}", table.unit);
        for (w, f) in table.dense.iter().zip(&table.fixed) {
            let back = f64::from(*f) * table.unit;
            assert!((back - f64::from(*w)).abs() <= table.unit / 2.0, "{w} {f}");
        }
    }
    // huge weights give up resolution, not range
    let big = Weights::from_dense(vec![3.0e6, -1.0, 0.0]);
    assert!(big.fixed.iter().all(|f| f.unsigned_abs() < 1 << 30));
    assert_eq!(f64::from(big.fixed[0]) * big.unit, 3.0e6);
}

#[test]
fn top_terms_made_in_the_merge_match_a_full_sort_of_the_contributions() {
    // the shipped model's contributions, made as the merge takes them, against a full
    // sort of the same contributions collected first: texts with repeated words,
    // placeholders, `?` and `!`, and words of more than eight bytes
    let model = ComplaintModel::from_bytes(crate::EMBEDDED_MODEL).unwrap();
    let sentiment = Sentiment::default();
    let vocab = [
        "late",
        "refund",
        "LATE",
        "bad",
        "never",
        "again",
        "?",
        "!",
        "?!",
        "@brand",
        "http://t.co/x",
        "customerservice",
        "caf\u{e9}",
        "\u{1F620}",
        "a",
        "my",
        "order",
        "delayed...",
        "don't",
    ];
    let mut r = SplitMix64::new(7);
    let mut scratch = PredictScratch::default();
    let mut norm = Normalized::default();
    for case in 0..2_000 {
        let text = crate::top_terms::tests::random_words(&mut r, &vocab, 70)
            .join(if case % 3 == 0 { "" } else { " " });
        normalize_into(&text, &mut norm);
        let mut shares = PredictScratch::default();
        model.text_sums(&norm, true, &mut shares);
        let scales = model.scales(&norm);
        let collected: Vec<f64> =
            contributions(&norm, &shares.prefix, &shares.per_word, scales).collect();
        for k in 0..8 {
            let want = crate::top_terms::tests::reference(&norm, &collected, k);
            let got = model.predict_with(&norm, &sentiment, k, &mut scratch);
            assert_eq!(got.top_terms, want, "case {case} k {k}: {text:?}");
        }
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

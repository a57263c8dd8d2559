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

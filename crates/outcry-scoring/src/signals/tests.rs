use super::*;

mod kinds;

static DETECTOR: std::sync::LazyLock<SignalDetector> =
    std::sync::LazyLock::new(SignalDetector::new);

fn normalized(text: &str) -> Normalized {
    let mut n = Normalized::default();
    normalize_into(text, &mut n);
    n
}

/// A match as the tests compare them: (word, rank, class, length).
type Found = (usize, u16, Class, usize);

/// What the detector's tables find: the signal tables at the words their filters let
/// through, the staff and question tables at every word; by word, at a word by rank.
fn matches(detector: &SignalDetector, norm: &Normalized) -> Vec<Found> {
    let mut out = Vec::new();
    let mut push = |m: Match| out.push((m.start, m.rank, m.class, m.end - m.start));
    let rules = &detector.signals;
    for (i, (&span, h)) in norm.words.iter().zip(&norm.hashes).enumerate() {
        let planes = detector.planes_at(norm.padded.as_bytes(), span, h);
        rules.planed_matches(planes, norm, i, &mut push);
    }
    for i in 0..norm.words.len() {
        for rules in [&detector.staff, &detector.questions] {
            rules.single_matches(&detector.filters, norm, i, &mut push);
        }
    }
    out.sort_by_key(|&(i, rank, _, _)| (i, rank));
    out
}

/// The phrases as the tests read them, in rank order: at a word, the phrases starting
/// with an exact word come first (a stable sort).
fn ranked_phrases() -> Vec<(Class, Vec<&'static str>)> {
    let mut phrases: Vec<(Class, Vec<&str>)> = PHRASES
        .iter()
        .flat_map(|&(class, phrases)| phrases.iter().map(move |p| (class, p.split(' ').collect())))
        .collect();
    phrases.sort_by_key(|(_, toks)| toks[0].ends_with('*'));
    phrases
}

/// What the tables must find: every phrase tried at every word, by its text alone.
fn naive_matches(norm: &Normalized) -> Vec<Found> {
    let n = norm.words.len();
    let mut out = Vec::new();
    for i in 0..n {
        for (rank, (class, toks)) in ranked_phrases().iter().enumerate() {
            let hit = i + toks.len() <= n
                && toks.iter().enumerate().all(|(j, t)| {
                    let w = norm.word_bytes(i + j);
                    match t.strip_suffix('*') {
                        Some(prefix) => w.starts_with(prefix.as_bytes()),
                        None => *t == "_" || t.as_bytes() == w,
                    }
                });
            if hit {
                out.push((i, rank as u16, *class, toks.len()));
            }
        }
    }
    out
}

/// The rules as first written, from [`naive_matches`]: the first match of each kind; abuse
/// at the first insult with a staff word within three words (the nearest); a question at
/// the first `?` or at a question word that is the first plain word or follows `?` or `!`.
fn naive_detect(norm: &Normalized) -> Vec<Signal> {
    let n = norm.words.len();
    let word = |i: usize| norm.word_bytes(i);
    let mut found: [Option<(usize, usize)>; 8] = [None; 8];
    let (mut insults, mut staff) = (Vec::new(), Vec::new());
    let mut question_start = None;
    let first_plain = (0..n).find(|&i| !word(i).starts_with(b"@")).unwrap_or(n);
    for (i, _, class, len) in naive_matches(norm) {
        match class {
            Class::Signal(SignalKind::Question) => {
                let opens = first_plain >= i || (i > 0 && matches!(word(i - 1), b"?" | b"!"));
                if question_start.is_none() && opens {
                    question_start = Some(i);
                }
            }
            Class::Signal(kind) => {
                found[kind as usize].get_or_insert((i, i + len));
            }
            Class::Insult => insults.push((i, i + len)),
            Class::Staff => staff.push(i),
        }
    }
    let aimed = |p: usize, s: usize, e: usize| p + 3 >= s && p < e + 3;
    if let Some(&(s, e)) = insults
        .iter()
        .find(|&&(s, e)| staff.iter().any(|&p| aimed(p, s, e)))
    {
        let p = staff
            .iter()
            .copied()
            .filter(|&p| aimed(p, s, e))
            .min_by_key(|&p| p.abs_diff(s))
            .unwrap_or(s);
        found[SignalKind::AbuseAtStaff as usize] = Some((p.min(s), (p + 1).max(e)));
    }
    if let Some(q) = (0..n).find(|&i| word(i) == b"?") {
        let start = question_start
            .filter(|&s| s < q)
            .unwrap_or(q.saturating_sub(6));
        let start = (start..q)
            .find(|&j| !word(j).starts_with(b"@"))
            .unwrap_or(q);
        found[SignalKind::Question as usize] = Some((start, q + 1));
    } else if let Some(s) = question_start {
        found[SignalKind::Question as usize] = Some((s, (s + 6).min(n)));
    }
    SignalKind::ALL
        .iter()
        .zip(found)
        .filter_map(|(&kind, f)| {
            let (s, e) = f?;
            let words: Vec<&str> = (s..e).map(|j| norm.word(j)).collect();
            Some(Signal {
                kind,
                evidence: words.join(" "),
            })
        })
        .collect()
}

#[test]
fn phrase_words_are_normalised_words() {
    // an exact word's hash comes from normalising it alone
    for (_, phrases) in PHRASES {
        for word in phrases.iter().flat_map(|p| p.split(' ')) {
            let n = normalized(word.trim_end_matches('*'));
            assert_eq!(n.words.len(), 1, "{word:?}");
            assert_eq!(n.word(0), word.trim_end_matches('*'), "{word:?}");
        }
    }
}

#[test]
fn every_phrase_matches_itself() {
    for (class, phrases) in PHRASES {
        for phrase in phrases {
            let len = phrase.split(' ').count();
            for suffix in ["", "ing"] {
                let text = format!("@acme ok {} ok", phrase.replace('*', suffix));
                let norm = normalized(&text);
                let found = matches(&DETECTOR, &norm);
                assert!(
                    found.iter().any(|&m| (m.0, m.2, m.3) == (2, class, len)),
                    "{text:?}: {found:?}"
                );
                assert_eq!(found, naive_matches(&norm), "{text:?}");
                assert_eq!(DETECTOR.detect(&norm), naive_detect(&norm), "{text:?}");
            }
        }
    }
}

#[test]
fn filters_mark_every_question_mark_and_bang() {
    let norm = normalized("@acme? @x ! ?! a? ?? @ hi! how ! is it?");
    let marked: Vec<usize> = (norm.words.iter().zip(&norm.hashes).enumerate())
        .filter(|&(_, (&span, h))| {
            DETECTOR.planes_at(norm.padded.as_bytes(), span, h) & Filters::PUNCTUATION != 0
        })
        .map(|(i, _)| i)
        .collect();
    let punctuation: Vec<usize> = (0..norm.words.len())
        .filter(|&i| matches!(norm.word_bytes(i), b"?" | b"!"))
        .collect();
    assert!(punctuation.len() > 8);
    assert!(punctuation.iter().all(|i| marked.contains(i)));
}

/// Phrase words (prefixes with and without a tail), near misses, and filler.
fn vocabulary() -> Vec<String> {
    let mut words: Vec<String> = PHRASES
        .iter()
        .flat_map(|(_, phrases)| phrases.iter().flat_map(|p| p.split(' ')))
        .flat_map(|w| {
            let stem = w.trim_end_matches('*');
            [
                stem.to_string(),
                format!("{stem}s"),
                stem.chars().take(3).collect(),
                stem.chars().take(2).collect(),
                stem.to_uppercase(),
            ]
        })
        .collect();
    words.extend(
        [
            "?",
            "!",
            "?!",
            "@acme",
            "@acme:",
            "5",
            "the",
            "a",
            "x",
            "http://x.co",
            "don’t",
        ]
        .map(String::from),
    );
    words.sort();
    words.dedup();
    words
}

/// Texts of up to `max` words of the vocabulary, punctuation and noise.
fn texts(max: usize) -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::strategy::Strategy;
    proptest::collection::vec(
        proptest::prop_oneof![
            4 => proptest::sample::select(vocabulary()),
            1 => "[a-z0-9'?!@ ,.]{1,6}",
        ],
        0..max,
    )
    .prop_map(|words| words.join(" "))
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
    #[test]
    fn tables_find_what_trying_every_pattern_finds(text in texts(30)) {
        let norm = normalized(&text);
        proptest::prop_assert_eq!(matches(&DETECTOR, &norm), naive_matches(&norm));
    }

    #[test]
    fn detect_is_the_rules_as_written(text in texts(30)) {
        let norm = normalized(&text);
        proptest::prop_assert_eq!(DETECTOR.detect(&norm), naive_detect(&norm));
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]
    // longer texts, with more repeats and staff words further from insults
    #[test]
    fn long_texts_too(text in texts(200)) {
        let norm = normalized(&text);
        proptest::prop_assert_eq!(matches(&DETECTOR, &norm), naive_matches(&norm));
        proptest::prop_assert_eq!(DETECTOR.detect(&norm), naive_detect(&norm));
    }
}

#[test]
fn evidence_is_the_words_joined_by_single_spaces() {
    for text in [
        "@Acme what time do you open?",
        "why,is it   broken?! again...",
        "don’t  stop (me) now ?? x",
        "",
        "?",
    ] {
        let norm = normalized(text);
        let n = norm.words.len();
        for s in 0..=n {
            for e in s..=n {
                let words: Vec<&str> = (s..e).map(|i| norm.word(i)).collect();
                assert_eq!(evidence(&norm, s, e), words.join(" "), "{text:?} {s}..{e}");
            }
        }
    }
}

/// The runs of words between spaces in a normalised text.
fn runs(norm: &Normalized) -> Vec<&str> {
    norm.padded.split(' ').filter(|r| !r.is_empty()).collect()
}

/// That the text's whitespace tokens pair with the normalised runs, each run its token
/// normalised on its own, which is what `quote` relies on.
fn assert_tokens_are_runs(text: &str) {
    let norm = normalized(text);
    let tokens: Vec<&str> = crate::features::py_words(text).collect();
    let runs = runs(&norm);
    assert_eq!(tokens.len(), runs.len(), "{text:?}: {tokens:?} {runs:?}");
    for (token, run) in tokens.iter().zip(runs) {
        assert_eq!(normalized(token).padded.trim(), run, "{text:?}");
    }
}

#[test]
fn quotes_follow_the_normalised_words() {
    let fixtures = include_str!("../../tests/fixtures/vader_reference.jsonl");
    let mut texts = 0;
    for line in fixtures.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).expect("fixture line is json");
        let text = v["text"].as_str().expect("text");
        for text in [text.to_string(), text.to_uppercase()] {
            assert_tokens_are_runs(&text);
            texts += 1;
        }
    }
    assert!(texts > 8000, "{texts}");
    for text in [
        "",
        " ",
        "\u{3000}",
        "a\u{2028}b",
        "&amp;&amp; x",
        "@a@b c",
        "5 5",
        "é\tÉ",
    ] {
        assert_tokens_are_runs(text);
    }
}

proptest::proptest! {
    #[test]
    fn a_quote_is_never_of_other_words(text in "\\PC{0,40}") {
        assert_tokens_are_runs(&text);
    }
}

/// Each signal of `text` with its evidence quoted from the text.
fn quoted(text: &str) -> Vec<(SignalKind, String)> {
    let norm = normalized(text);
    DETECTOR
        .detect_in(text, &norm)
        .into_iter()
        .map(|s| (s.kind, s.evidence))
        .collect()
}

#[test]
fn evidence_is_quoted_as_the_mention_wrote_it() {
    let q = quoted("@AcmeAir this is the 5th time I've called!! Calling my LAWYER.");
    assert!(
        q.contains(&(SignalKind::RepeatedContact, "5th time".into())),
        "{q:?}"
    );
    assert!(
        q.contains(&(SignalKind::LegalThreat, "LAWYER.".into())),
        "{q:?}"
    );
    let q = quoted("@JaneAtAcme you are a useless idiot");
    assert_eq!(q.len(), 1, "{q:?}");
    assert_eq!(q[0].0, SignalKind::AbuseAtStaff);
    assert!(q[0].1.contains("idiot"), "{q:?}");
    // whitespace runs and line breaks become single spaces
    let q = quoted("why is\n\nmy   flight late??");
    assert_eq!(
        q,
        [(SignalKind::Question, "why is my flight late??".into())]
    );
    // the same signals, and the same evidence up to normalisation, as `detect`
    for text in [
        "Called 3 times, been on hold 45 minutes, cancelling my account",
        "ＷＨＹ is the app down again?",
        "my son got burned by your heater &amp; I want a refund",
    ] {
        let norm = normalized(text);
        let plain = DETECTOR.detect(&norm);
        let quoted = DETECTOR.detect_in(text, &norm);
        assert_eq!(plain.len(), quoted.len(), "{text}");
        for (p, q) in plain.iter().zip(&quoted) {
            assert_eq!(p.kind, q.kind, "{text}");
            let renormalised = normalized(&q.evidence);
            let words = evidence(&renormalised, 0, renormalised.words.len());
            assert!(
                words.contains(&p.evidence),
                "{text}: {:?} does not hold {:?}",
                q.evidence,
                p.evidence
            );
        }
    }
}

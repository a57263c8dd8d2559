use super::*;

fn c(text: &str) -> f64 {
    polarity_scores(text).compound
}

#[test]
fn embedded_lexicons_load_fully() {
    let a = SentimentAnalyzer::embedded();
    assert!(a.lexicon_len() > 7000, "{}", a.lexicon_len());
    assert_eq!(a.word_valence("good"), Some(1.9));
}

#[test]
fn reference_examples_match_published_scores() {
    // scores printed by the reference package's own demo
    assert_eq!(c("VADER is smart, handsome, and funny."), 0.8316);
    assert_eq!(c("VADER is smart, handsome, and funny!"), 0.8439);
    assert_eq!(c("VADER is very smart, handsome, and funny."), 0.8545);
    assert_eq!(c("VADER is VERY SMART, handsome, and FUNNY."), 0.9227);
    assert_eq!(c("VADER is not smart, handsome, nor funny."), -0.7424);
    assert_eq!(c("The book was good."), 0.4404);
    assert_eq!(c("At least it isn't a horrible book."), 0.431);
    assert_eq!(c("Today SUX!"), -0.5461);
}

#[test]
fn negation_flips_positive_words() {
    assert!(c("the service is good") > 0.3);
    assert!(c("the service is not good") < -0.3);
}

#[test]
fn boosters_and_caps_intensify() {
    let plain = c("the update is bad");
    assert!(c("the update is very bad") < plain);
    assert!(c("the update is BAD") < plain);
    assert!(c("the update is bad!!!") < plain);
}

#[test]
fn but_shifts_weight_to_the_second_clause() {
    let s = polarity_scores("the food was great but the service was terrible");
    assert!(s.compound < 0.0, "{s:?}");
}

#[test]
fn emoji_carry_sentiment() {
    assert_eq!(c("my flight \u{1F620}"), -0.5106);
    assert_eq!(c("my flight \u{1F60D}"), 0.4588);
}

#[test]
fn empty_and_blank_text_score_zero() {
    assert_eq!(polarity_scores(""), Sentiment::default());
    assert_eq!(polarity_scores(" \t\n"), Sentiment::default());
}

/// Scores by both tokenisers, compared bit for bit.
fn assert_paths_agree(text: &str) {
    let a = SentimentAnalyzer::embedded();
    let fast = a.polarity_scores_with(text, &mut Scratch::default(), Path::Fast);
    let exact = a.polarity_scores_with(text, &mut Scratch::default(), Path::Exact);
    let bits = |s: Sentiment| [s.compound, s.pos, s.neu, s.neg].map(f64::to_bits);
    assert_eq!(bits(fast), bits(exact), "{text:?}: {fast:?} vs {exact:?}");
}

#[test]
fn fast_path_matches_exact_path_on_reference_fixtures() {
    let fixtures = include_str!("../../tests/fixtures/vader_reference.jsonl");
    for line in fixtures.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).expect("fixture line is json");
        let text = v["text"].as_str().expect("text");
        assert_paths_agree(text);
        assert_paths_agree(&text.to_uppercase());
    }
}

/// Words the rules single out, in the case, punctuation and spacing variants that the
/// fast tokeniser treats specially.
const WORDS: &[&str] = &[
    "no",
    "NO",
    "or",
    "nor",
    "never",
    "so",
    "this",
    "without",
    "doubt",
    "least",
    "at",
    "very",
    "VERY",
    "kind",
    "of",
    "sort",
    "just",
    "enough",
    "but",
    "BUT",
    "the",
    "shit",
    "bomb",
    "to",
    "die",
    "for",
    "bad",
    "ass",
    "bus",
    "stop",
    "yeah",
    "right",
    "kiss",
    "death",
    "beating",
    "heart",
    "not",
    "don't",
    "DON'T",
    "n't",
    "wouldn'tttttttttttttttttttttttttttt",
    "kinda",
    "sort-of",
    "good",
    "GOOD",
    "great!!",
    "(bad)",
    ":)",
    ":-D",
    "<3",
    "!?",
    "...",
    "a",
    "I",
    "flight",
    "caf\u{e9}",
    "\u{c9}T\u{c9}",
    "\u{1F620}",
    "x\u{1F60D}",
    "\u{2019}good\u{2019}",
    "\u{3a3}\u{391}\u{3a3}",
    "\u{130}",
    "\u{212a}ind",
    "\x01bad",
    "soooooooooooooooooooooooooooooooooooooo",
    "abcdefgh",
    "ABCDEFGHI",
    "can't",
    "stand",
    "disappointed",
    "UNACCEPTABLE",
    "Horrible.",
    "@united",
    "#fail",
    "coat?!",
    "12345678901234",
    "abcdefghijklmno",
    "abcdefghijklmnop",
    "heartbreaking,",
    "-",
    "\x7fgood",
    "they\u{2019}re",
    "CAN\u{2019}T!",
    "\u{201c}ok,",
    "diaper...\u{201d}",
    "don't\u{2026}",
    "GOOD\u{2026}",
    "\u{fffd}\u{fffd}",
    "\u{4e2d}\u{6587}",
];
/// Every character the non-ASCII tokens take as plain, beside ASCII letters, capitals,
/// marks and apostrophes, and alone.
#[test]
fn fast_path_matches_exact_path_on_plain_characters() {
    let a = SentimentAnalyzer::embedded();
    let mut plain = 0;
    for c in ('\u{80}'..='\u{ffff}').filter(|&c| a.plain_chars.contains(c)) {
        plain += 1;
        assert_paths_agree(&format!("GOOD{c}s {c}don't x{c}!? {c}{c} {c}NOT good"));
        // whether these are ALL CAPS decides whether GOOD is emphasised
        assert_paths_agree(&format!("GOOD {c}{c}"));
        assert_paths_agree(&format!("GOOD A{c}"));
    }
    // the curly quotes, the ellipsis and the replacement character at least
    assert!(plain > 1000, "{plain}");
    for c in ['\u{2019}', '\u{201c}', '\u{2026}', '\u{fffd}'] {
        assert!(a.plain_chars.contains(c), "{c:?}");
    }
}

/// Every word the rules look for, and every pair of them, one to three tokens before
/// lexicon words (plain, named by the rules, boosters, in capitals), so that the
/// shortcut for lexicon words with nothing of the kind before them (see [`LOOKS_BACK`])
/// is checked against the rules in full wherever one of those words could change a
/// valence.
#[test]
fn lexicon_word_shortcut_matches_the_rules_around_named_words() {
    let mut named: Vec<&str> = SPECIAL_WORDS.iter().map(|&(w, _)| w).collect();
    named.extend([
        "not",
        "isn't",
        "never",
        "extremely",
        "barely",
        "sort-of",
        "kinda",
    ]);
    let lexicon = [
        "good", "GOOD", "bad", "death", "heart", "no", "kind", "fuck",
    ];
    let fillers = ["", "x ", "x y ", "x y z "];
    for first in &named {
        for lex in lexicon {
            for fill in fillers {
                assert_paths_agree(&format!("{first} {fill}{lex} x"));
                assert_paths_agree(&format!("{} {fill}{lex}", first.to_uppercase()));
            }
        }
        for second in &named {
            for lex in ["good", "bad", "GOOD"] {
                assert_paths_agree(&format!("{first} {second} {lex}"));
                assert_paths_agree(&format!("{first} {second} x {lex} x"));
                assert_paths_agree(&format!("{first} x {second} {lex}"));
            }
        }
    }
}

/// Texts without lexicon words, with what would change the scores of others (marks,
/// capitals, "but", boosters, negations), score as neutral, as the rules in full score
/// them.
#[test]
fn texts_without_lexicon_words_score_neutral() {
    let neutral = Sentiment {
        neu: 1.0,
        ..Sentiment::default()
    };
    for text in [
        "my flight",
        "WHY?? flight 123 !!!!!",
        "but BUT?!",
        "very not the FLIGHT!?",
        "@delta where is my bag???",
        "x",
    ] {
        assert_paths_agree(text);
        assert_eq!(polarity_scores(text), neutral, "{text:?}");
    }
}

/// Up to three ASCII punctuation characters, any of them.
const PUNCT_RUN: &str = "[!-/:-@\\[-`{-~]{0,3}";

/// Every token of one to three characters from letters, digits, DEL and the punctuation
/// the rules or the stripping treat specially, alone and between words: the strip
/// rule (three characters or more left), "n't", marks and capitals.
#[test]
fn fast_path_matches_exact_path_on_short_tokens() {
    let chars: Vec<char> = "aNt'!?.,:)(\"@-_\x7f9".chars().collect();
    let mut tokens = vec![String::new()];
    let mut last = tokens.clone();
    for _ in 0..3 {
        last = last
            .iter()
            .flat_map(|t| chars.iter().map(move |&c| format!("{t}{c}")))
            .collect();
        tokens.extend(last.iter().cloned());
    }
    for t in &tokens {
        assert_paths_agree(t);
        assert_paths_agree(&format!("GOOD {t} not {t}bad"));
    }
}

/// Words of 6 to 17 bytes with punctuation before and after them, so that what is
/// stripped and what is left fall on either side of the eight- and sixteen-byte
/// boundaries of the fast paths.
#[test]
fn fast_path_matches_exact_path_across_word_boundaries() {
    let words = [
        "abcdef",
        "abcdefg",
        "abcdefgh",
        "abcdefghi",
        "heartbreak",
        "heartbreaks",
        "unacceptable",
        "disappointed",
        "ABCDEFGHIJKLMN",
        "abcdefghijklmno",
        "abcdefghijklmnop",
        "can't-stand-it",
        "heartbreakingly",
        "http://t.co/AbCdEf",
        "HTTP://T.CO/ABCDEF",
        "HTTPS://T.CO/DON'T",
        "http://t.co/it's-fine",
        "@AmericanAirlines",
        "#WORSTSERVICEEVER",
        "wouldn'ttttttttttttt",
        "not-so-heartbreaking",
    ];
    for w in words {
        for before in ["", "@", "\"(", "#@!", "'"] {
            for after in ["", "!", "?!", ".,!", "'s", ")", "!!!?"] {
                let t = format!("{before}{w}{after}");
                assert_paths_agree(&t);
                assert_paths_agree(&format!("so {t} but {}", t.to_uppercase()));
                // the capitals of `t` decide whether GOOD is emphasised, its "n't"
                // whether "good" is negated
                assert_paths_agree(&format!("GOOD {t} good"));
            }
        }
    }
}

const SEPS: &[&str] = &[
    " ", " ", "  ", "\t", "\n", "\u{a0}", "\u{1c}", "", "\u{3000}", "\u{85}",
];

proptest::proptest! {
    #[test]
    fn fast_path_matches_exact_path_on_word_salad(
        parts in proptest::collection::vec((0..WORDS.len(), 0..SEPS.len()), 0..30)
    ) {
        let mut text = String::new();
        for (w, sep) in parts {
            text.push_str(WORDS[w]);
            text.push_str(SEPS[sep]);
        }
        assert_paths_agree(&text);
    }

    #[test]
    fn fast_path_matches_exact_path_on_any_text(text in "\\PC{0,80}") {
        assert_paths_agree(&text);
    }

    #[test]
    fn fast_path_matches_exact_path_on_punctuated_words(
        parts in proptest::collection::vec(
            (PUNCT_RUN, 0..WORDS.len(), PUNCT_RUN, 0..SEPS.len()),
            0..20,
        )
    ) {
        let mut text = String::new();
        for (before, w, after, sep) in parts {
            text.push_str(&before);
            text.push_str(WORDS[w]);
            text.push_str(&after);
            text.push_str(SEPS[sep]);
        }
        assert_paths_agree(&text);
    }

    #[test]
    fn fast_path_matches_exact_path_on_printable_ascii(
        text in "([!-~\x7f]{1,18}( |  |\t)|[!-~\x7f]{16,40} ){0,12}[!-~\x7f]{0,18}"
    ) {
        assert_paths_agree(&text);
    }

    #[test]
    fn ascii_lowercasing_matches_std(bytes in proptest::collection::vec(0u8..0x80, 8)) {
        let mut chunk = [0u8; 8];
        chunk.copy_from_slice(&bytes);
        let lowered = ascii_lower(u64::from_le_bytes(chunk)).to_le_bytes();
        proptest::prop_assert_eq!(lowered.to_vec(), bytes.to_ascii_lowercase());
    }

    #[test]
    fn floor_rint_matches_std(y in -1e5f64..1e5) {
        let (floor, rint) = floor_rint(y);
        proptest::prop_assert_eq!(floor.to_bits(), y.floor().to_bits());
        proptest::prop_assert_eq!(rint.to_bits(), y.round_ties_even().to_bits());
    }

    #[test]
    fn floor_rint_matches_std_on_halves_and_near_them(k in -200_000i64..200_000, ulps in -2i64..=2) {
        let half = k as f64 / 2.0;
        let y = f64::from_bits((half.to_bits() as i64 + ulps) as u64);
        let (floor, rint) = floor_rint(y);
        proptest::prop_assert_eq!(floor.to_bits(), y.floor().to_bits());
        proptest::prop_assert_eq!(rint.to_bits(), y.round_ties_even().to_bits());
    }
}

#[test]
fn floor_rint_keeps_signed_zeros_and_halves() {
    for y in [
        0.0,
        -0.0,
        -0.3,
        0.3,
        0.5,
        -0.5,
        1.5,
        -1.5,
        2.5,
        -2.5,
        1e300,
        -1e300,
        2_251_799_813_685_247.5,
        -2_251_799_813_685_247.5,
        2_251_799_813_685_248.0,
        f64::INFINITY,
        f64::NAN,
    ] {
        let (floor, rint) = floor_rint(y);
        assert_eq!(floor.to_bits(), y.floor().to_bits(), "{y}");
        assert_eq!(rint.to_bits(), y.round_ties_even().to_bits(), "{y}");
    }
}

#[test]
fn word_table_finds_every_lexicon_word() {
    let a = SentimentAnalyzer::embedded();
    // a few words are listed twice; the later line wins, as when parsing
    let mut expected = std::collections::HashMap::new();
    for line in VADER_LEXICON.lines().filter(|l| !l.is_empty()) {
        let mut cols = line.trim().split('\t');
        if let (Some(word), Some(mean)) = (cols.next(), cols.next()) {
            expected.insert(word, mean.trim().parse::<f64>().expect("mean"));
        }
    }
    assert_eq!(expected.len(), a.lexicon_len());
    for (word, mean) in expected {
        assert_eq!(a.word_valence(word), Some(mean), "{word}");
        // the tokeniser looks words up lowercased, so keys with capitals never match
        if word.is_ascii() && word == word.to_ascii_lowercase() {
            let b = word.as_bytes();
            let tok = a.token_ascii(word, 0, b.len(), &mut TextStats::default());
            if strip_punct_if_word(word) == word {
                assert_eq!(tok.lex(), Some(mean), "{word}");
            }
        }
    }
    assert_eq!(a.word_valence("not a word"), None);
    assert_eq!(a.word_valence(""), None);
}

#[test]
fn word_table_places_any_set_of_keys() {
    // keys that differ only in trailing NULs or by a byte past eight or sixteen, and one
    // past sixteen bytes (kept apart from the slots)
    let odd = [
        "a",
        "a\0",
        "a\0\0",
        "abcdefgh",
        "abcdefgh\0",
        "abcdefghijklmnop",
        "abcdefghijklmnoq",
        "abcdefghijklmnopq",
    ];
    for n in [0usize, 1, 2, 3, 100, 5000, 20000] {
        let keys: Vec<String> = (0..n)
            .map(|k| format!("w{k}"))
            .chain(odd.iter().map(|k| k.to_string()))
            .collect();
        let mut words = FxHashMap::default();
        for (k, key) in keys.iter().enumerate() {
            let mut info = WordInfo {
                valence: k as f64,
                code: (k % 34) as u16,
            };
            info.add_flags(HAS_LEX);
            words.insert(Box::from(key.as_str()), info);
        }
        let table = WordTable::new(words);
        for (k, key) in keys.iter().enumerate() {
            let info = table.get_bytes(key.as_bytes());
            assert_eq!(info.lex(), Some(k as f64), "{n}: {key:?}");
            assert_eq!(info.special(), Special((k % 34) as u8), "{n}: {key:?}");
        }
        let missing = [
            format!("w{n}"),
            String::new(),
            "a\0\0\0".into(),
            "abcdefghijklmnoz".into(),
        ];
        for key in missing {
            let info = table.get_bytes(key.as_bytes());
            assert_eq!(
                (info.flags(), info.special()),
                (0, Special::NONE),
                "{key:?}"
            );
        }
    }
}

#[test]
fn special_and_negation_words_are_resolved_at_look_up() {
    let a = SentimentAnalyzer::embedded();
    let info = |w: &str| a.words.get_bytes(w.as_bytes());
    for &(w, special) in SPECIAL_WORDS {
        assert_eq!(info(w).special(), special, "{w}");
    }
    for &w in NEGATION_WORDS {
        assert!(info(w).negated(), "{w}");
    }
    assert!(!info("good").negated());
    assert_eq!(info("good").special(), Special::NONE);
}

#[test]
fn only_ascii_letters_lowercase_to_n_apostrophe_t() {
    // what `token_non_ascii` relies on to find "n't" without lowercasing
    for c in (0..=0x10_ffff).filter_map(char::from_u32) {
        if c.to_lowercase().any(|l| matches!(l, 'n' | '\'' | 't')) {
            assert!(matches!(c, 'N' | 'n' | '\'' | 'T' | 't'), "{c:?}");
            assert_eq!(c.to_lowercase().count(), 1, "{c:?}");
        }
    }
}

#[test]
fn rounding_matches_python_ties_to_even() {
    assert_eq!(round_places(0.0625, 3), 0.062);
    assert_eq!(round_places(0.43119, 4), 0.4312);
    assert_eq!(round_places(-0.74239, 4), -0.7424);
}

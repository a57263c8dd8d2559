use super::*;

/// `token_span` by `py_words`, the slow way.
fn naive_span(text: &str, first: usize, last: usize) -> Option<(usize, usize)> {
    let tokens: Vec<&str> = py_words(text).collect();
    let offset = |t: &str| t.as_ptr() as usize - text.as_ptr() as usize;
    let (a, b) = (tokens.get(first)?, tokens.get(last)?);
    (first <= last).then(|| (offset(a), offset(b) + b.len()))
}

#[test]
fn token_spans_are_those_of_py_words() {
    for text in [
        "",
        " ",
        "a",
        "  leading and trailing  ",
        "why is\n\nmy   flight\tlate??",
        "exactly8 bytes!! and then some more words to cross chunks",
        "ctrl\x01byte\x1fsep \x0bvt",
        "non-ascii caf\u{e9}\u{a0}nbsp \u{3000}ideographic end",
    ] {
        let n = py_words(text).count();
        for first in 0..=n + 1 {
            for last in 0..=n + 1 {
                assert_eq!(
                    token_span(text, first, last),
                    naive_span(text, first, last),
                    "{text:?} {first}..={last}"
                );
            }
        }
    }
}

proptest::proptest! {
    #[test]
    fn token_spans_agree_on_any_text(
        text in "[ a-z\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f\\x01!?.]{0,40}|\\PC{0,30}",
        first in 0usize..12,
        len in 0usize..6,
    ) {
        proptest::prop_assert_eq!(
            token_span(&text, first, first + len),
            naive_span(&text, first, first + len)
        );
    }
}

fn norm(text: &str) -> Normalized {
    let mut n = Normalized::default();
    normalize_into(text, &mut n);
    n
}

#[test]
fn normalisation_replaces_handles_urls_and_digits() {
    let n = norm("@Delta WHY did flight 1234 leave?? http://t.co/abc Sooooo late");
    assert_eq!(n.padded, " @user why did flight 0 leave?? <url> sooo late ");
    let words: Vec<&str> = (0..n.words.len()).map(|i| n.word(i)).collect();
    assert_eq!(
        words,
        ["@user", "why", "did", "flight", "0", "leave", "?", "?", "<url>", "sooo", "late"]
    );
}

#[test]
fn word_hashes_are_the_fnv_hashes_of_the_words() {
    let n = norm("@Delta why?? my ORDER never arrived... http://t.co/x sooooo late 1234!");
    for (i, h) in n.hashes.iter().enumerate() {
        let mut uni = Fnv64::new(NS_UNIGRAM);
        uni.bytes(n.word_bytes(i));
        assert_eq!(h.unigram, uni.finish(), "{}", n.word(i));
        let bigram = (i > 0).then(|| {
            let mut b = Fnv64::new(NS_BIGRAM);
            b.bytes(n.word_bytes(i - 1));
            b.byte(0);
            b.bytes(n.word_bytes(i));
            b.finish()
        });
        assert_eq!(h.bigram, bigram.unwrap_or(0), "{}", n.word(i));
    }
}

#[test]
fn feature_counts_match_group_sizes() {
    let cfg = FeatureConfig::default();
    let n = norm("my order never arrived!");
    let (mut w, mut c) = (0, 0);
    for_each_feature(&n, &cfg, |g, _, _| match g {
        Group::Word => w += 1,
        Group::Char => c += 1,
    });
    assert_eq!((w, c), group_sizes(&n, &cfg));
}

#[test]
fn py_words_split_like_str_split() {
    for text in [
        "",
        " ",
        "a",
        "  a  b\tc\n\u{1c}d\u{1f}e\u{85}f\u{a0}g\u{3000}h\u{2028}",
        "\u{e9}t\u{e9} \u{1F620}x\u{200b}y",
        "x\u{0b}\u{0c}\ry",
    ] {
        let want: Vec<&str> = text
            .split(crate::vader::is_py_space)
            .filter(|s| !s.is_empty())
            .collect();
        assert_eq!(py_words(text).collect::<Vec<_>>(), want, "{text:?}");
    }
}

/// padded text, word spans, (unigram, bigram) hashes
type Parts = (String, Vec<(u32, u32)>, Vec<(u64, u64)>);

/// The general path alone: every token through `push_token`, then split.
fn norm_token_by_token(text: &str) -> Parts {
    let mut b = Builder {
        padded: vec![b' '],
        len: 1,
        split: Splitter {
            words: Vec::new(),
            hashes: Vec::new(),
            prev_pre: Fnv64::new(NS_BIGRAM),
        },
    };
    for raw in py_words(text) {
        if b.len > 1 {
            b.padded.push(b' ');
        }
        let from = b.padded.len();
        push_token(raw, &mut b.padded);
        b.len = b.padded.len();
        b.split_words(from);
    }
    b.padded.push(b' ');
    let (words, hashes) = b.split.finish();
    (String::from_utf8(b.padded).unwrap(), words, pairs(&hashes))
}

/// [`normalize_into`] (the plain pass where it applies), as [`Parts`].
fn norm_parts(text: &str) -> Parts {
    let n = norm(text);
    let hashes = pairs(&n.hashes);
    (n.padded, n.words, hashes)
}

fn pairs(hashes: &[WordHashes]) -> Vec<(u64, u64)> {
    hashes.iter().map(|h| (h.unigram, h.bigram)).collect()
}

proptest::proptest! {
    // 4000 cases unless PROPTEST_CASES says (an explicit count would override it)
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(4000)
    ))]
    /// The plain pass against the general path, on texts mixing both: letter runs across
    /// the eight-byte chunks in mixed case, repeats of every length, digit runs, handles
    /// and URLs with what may follow them, every kind of ASCII separator, control bytes, the
    /// non-ASCII marks the plain pass takes (and runs of them) and some it does not.
    #[test]
    fn plain_token_fast_path_matches_the_general_path(
        text in "([a-zA-Z0-9 @&#?!.,'_:/<>\\^`{~\t\n\x0b\x0c\r\x1c\x1f\x00\x01\x7f-]|\u{a0}|\u{e9}|\u{2019}|\u{1F620}|[\u{2018}\u{201c}\u{2026}\u{fffd}\u{2028}]{1,4}|[hH][tT][tT][pP][sS]?://|[wW]{3}\\.|&amp;|&gt;|&lt;|&amp;[gl]t;|[aA]{1,6}|[oO]{1,5}|0{1,4}|[!?]{1,5}|[a-zA-Z]{5,19}|@[a-zA-Z0-9_]{0,12}){0,40}"
    ) {
        proptest::prop_assert_eq!(norm_parts(&text), norm_token_by_token(&text));
    }
}

/// The plain pass tells a run of letters ending at a space, and takes the byte after a run,
/// from the chunk the run was found in: runs of every length across the chunks, repeats
/// cut at the end of a chunk, then each kind of byte that may end them (or the text).
#[test]
fn letter_runs_end_alike_on_both_paths() {
    // what may follow a run, `|`-separated (the first is nothing)
    let ends = "| |  x|\t|\n y|,|, z|?|!!|0|00 1|'s|_|@|\u{2019}s|\u{2026}|&amp;|&gt;x|\u{e9}\
                    |\u{a0}w|\u{1F620}|\x00";
    for len in 1..=17 {
        for letters in [
            "abcdefghijklmnopq",
            "ABCDEFGHIJKLMNOPQ",
            "aaaaaaaaaaaaaaaaa",
        ] {
            let run = &letters[..len];
            for end in ends.split('|') {
                for text in [format!("{run}{end}"), format!("x {run}{end} tail")] {
                    assert_eq!(norm_parts(&text), norm_token_by_token(&text), "{text:?}");
                }
            }
        }
    }
}

proptest::proptest! {
    #[test]
    fn is_url_matches_the_prefixes_in_any_case(
        text in "([hHtTpPsSwW:/.\x1a\x0f]|http|HTTP|://|www|\u{e9}){0,6}"
    ) {
        let bytes = text.as_bytes();
        let want = ["http://", "https://", "www."].iter().any(|p| {
            bytes.len() >= p.len() && bytes[..p.len()].eq_ignore_ascii_case(p.as_bytes())
        });
        proptest::prop_assert_eq!(is_url(bytes), want);
    }
}

#[test]
fn unicode_separators_split_like_ascii_ones() {
    for (text, want) in [
        ("a\u{a0}", " a "),
        ("\u{3000}a b\u{2028}", " a b "),
        ("a\u{85}\u{a0}b \u{a0}", " a b "),
        ("\u{a0}", "  "),
    ] {
        assert_eq!(norm(text).padded, want, "{text:?}");
    }
}

#[test]
fn empty_text_has_no_words() {
    let n = norm("   ");
    assert!(n.words.is_empty());
    assert_eq!(n.padded, "  ");
}

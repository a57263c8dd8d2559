//! Prints every score of a varied corpus, one `Debug` line and one JSON line per text, so an
//! optimisation of the scoring path can be checked byte for byte against the code before it:
//!
//! ```text
//! cargo run --release -p outcry-scoring --example dump_scores -- ../shared/data/complaints/train.csv > before.txt
//! # change the code
//! cargo run --release -p outcry-scoring --example dump_scores -- ../shared/data/complaints/train.csv > after.txt
//! cmp before.txt after.txt
//! ```
//!
//! The corpus: the training tweets, the VADER reference fixtures, edge cases, and upper-cased,
//! doubled, emoji-decorated and repeated variants (the last with placeholders and long words,
//! for the top terms), with author and engagement fields varied per text.

use std::io::Write as _;

use outcry_scoring::{MentionInput, Scorer};

const FIXTURES: &str = include_str!("../tests/fixtures/vader_reference.jsonl");

const EDGE_CASES: &[&str] = &[
    "",
    " ",
    "?",
    "!!!",
    "??? !!! ?!?!",
    "a",
    "ok!",
    ":) :( :-D <3",
    "NOT GOOD AT ALL!!!",
    "not bad, but not great either",
    "http://t.co/abc www.example.com HTTPS://X.Y",
    "@a @b @c",
    "@brand: why?? @support!",
    "sooooo baaaaad 1234567 12 34",
    "&amp; &lt;3 &gt;:( AT&T",
    "kind of good, sort of bad, just enough",
    "the shit the bomb bad ass yeah right kiss of death",
    "at least it works; very least; least good",
    "never so good, never this bad, without doubt great",
    "no problem no good no or nor bad",
    "\u{1F620}\u{1F620}\u{1F60D}x\u{1F60D} y\u{1F620}",
    "caf\u{e9} na\u{ef}ve \u{c9}T\u{c9} \u{2019}quoted\u{2019} \u{201c}dq\u{201d}",
    "tab\tsep\nnew\u{a0}nbsp\u{3000}ideo\u{2028}ls\u{1c}fs",
    "I'm calling my lawyer, this is the third time I've asked for a refund! your agent is an idiot",
    "app is down again, cannot log in, outage since 9am. cancel my subscription",
    "the battery caught fire and burned my hand",
];

/// Words longer than the eight and sixteen bytes some code paths of the top terms cover.
const LONG_WORDS: &[&str] = &[
    "customerservice",
    "customerservices",
    "unacceptableeeeee",
    "refundrefundrefundrefund",
    "abcdefgh",
    "abcdefghi",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "../shared/data/complaints/train.csv".into());
    let examples = outcry_scoring::data::read_examples(std::path::Path::new(&path))?;
    let mut texts: Vec<String> = examples.into_iter().map(|e| e.text).collect();
    for line in FIXTURES.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line)?;
        if let Some(t) = v["text"].as_str() {
            texts.push(t.to_string());
        }
    }
    texts.extend(EDGE_CASES.iter().map(|s| s.to_string()));
    let base = texts.len();
    for i in (0..base).step_by(7) {
        texts.push(texts[i].to_uppercase());
        texts.push(format!("{} {}", texts[i], texts[(i * 31 + 5) % base]));
        texts.push(format!("\u{1F620} {}\u{1F60D}!", texts[i]));
    }
    // after the others, so that their lines stay as they were: for the top terms, every word
    // twice, placeholders, and words past 8 and 16 bytes
    for i in (0..base).step_by(7) {
        texts.push(format!(
            "@a {} http://t.co/{i} {} ?! {} @b",
            texts[i],
            texts[i],
            LONG_WORDS[i % LONG_WORDS.len()]
        ));
    }
    let scorer = Scorer::from_embedded()?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for (i, text) in texts.iter().enumerate() {
        let i = i as u64;
        let score = scorer.score(&MentionInput {
            text,
            author_followers: (i * 7919) % 2_000_000,
            author_verified: i.is_multiple_of(11),
            likes: (i * 13) % 5000,
            reposts: (i * 3) % 700,
            replies: i % 90,
            quotes: i % 17,
        });
        writeln!(out, "{score:?}")?;
        writeln!(out, "{}", serde_json::to_string(&score)?)?;
    }
    Ok(())
}

//! The words VADER's rules single out: their codes and flags, negations and boosters.

use super::*;

/// The words the rules single out by name. Resolving them once per token lets the rules
/// compare one byte where the reference compares strings (each needs one code because the
/// rules test for it at some position, see [`Ctx`]). A byte rather than an enum, so that a
/// look-up can clear it with a mask (see [`WordTable::find`]); 0 is no such word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Special(pub(super) u8);

impl Special {
    pub(super) const NONE: Special = Special(0);
    pub(super) const NO: Special = Special(1);
    pub(super) const OR: Special = Special(2);
    pub(super) const NOR: Special = Special(3);
    pub(super) const NEVER: Special = Special(4);
    pub(super) const SO: Special = Special(5);
    pub(super) const THIS: Special = Special(6);
    pub(super) const WITHOUT: Special = Special(7);
    pub(super) const DOUBT: Special = Special(8);
    pub(super) const LEAST: Special = Special(9);
    pub(super) const AT: Special = Special(10);
    pub(super) const VERY: Special = Special(11);
    pub(super) const KIND: Special = Special(12);
    pub(super) const OF: Special = Special(13);
    pub(super) const SORT: Special = Special(14);
    pub(super) const JUST: Special = Special(15);
    pub(super) const ENOUGH: Special = Special(16);
    pub(super) const BUT: Special = Special(17);
    pub(super) const THE: Special = Special(18);
    pub(super) const SHIT: Special = Special(19);
    pub(super) const BOMB: Special = Special(20);
    pub(super) const TO: Special = Special(21);
    pub(super) const DIE: Special = Special(22);
    pub(super) const FOR: Special = Special(23);
    pub(super) const BAD: Special = Special(24);
    pub(super) const ASS: Special = Special(25);
    pub(super) const BUS: Special = Special(26);
    pub(super) const STOP: Special = Special(27);
    pub(super) const YEAH: Special = Special(28);
    pub(super) const RIGHT: Special = Special(29);
    pub(super) const KISS: Special = Special(30);
    pub(super) const DEATH: Special = Special(31);
    pub(super) const BEATING: Special = Special(32);
    pub(super) const HEART: Special = Special(33);
}

pub(super) const SPECIAL_WORDS: &[(&str, Special)] = &[
    ("no", Special::NO),
    ("or", Special::OR),
    ("nor", Special::NOR),
    ("never", Special::NEVER),
    ("so", Special::SO),
    ("this", Special::THIS),
    ("without", Special::WITHOUT),
    ("doubt", Special::DOUBT),
    ("least", Special::LEAST),
    ("at", Special::AT),
    ("very", Special::VERY),
    ("kind", Special::KIND),
    ("of", Special::OF),
    ("sort", Special::SORT),
    ("just", Special::JUST),
    ("enough", Special::ENOUGH),
    ("but", Special::BUT),
    ("the", Special::THE),
    ("shit", Special::SHIT),
    ("bomb", Special::BOMB),
    ("to", Special::TO),
    ("die", Special::DIE),
    ("for", Special::FOR),
    ("bad", Special::BAD),
    ("ass", Special::ASS),
    ("bus", Special::BUS),
    ("stop", Special::STOP),
    ("yeah", Special::YEAH),
    ("right", Special::RIGHT),
    ("kiss", Special::KISS),
    ("death", Special::DEATH),
    ("beating", Special::BEATING),
    ("heart", Special::HEART),
];

/// What the rules need to know about one word; 16 bytes, as it is copied into every token.
/// Tokens are `WordInfo`s too (see [`Token`]). Two fields rather than three, so that a
/// function returns one in registers: a three-field struct comes back through memory, built
/// there field by field and then read back whole, which the CPU cannot forward from the
/// stores (a stall of a dozen cycles a token).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct WordInfo {
    /// the lexicon valence when the flags have [`HAS_LEX`]
    pub(super) valence: f64,
    /// the [`Special`] code in the low byte, the flags in the high one
    pub(super) code: u16,
}

/// [`WordInfo::flags`]: in the lexicon
pub(super) const HAS_LEX: u8 = 1;
/// a booster (+0.293)
pub(super) const BOOST_INCR: u8 = 2;
/// a dampener (-0.293)
pub(super) const BOOST_DECR: u8 = 4;
/// a negation word or a word containing "n't" (the reference's `negated` test)
pub(super) const NEGATED: u8 = 8;
/// Python's `isupper` of the token (tokens only)
pub(super) const ALL_CAPS: u8 = 16;
/// "but", which the tokeniser notes like the lexicon words so that the rules need not look
/// at every token
pub(super) const BUT: u8 = 32;
/// one of the words the rules look for before a lexicon word when no booster or negation is
/// there (see [`LOOKS_BACK`])
pub(super) const CONTEXT: u8 = 64;
/// The flags of the words that can change the sentiment of a lexicon word up to three tokens
/// after them: boosters, negations and the [`CONTEXT`] words. A lexicon word with none of them
/// in the three tokens before it, and that is neither a booster nor a word the rules name,
/// keeps its valence (with the emphasis of capitals), which spares most lexicon words the
/// rules' dozen tests of their neighbours, each a branch.
pub(super) const LOOKS_BACK: u8 = BOOST_INCR | BOOST_DECR | NEGATED | CONTEXT;

/// The words the rules look for before a lexicon word, besides the boosters and negations
/// (see [`Ctx::valence`]): "no" one to three tokens before it, "so" or "this" one or two
/// before, "least" just before, and the words that end the idioms and the phrases that
/// dampen ("the shit", "bad ass", "to die for", "kiss of death", "kind of", "just enough"),
/// since each idiom needs its last word or the one before it in those three tokens. The
/// words that only start idioms ("the", "to", "for", "kind") or are only looked for next to
/// one of these ("at", "very", "or", "doubt") are left out: most of them are common, and
/// they change nothing alone ("never" and "without", also looked for next to these, are
/// negations, so their flag is in [`LOOKS_BACK`] anyway).
pub(super) const CONTEXT_WORDS: &[Special] = &[
    Special::NO,
    Special::SO,
    Special::THIS,
    Special::LEAST,
    Special::SHIT,
    Special::BOMB,
    Special::ASS,
    Special::STOP,
    Special::RIGHT,
    Special::HEART,
    Special::DIE,
    Special::OF,
    Special::ENOUGH,
];

impl WordInfo {
    #[inline]
    pub(super) fn flags(&self) -> u8 {
        (self.code >> 8) as u8
    }

    #[inline]
    pub(super) fn special(&self) -> Special {
        Special(self.code as u8)
    }

    /// Sets `flags` (without a branch when `flags` is computed).
    #[inline]
    pub(super) fn add_flags(&mut self, flags: u8) {
        self.code |= u16::from(flags) << 8;
    }

    #[inline]
    pub(super) fn lex(&self) -> Option<f64> {
        (self.flags() & HAS_LEX != 0).then_some(self.valence)
    }

    #[inline]
    pub(super) fn booster(&self) -> Option<f64> {
        if self.flags() & BOOST_INCR != 0 {
            Some(B_INCR)
        } else if self.flags() & BOOST_DECR != 0 {
            Some(B_DECR)
        } else {
            None
        }
    }

    #[inline]
    pub(super) fn negated(&self) -> bool {
        self.flags() & NEGATED != 0
    }

    #[inline]
    pub(super) fn all_caps(&self) -> bool {
        self.flags() & ALL_CAPS != 0
    }
}

/// A token: the [`WordInfo`] of its lowercase word (no flags and no special code when not in
/// the table), plus [`ALL_CAPS`], and [`NEGATED`] for words that contain "n't".
pub(super) type Token = WordInfo;

/// The token of a word whose look-up gave `info`. Whether the word contains "n't" is asked
/// whatever the look-up found: table entries that contain it have [`NEGATED`] already, so
/// the answer only matters for misses, but asking it spares a branch on the look-up.
#[inline]
pub(super) fn token(info: WordInfo, all_caps: bool, contains_nt: impl FnOnce() -> bool) -> Token {
    let mut t = info;
    if contains_nt() {
        t.add_flags(NEGATED);
    }
    // without a branch: which tokens are in capitals is unpredictable
    t.add_flags(u8::from(all_caps) * ALL_CAPS);
    t
}

pub(super) fn negated(lower: &str) -> bool {
    is_negation_word(lower) || lower.contains("n't")
}

/// VADER's negation words.
pub fn is_negation_word(lower: &str) -> bool {
    NEGATION_WORDS.contains(&lower)
}

pub(super) const NEGATION_WORDS: &[&str] = &[
    "aint",
    "arent",
    "cannot",
    "cant",
    "couldnt",
    "darent",
    "didnt",
    "doesnt",
    "ain't",
    "aren't",
    "can't",
    "couldn't",
    "daren't",
    "didn't",
    "doesn't",
    "dont",
    "hadnt",
    "hasnt",
    "havent",
    "isnt",
    "mightnt",
    "mustnt",
    "neither",
    "don't",
    "hadn't",
    "hasn't",
    "haven't",
    "isn't",
    "mightn't",
    "mustn't",
    "neednt",
    "needn't",
    "never",
    "none",
    "nope",
    "nor",
    "not",
    "nothing",
    "nowhere",
    "oughtnt",
    "shant",
    "shouldnt",
    "uhuh",
    "wasnt",
    "werent",
    "oughtn't",
    "shan't",
    "shouldn't",
    "uh-uh",
    "wasn't",
    "weren't",
    "without",
    "wont",
    "wouldnt",
    "won't",
    "wouldn't",
    "rarely",
    "seldom",
    "despite",
];

pub(super) const BOOSTER_INCR: &[&str] = &[
    "absolutely",
    "amazingly",
    "awfully",
    "completely",
    "considerable",
    "considerably",
    "decidedly",
    "deeply",
    "effing",
    "enormous",
    "enormously",
    "entirely",
    "especially",
    "exceptional",
    "exceptionally",
    "extreme",
    "extremely",
    "fabulously",
    "flipping",
    "flippin",
    "frackin",
    "fracking",
    "fricking",
    "frickin",
    "frigging",
    "friggin",
    "fully",
    "fuckin",
    "fucking",
    "fuggin",
    "fugging",
    "greatly",
    "hella",
    "highly",
    "hugely",
    "incredible",
    "incredibly",
    "intensely",
    "major",
    "majorly",
    "more",
    "most",
    "particularly",
    "purely",
    "quite",
    "really",
    "remarkably",
    "so",
    "substantially",
    "thoroughly",
    "total",
    "totally",
    "tremendous",
    "tremendously",
    "uber",
    "unbelievably",
    "unusually",
    "utter",
    "utterly",
    "very",
];
pub(super) const BOOSTER_DECR: &[&str] = &[
    "almost",
    "barely",
    "hardly",
    "kinda",
    "kindof",
    "kind-of",
    "less",
    "little",
    "marginal",
    "marginally",
    "occasional",
    "occasionally",
    "partly",
    "scarce",
    "scarcely",
    "slight",
    "slightly",
    "somewhat",
    "sorta",
    "sortof",
    "sort-of",
];

/// Single-word boosters (+0.293) and dampeners (-0.293).
pub(super) fn booster_flag(lower: &str) -> u8 {
    if BOOSTER_INCR.contains(&lower) {
        BOOST_INCR
    } else if BOOSTER_DECR.contains(&lower) {
        BOOST_DECR
    } else {
        0
    }
}

pub(super) fn booster_phrase(a: Special, b: Special) -> Option<f64> {
    match (a, b) {
        (Special::JUST, Special::ENOUGH)
        | (Special::KIND, Special::OF)
        | (Special::SORT, Special::OF) => Some(B_DECR),
        _ => None,
    }
}

pub(super) fn special_case(words: &[Special]) -> Option<f64> {
    use Special as S;
    match words {
        [S::THE, S::SHIT] | [S::THE, S::BOMB] | [S::TO, S::DIE, S::FOR] => Some(3.0),
        [S::BAD, S::ASS] => Some(1.5),
        [S::BUS, S::STOP] => Some(0.0),
        [S::YEAH, S::RIGHT] => Some(-2.0),
        [S::KISS, S::OF, S::DEATH] => Some(-1.5),
        [S::BEATING, S::HEART] => Some(3.5),
        _ => None,
    }
}

/// The word table's contents: the lexicon, the boosters, and the words the rules name.
pub(super) fn word_infos(lex: FxHashMap<Box<str>, f64>) -> FxHashMap<Box<str>, WordInfo> {
    let mut words: FxHashMap<Box<str>, WordInfo> = lex
        .into_iter()
        .map(|(w, v)| {
            let mut info = WordInfo {
                valence: v,
                code: 0,
            };
            info.add_flags(HAS_LEX);
            (w, info)
        })
        .collect();
    for &w in BOOSTER_INCR
        .iter()
        .chain(BOOSTER_DECR)
        .chain(NEGATION_WORDS)
    {
        words.entry(Box::from(w)).or_default();
    }
    for &(w, special) in SPECIAL_WORDS {
        let info = words.entry(Box::from(w)).or_default();
        // the special words are distinct, so no code is there yet
        info.code |= u16::from(special.0);
        if special == Special::BUT {
            info.add_flags(BUT);
        }
        if CONTEXT_WORDS.contains(&special) {
            info.add_flags(CONTEXT);
        }
    }
    for (w, info) in &mut words {
        info.add_flags(booster_flag(w));
        if negated(w) {
            info.add_flags(NEGATED);
        }
    }
    words
}

//! VADER's rules over a text's tokens: boosters, negation, idioms, "least", "but", and the
//! sums and normalisation into the four scores.

use super::*;

pub(super) struct Ctx<'c> {
    pub(super) toks: &'c [Token],
    pub(super) cap_diff: bool,
}

impl Ctx<'_> {
    #[inline]
    pub(super) fn is(&self, i: usize, special: Special) -> bool {
        self.toks.get(i).is_some_and(|t| t.special() == special)
    }

    #[inline]
    pub(super) fn special(&self, i: usize) -> Special {
        self.toks.get(i).map_or(Special::NONE, WordInfo::special)
    }

    #[inline]
    pub(super) fn negated(&self, i: usize) -> bool {
        self.toks.get(i).is_some_and(WordInfo::negated)
    }

    #[inline]
    pub(super) fn has_lex(&self, i: usize) -> bool {
        self.toks.get(i).is_some_and(|t| t.flags() & HAS_LEX != 0)
    }

    /// The sentiment of token `i` before the "but" rule: boosters and "kind" of "kind of"
    /// count zero themselves.
    #[inline]
    pub(super) fn sentiment(&self, i: usize) -> f64 {
        let Some(tok) = self.toks.get(i) else {
            return 0.0;
        };
        // words outside the lexicon count zero whatever they are, so test that first
        if tok.flags() & HAS_LEX == 0
            || tok.booster().is_some()
            || (tok.special() == Special::KIND && self.is(i + 1, Special::OF))
        {
            return 0.0;
        }
        self.valence(i, tok, tok.valence)
    }

    /// [`Ctx::sentiment`] of a lexicon word, without the rules when nothing in the three
    /// tokens before it can change its valence (see [`LOOKS_BACK`]) and it is no booster and
    /// no word the rules name. Those tokens are read without a branch on where the text
    /// starts (a token before the first counts as none).
    #[inline]
    pub(super) fn sentiment_fast(&self, i: usize) -> f64 {
        let Some(tok) = self.toks.get(i) else {
            return 0.0;
        };
        let code = |j: usize| self.toks.get(j).map_or(0, |t| t.code);
        let before = code(i.wrapping_sub(1)) | code(i.wrapping_sub(2)) | code(i.wrapping_sub(3));
        let own = u16::from(BOOST_INCR | BOOST_DECR) << 8 | 0xff;
        if (before >> 8) as u8 & LOOKS_BACK != 0 || tok.code & own != 0 {
            return self.sentiment(i);
        }
        // the valence as [`Ctx::valence`] leaves it with no booster, negation or idiom
        // about: the zeros it adds for the missing boosters change nothing but a -0.0 (no
        // embedded valence is zero), and a -0.0 sentiment scores as 0.0 does
        let v = tok.valence;
        if tok.all_caps() && self.cap_diff {
            return if v > 0.0 { v + C_INCR } else { v - C_INCR };
        }
        v
    }

    pub(super) fn valence(&self, i: usize, tok: &Token, base: f64) -> f64 {
        let n = self.toks.len();
        let mut v = base;
        // "no" directly before a lexicon word negates that word instead of counting itself
        if tok.special() == Special::NO && i + 1 < n && self.has_lex(i + 1) {
            v = 0.0;
        }
        if (i > 0 && self.is(i - 1, Special::NO))
            || (i > 1 && self.is(i - 2, Special::NO))
            || (i > 2
                && self.is(i - 3, Special::NO)
                && matches!(self.special(i - 1), Special::OR | Special::NOR))
        {
            v = base * N_SCALAR;
        }
        if tok.all_caps() && self.cap_diff {
            if v > 0.0 {
                v += C_INCR;
            } else {
                v -= C_INCR;
            }
        }
        for start_i in 0..3 {
            if i > start_i && !self.has_lex(i - start_i - 1) {
                let mut s = self.scalar_inc_dec(i - start_i - 1, v);
                if start_i == 1 && s != 0.0 {
                    s *= 0.95;
                }
                if start_i == 2 && s != 0.0 {
                    s *= 0.9;
                }
                v += s;
                v = self.negation_check(v, start_i, i);
                if start_i == 2 {
                    v = self.special_idioms(v, i);
                }
            }
        }
        self.least_check(v, i)
    }

    pub(super) fn scalar_inc_dec(&self, j: usize, valence: f64) -> f64 {
        let Some(tok) = self.toks.get(j) else {
            return 0.0;
        };
        let Some(b) = tok.booster() else {
            return 0.0;
        };
        let mut s = if valence < 0.0 { -b } else { b };
        if tok.all_caps() && self.cap_diff {
            if valence > 0.0 {
                s += C_INCR;
            } else {
                s -= C_INCR;
            }
        }
        s
    }

    pub(super) fn negation_check(&self, v: f64, start_i: usize, i: usize) -> f64 {
        let so_this = |j: usize| matches!(self.special(j), Special::SO | Special::THIS);
        match start_i {
            0 => {
                if self.negated(i - 1) {
                    return v * N_SCALAR;
                }
            }
            1 => {
                if self.is(i - 2, Special::NEVER) && so_this(i - 1) {
                    return v * 1.25;
                } else if self.is(i - 2, Special::WITHOUT) && self.is(i - 1, Special::DOUBT) {
                    return v;
                } else if self.negated(i - 2) {
                    return v * N_SCALAR;
                }
            }
            _ => {
                if (self.is(i - 3, Special::NEVER) && so_this(i - 2)) || so_this(i - 1) {
                    return v * 1.25;
                } else if self.is(i - 3, Special::WITHOUT)
                    && (self.is(i - 2, Special::DOUBT) || self.is(i - 1, Special::DOUBT))
                {
                    return v;
                } else if self.negated(i - 3) {
                    return v * N_SCALAR;
                }
            }
        }
        v
    }

    /// only called with i >= 3
    pub(super) fn special_idioms(&self, mut v: f64, i: usize) -> f64 {
        let n = self.toks.len();
        let (w3, w2, w1, w0) = (
            self.special(i - 3),
            self.special(i - 2),
            self.special(i - 1),
            self.special(i),
        );
        let seqs: [&[Special]; 5] = [
            &[w1, w0],
            &[w2, w1, w0],
            &[w2, w1],
            &[w3, w2, w1],
            &[w3, w2],
        ];
        for seq in seqs {
            if let Some(s) = special_case(seq) {
                v = s;
                break;
            }
        }
        if n - 1 > i {
            if let Some(s) = special_case(&[w0, self.special(i + 1)]) {
                v = s;
            }
        }
        if n - 1 > i + 1 {
            if let Some(s) = special_case(&[w0, self.special(i + 1), self.special(i + 2)]) {
                v = s;
            }
        }
        // multi-word dampeners ("kind of", "sort of", "just enough") before the word
        for (a, b) in [(w3, w2), (w2, w1)] {
            if let Some(bv) = booster_phrase(a, b) {
                v += bv;
            }
        }
        v
    }

    pub(super) fn least_check(&self, v: f64, i: usize) -> f64 {
        if i > 0 && !self.has_lex(i - 1) && self.is(i - 1, Special::LEAST) {
            if i > 1 {
                if !matches!(self.special(i - 2), Special::AT | Special::VERY) {
                    return v * N_SCALAR;
                }
                return v;
            }
            return v * N_SCALAR;
        }
        v
    }
}

/// The reference rescales each value found at its *first* equal position, so repeated
/// values are rescaled in place repeatedly; reproduced as is to agree with it. `bi` is the
/// index of the first "but".
///
/// Only the lexicon words' sentiments are passed: the other tokens' are zero, a nonzero
/// value never equals them, and rescaling a zero leaves a zero (the sign of a zero does not
/// reach the scores), so skipping them changes nothing.
pub(super) fn but_check(sentiments: &mut [(usize, f64)], bi: usize) {
    for k in 0..sentiments.len() {
        let value = sentiments[k].1;
        let Some(first) = sentiments.iter_mut().find(|(_, x)| *x == value) else {
            continue;
        };
        if first.0 < bi {
            first.1 = value * 0.5;
        } else if first.0 > bi {
            first.1 = value * 1.5;
        }
    }
}

/// The sums the scores are made of, added in token order over the lexicon words' sentiments.
/// The other tokens only count as neutral: adding their zeros would not change any sum.
#[derive(Default)]
pub(super) struct Sums {
    pub(super) sum: f64,
    pub(super) pos: f64,
    pub(super) neg: f64,
    /// lexicon words whose sentiment is zero
    pub(super) zeros: usize,
}

impl Sums {
    #[inline]
    pub(super) fn add(&mut self, s: f64) {
        self.sum += s;
        // adding zeros rather than branching on the sign, a coin toss: neither sum is ever
        // -0.0, the one value that adding 0.0 changes
        self.pos += if s > 0.0 { s + 1.0 } else { 0.0 };
        self.neg += if s < 0.0 { s - 1.0 } else { 0.0 };
        self.zeros += usize::from(s == 0.0);
    }

    /// The scores, with `others` tokens besides the lexicon words and the punctuation
    /// emphasis `punct`.
    pub(super) fn scores(self, others: usize, punct: f64) -> Sentiment {
        let Sums {
            sum,
            mut pos,
            mut neg,
            zeros,
        } = self;
        // the emphasis goes the way of the sum, and of the bigger of the two sides; as
        // products rather than branches (coin tosses too): `punct` times 1, -1 or 0 is
        // exactly `punct`, `-punct` or 0.0, and adding 0.0 changes none of these sums, which
        // are never -0.0
        let sign = f64::from(i8::from(sum > 0.0) - i8::from(sum < 0.0));
        let compound = normalize(sum + punct * sign);
        let (more_pos, more_neg) = (pos > neg.abs(), pos < neg.abs());
        pos += punct * f64::from(u8::from(more_pos));
        neg -= punct * f64::from(u8::from(more_neg));
        let neu_count = (others + zeros) as f64;
        let total = pos + neg.abs() + neu_count;
        if total == 0.0 {
            return Sentiment {
                compound: round_places(compound, 4),
                ..Sentiment::default()
            };
        }
        Sentiment {
            compound: round_places(compound, 4),
            pos: round_places((pos / total).abs(), 3),
            neu: round_places((neu_count / total).abs(), 3),
            neg: round_places((neg / total).abs(), 3),
        }
    }
}

pub(super) fn punctuation_emphasis(stats: &TextStats) -> f64 {
    let (ep, qm) = (stats.exclamations, stats.questions);
    let ep_amp = ep.min(4) as f64 * 0.292;
    let qm_amp = match qm {
        0 | 1 => 0.0,
        2 | 3 => qm as f64 * 0.18,
        _ => 0.96,
    };
    ep_amp + qm_amp
}

pub(super) fn normalize(score: f64) -> f64 {
    (score / (score * score + ALPHA).sqrt()).clamp(-1.0, 1.0)
}

/// Rounds like Python's `round(x, places)` (nearest, ties to even on the exact value).
#[inline]
pub(super) fn round_places(x: f64, places: i32) -> f64 {
    // the powers the callers use, exactly as `powi` computes them, without the call
    let scale = match places {
        3 => 1e3,
        4 => 1e4,
        _ => 10f64.powi(places),
    };
    let y = x * scale;
    // the nearest integer away from a half, where ties to even and away from zero agree
    let (floor, nearest) = floor_rint(y);
    let frac = y - floor;
    if (frac - 0.5).abs() < 1e-6 {
        return round_near_tie(x, places, nearest / scale);
    }
    nearest / scale
}

/// Near a tie the product's rounding error matters: defer to exact decimal formatting.
#[cold]
#[inline(never)]
pub(super) fn round_near_tie(x: f64, places: i32, fallback: f64) -> f64 {
    format!("{:.*}", places as usize, x)
        .parse()
        .unwrap_or(fallback)
}

/// `(y.floor(), y.round_ties_even())`, signed zeros included, without the libm calls the
/// baseline x86-64 target makes for them, and without branches (which side of a half `y`
/// falls is a coin toss) or conversions to integers: below 2^51, adding 1.5 * 2^52 leaves
/// no bits for a fraction, so adding it and taking it away again rounds `y` to the nearest
/// integer, ties to even. The callers' values are at most 10^4.
#[inline]
pub(super) fn floor_rint(y: f64) -> (f64, f64) {
    pub(super) const SHIFTER: f64 = 6_755_399_441_055_744.0;
    // one test, which NaN fails too
    if y.abs() < 2_251_799_813_685_248.0 {
        // the sign of `y` gives the zeros theirs
        let rint = ((y + SHIFTER) - SHIFTER).copysign(y);
        let floor = (rint - f64::from(u8::from(rint > y))).copysign(y);
        return (floor, rint);
    }
    (y.floor(), y.round_ties_even())
}

/// Python's `str.isspace` for one character: Unicode White_Space plus the ASCII
/// information separators (0x1c-0x1f), which `str.split()` also splits on.
#[inline]
pub(crate) fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

pub(super) fn strip_punct_if_word(token: &str) -> &str {
    // ASCII punctuation is one byte and never part of a multi-byte character, so trimming
    // bytes is `trim_matches(|c: char| c.is_ascii_punctuation())`
    let b = token.as_bytes();
    let (mut s, mut e) = (0, b.len());
    while s < e && b[s].is_ascii_punctuation() {
        s += 1;
    }
    while e > s && b[e - 1].is_ascii_punctuation() {
        e -= 1;
    }
    let stripped = token.get(s..e).unwrap_or(token);
    if stripped.chars().nth(2).is_none() {
        token
    } else {
        stripped
    }
}

pub(super) fn is_titlecase(c: char) -> bool {
    matches!(c as u32,
        0x01C5 | 0x01C8 | 0x01CB | 0x01F2 | 0x1F88..=0x1F8F | 0x1F98..=0x1F9F | 0x1FA8..=0x1FAF
        | 0x1FBC | 0x1FCC | 0x1FFC)
}

/// Python's `str.isupper`: at least one cased character and no lowercase or titlecase one.
pub(super) fn py_isupper(word: &str) -> bool {
    if word.is_ascii() {
        let b = word.as_bytes();
        return !b.iter().any(u8::is_ascii_lowercase) && b.iter().any(u8::is_ascii_uppercase);
    }
    let mut cased = false;
    for c in word.chars() {
        if c.is_lowercase() || is_titlecase(c) {
            return false;
        }
        if c.is_uppercase() {
            cased = true;
        }
    }
    cased
}

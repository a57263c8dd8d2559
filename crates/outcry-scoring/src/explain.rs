//! The one readable line every score carries (`ScoredMention.explanation`): the verdict and
//! probability, the sentiment, the signals with their evidence, the terms that pushed the
//! score up, influence and urgency, and the route.
//!
//! Every mention gets one, so it is written into a byte buffer with fixed-length copies (the
//! eight numbers come from a table of `"0.00"`..`"9.99"`, four bytes each) and turned into a
//! `String` once at the end, rather than through `push_str` pieces of unknown length, each a
//! `memcpy` call.

use std::fmt::Write as _;

use crate::Score;

/// The explanation of `s`, scored against the complaint threshold `threshold`.
pub(crate) fn explain(s: &Score, threshold: f64) -> String {
    // the fixed parts and numbers take under 200 bytes; signals and terms add their text
    let extra = s
        .signals
        .iter()
        .map(|sig| sig.evidence.len() + 24)
        .chain(s.top_terms.iter().take(3).map(|(t, _)| t.len() + 12))
        .sum::<usize>();
    let mut out = Line(Vec::with_capacity(200 + extra));
    out.str(s.priority.as_str());
    out.str(if s.is_complaint {
        " complaint (p="
    } else {
        " not a complaint (p="
    });
    out.fixed2(s.complaint_probability, false);
    out.str(", threshold ");
    out.fixed2(threshold, false);
    out.str("); sentiment ");
    out.fixed2(s.sentiment.compound, true);
    if !s.signals.is_empty() {
        out.str("; signals: ");
        for (i, sig) in s.signals.iter().enumerate() {
            if i > 0 {
                out.str(", ");
            }
            out.str(sig.kind.as_str());
            out.str(" \"");
            out.str(&sig.evidence);
            out.str("\"");
        }
    }
    let mut pushing = s
        .top_terms
        .iter()
        .filter(|(_, c)| *c > 0.0)
        .take(3)
        .peekable();
    if pushing.peek().is_some() {
        out.str("; complaint terms: ");
        for (i, (t, c)) in pushing.enumerate() {
            if i > 0 {
                out.str(", ");
            }
            out.str(t);
            out.str(" (");
            out.fixed2(*c, true);
            out.str(")");
        }
    }
    out.str("; influence ");
    out.fixed2(s.influence, false);
    out.str(", urgency ");
    out.fixed2(s.urgency, false);
    if let Some(route) = s.route {
        out.str("; route to ");
        out.str(route);
    }
    // not reachable: only whole strings and ASCII bytes were written
    String::from_utf8(out.0).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// The line being written.
struct Line(Vec<u8>);

impl Line {
    #[inline(always)]
    fn str(&mut self, s: &str) {
        self.0.extend_from_slice(s.as_bytes());
    }

    /// Appends `x` as `format!("{x:.2}")` (or `{x:+.2}` with `plus`) would, without the
    /// general float formatter except for exact ties, values of a million or more, NaN and
    /// infinities.
    #[inline(always)]
    fn fixed2(&mut self, x: f64, plus: bool) {
        let Some(cents) = cents(x) else {
            let mut s = String::new();
            let _ = if plus {
                write!(s, "{x:+.2}")
            } else {
                write!(s, "{x:.2}")
            };
            self.str(&s);
            return;
        };
        if x.is_sign_negative() {
            self.0.push(b'-');
        } else if plus {
            self.0.push(b'+');
        }
        match FIXED2.get(cents as usize) {
            Some(digits) => self.0.extend_from_slice(digits),
            None => {
                let mut s = String::new();
                let _ = write!(s, "{}.{:02}", cents / 100, cents % 100);
                self.str(&s);
            }
        }
    }
}

/// `"0.00"` to `"9.99"`: the text of every value under 10 that [`Line::fixed2`] writes.
const FIXED2: [[u8; 4]; 1000] = {
    let mut t = [[0u8; 4]; 1000];
    let mut r = 0;
    while r < 1000 {
        t[r] = [
            b'0' + (r / 100) as u8,
            b'.',
            b'0' + (r / 10 % 10) as u8,
            b'0' + (r % 10) as u8,
        ];
        r += 1;
    }
    t
};

/// `|x|` in hundredths, rounded as `format!` rounds the exact value of `x`; `None` for an
/// exact tie, for values of a million or more, and for NaN and infinities.
#[inline(always)]
fn cents(x: f64) -> Option<u64> {
    // 2^52: adding it to a value below 2^52 leaves that value rounded to the nearest integer
    // (ties to even) in the low bits of the sum's mantissa, without a float-to-integer
    // conversion and back
    const ROUNDER: f64 = 4_503_599_627_370_496.0;
    let a = x.abs();
    // also false for NaN
    if a.partial_cmp(&1e6) != Some(std::cmp::Ordering::Less) {
        return None;
    }
    let y = a * 100.0;
    let t = y + ROUNDER;
    let rounded = t - ROUNDER;
    // the product is within 1e-8 of the exact value, so away from a tie its rounding is the
    // rounding of the exact decimal expansion that `format!` performs
    if ((y - rounded).abs() - 0.5).abs() > 1e-6 {
        return Some(t.to_bits() - ROUNDER.to_bits());
    }
    near_tie(a)
}

/// [`cents`] when `a * 100` is within 1e-6 of a half: the fused multiply-add rounds the exact
/// difference once, which keeps its sign; an exact tie is left to `format!`.
#[cold]
fn near_tie(a: f64) -> Option<u64> {
    let y = a * 100.0;
    // y is below 1e8, so truncating is flooring and exact
    let floor = y as i64 as u64;
    let d = a.mul_add(100.0, -(floor as f64 + 0.5));
    if d == 0.0 {
        return None;
    }
    Some(floor + u64::from(d > 0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed2(x: f64, plus: bool) -> String {
        let mut line = Line(Vec::new());
        line.fixed2(x, plus);
        String::from_utf8(line.0).unwrap()
    }

    #[test]
    fn fixed2_matches_format() {
        let mut cases = vec![
            0.0,
            -0.0,
            0.005,
            0.015,
            0.025,
            0.125,
            -0.125,
            0.995,
            0.9951,
            -0.001,
            1.0,
            -1.0,
            0.5,
            12.345,
            -12.345,
            99.999,
            9.995,
            9.994_999_999,
            123_456.785,
            999_999.995,
            1e7,
            -1e7,
            f64::NAN,
            f64::INFINITY,
            0.475,
            0.4999,
        ];
        let mut r = crate::hash::SplitMix64::new(3);
        for _ in 0..200_000 {
            let u = (r.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
            cases.push((u - 0.5) * 20.0);
            cases.push(((r.next_u64() % 20001) as f64 - 10000.0) / 10000.0);
            // values of three decimals and a half-cent, near and at ties
            cases.push((r.next_u64() % 2_000_000) as f64 / 1000.0 + 0.005);
            cases.push((r.next_u64() % 1_000_000_000) as f64 / 1000.0);
        }
        for x in cases {
            for plus in [false, true] {
                let want = if plus {
                    format!("{x:+.2}")
                } else {
                    format!("{x:.2}")
                };
                assert_eq!(fixed2(x, plus), want, "{x:e} plus={plus}");
            }
        }
    }
}

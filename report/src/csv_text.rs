//! The text of CSV cells, byte for byte what `format!("{}", x)` gives, without `fmt`'s cost.
//!
//! A large run's `equity.csv` holds tens of millions of numbers and timestamps. Rust's `Display`
//! of an `f64` spends most of its time in its shortest-digits search (Grisu with a Dragon
//! fallback) behind the `fmt` machinery; `zmij` finds the same shortest digits several times
//! faster. Two things differ and are put right here: `zmij` switches to exponent form for very
//! large and small numbers (`Display` never does), and when the value lies exactly halfway
//! between two shortest candidates `zmij` rounds to the even one while `Display` rounds up.

/// Appends `v` as `format!("{v}")` writes it: shortest round-trip digits, never an exponent,
/// `NaN`, `inf`, `-inf`, `-0` for negative zero.
pub fn push_f64(v: f64, out: &mut Vec<u8>) {
    if !v.is_finite() {
        out.extend_from_slice(match v {
            _ if v.is_nan() => b"NaN",
            _ if v > 0.0 => b"inf",
            _ => b"-inf",
        });
        return;
    }
    if v.is_sign_negative() {
        out.push(b'-');
    }
    if v == 0.0 {
        out.push(b'0');
        return;
    }
    let mut buffer = zmij::Buffer::new();
    let text = buffer.format_finite(v.abs()).as_bytes();
    // zmij's plain form (from 1e-5 to 1e16) is Display's text unless it is a whole number
    // (zmij adds `.0`) or may be a halfway case, which needs the powers of two to line up.
    if let Some(dot) = text.iter().position(|&c| c == b'.') {
        let fraction = (text.len() - dot - 1) as i32;
        if !text.ends_with(b".0")
            && !text.contains(&b'e')
            && odd_mantissa(v.abs()).1 + 1 != -fraction
        {
            out.extend_from_slice(text);
            return;
        }
    }
    let (digits, point) = shortest_digits(v.abs(), text);
    let mut buffer = itoa::Buffer::new();
    let digits = buffer.format(digits).as_bytes();
    // The value is 0.<digits> x 10^point.
    let n = digits.len() as i32;
    if point <= 0 {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', point.unsigned_abs() as usize));
        out.extend_from_slice(digits);
    } else if point < n {
        let (int, frac) = digits.split_at(point as usize);
        out.extend_from_slice(int);
        out.push(b'.');
        out.extend_from_slice(frac);
    } else {
        out.extend_from_slice(digits);
        out.extend(std::iter::repeat_n(b'0', (point - n) as usize));
    }
}

/// Appends `v` in decimal.
pub fn push_u64(v: u64, out: &mut Vec<u8>) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// Returns the shortest digits of a finite positive `v` that read back as `v`, as `Display`
/// chooses them (no trailing zeros), and where the decimal point goes: `v` = 0.<digits> x
/// 10^point; `text` is zmij's text of `v`.
fn shortest_digits(v: f64, text: &[u8]) -> (u64, i32) {
    // `zmij` writes `ddd.ddd` or `d.ddde[-+]xx`.
    let (mantissa, exponent) = match text.iter().position(|&c| c == b'e') {
        Some(e) => (&text[..e], parse_exponent(&text[e + 1..])),
        None => (text, 0),
    };
    let (mut digits, mut count, mut point, mut after_point) = (0u64, 0i32, 0i32, false);
    for &c in mantissa {
        if c == b'.' {
            after_point = true;
        } else if digits == 0 && c == b'0' {
            // A leading zero: `0.00123`.
            point -= i32::from(after_point);
        } else {
            digits = digits * 10 + u64::from(c - b'0');
            count += 1;
            point += i32::from(!after_point);
        }
    }
    point += exponent;
    while digits % 10 == 0 {
        digits /= 10;
        count -= 1;
    }
    if is_halfway_above(v, digits, point - count) {
        digits += 1;
        if digits == 10u64.pow(count.unsigned_abs()) {
            // 999 + 1: one more integer digit.
            point += 1;
        }
        while digits % 10 == 0 {
            digits /= 10;
        }
    }
    (digits, point)
}

fn parse_exponent(text: &[u8]) -> i32 {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, text),
    };
    let e = (digits.iter()).fold(0i32, |e, c| e * 10 + i32::from(c - b'0'));
    if negative { -e } else { e }
}

/// Returns whether `v` (finite, positive) is exactly `(digits + 0.5) x 10^q`: halfway between
/// `digits` and `digits + 1` in the last place, where `Display` takes the larger.
fn is_halfway_above(v: f64, digits: u64, q: i32) -> bool {
    let (m, e) = odd_mantissa(v);
    // 2v = m x 2^(e+1) must equal odd x 2^q x 5^q with m and odd both odd: the powers of two
    // must agree, then the odd parts.
    let odd = 2 * u128::from(digits) + 1;
    if e + 1 != q || q.unsigned_abs() > 27 {
        return false;
    }
    let five = 5u128.pow(q.unsigned_abs());
    if q >= 0 {
        odd.checked_mul(five) == Some(m)
    } else {
        m.checked_mul(five) == Some(odd)
    }
}

/// Returns (m, e) with m odd and `v` = m x 2^e exactly, for a finite positive `v`.
fn odd_mantissa(v: f64) -> (u128, i32) {
    let bits = v.to_bits();
    let (fraction, biased) = (bits & ((1 << 52) - 1), ((bits >> 52) & 0x7ff) as i32);
    let (m, e) = if biased == 0 {
        (u128::from(fraction), -1074)
    } else {
        (u128::from(fraction | (1 << 52)), biased - 1075)
    };
    let zeros = m.trailing_zeros();
    (m >> zeros, e + zeros as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(v: f64) -> String {
        let mut out = Vec::new();
        push_f64(v, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn special_values_read_as_display_writes_them() {
        let cases = [
            (0.0, "0"),
            (-0.0, "-0"),
            (1.0, "1"),
            (-2.5, "-2.5"),
            (1e-7, "0.0000001"),
            (1e16, "10000000000000000"),
            (1e21, "1000000000000000000000"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (0.1 + 0.2, "0.30000000000000004"),
            (5e-324, &format!("0.{}5", "0".repeat(323))),
            // Halfway between ...12 and ...13 in the 17th digit: Display rounds up.
            (233_115_890_514_796.0 + 0.125, "233115890514796.13"),
        ];
        for (v, want) in cases {
            assert_eq!(text(v), want, "{v:e}");
        }
    }

    /// Checks against std's `Display` (the independent reference) over many kinds of values:
    /// arbitrary bit patterns (tiny, huge, subnormal), prices in cents, values in [0, 1000),
    /// integers times 1e-6 near 1e15 (where halfway cases occur) and dyadic fractions.
    #[test]
    fn matches_display_on_millions_of_values() {
        let (mut x, mut out) = (0x9E37_79B9_7F4A_7C15u64, Vec::new());
        for v in [
            f64::MAX,
            f64::MIN_POSITIVE,
            1e300,
            1e-300,
            9_007_199_254_740_993.0,
        ] {
            for v in [v, -v] {
                out.clear();
                push_f64(v, &mut out);
                assert_eq!(out, format!("{v}").as_bytes(), "{v:e}");
            }
        }
        for i in 0..3_000_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = match i % 6 {
                0 => f64::from_bits(x),
                1 => (x % 100_000_000) as f64 / 100.0,
                2 => x as f64 / u64::MAX as f64 * 1000.0,
                3 => ((x >> 11) as i64) as f64 * 1e-6,
                4 => (x >> 8) as f64 / 2f64.powi((x % 70) as i32),
                _ => (x >> 20) as f64 * 2f64.powi((x % 40) as i32 - 20),
            };
            out.clear();
            push_f64(v, &mut out);
            assert_eq!(out, format!("{v}").as_bytes(), "{v:e} ({:#x})", v.to_bits());
        }
    }

    #[test]
    fn integers_read_as_display_writes_them() {
        for v in [0, 1, 9, 10, 12_345, u64::MAX] {
            let mut out = Vec::new();
            push_u64(v, &mut out);
            assert_eq!(out, v.to_string().as_bytes());
        }
    }
}

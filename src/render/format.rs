//! How numbers read in packets: one decimal, rounded half away from zero, a true minus sign,
//! and a plus sign on changes and distances so that direction is never left to colour.

use crate::metrics::flags::one_decimal;

/// "−4.2" / "+12.0" / "0.0".
pub fn signed_points(x: f64) -> String {
    let s = one_decimal(x);
    match s.strip_prefix('-') {
        Some(rest) => format!("\u{2212}{rest}"),
        None if s == "0.0" => s,
        None => format!("+{s}"),
    }
}

/// A magnitude: "12.3".
pub fn points(x: f64) -> String {
    one_decimal(x.abs())
}

/// A value that may be negative, without a plus sign: "2.3", "−3.0" (the ends of a range).
pub fn points_plain(x: f64) -> String {
    one_decimal(x).replace('-', "\u{2212}")
}

/// A percentage on the 0–100 scale: "43.2%".
pub fn pct(x: f64) -> String {
    format!("{}%", one_decimal(x))
}

/// A change in a percentage: "+2.4 pts".
pub fn signed_pct(x: f64) -> String {
    format!("{} pts", signed_points(x))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_and_rounding() {
        assert_eq!(signed_points(-4.25), "\u{2212}4.3");
        assert_eq!(signed_points(12.0), "+12.0");
        assert_eq!(signed_points(-0.04), "0.0");
        assert_eq!(points(-7.25), "7.3");
        assert_eq!(points_plain(-3.04), "\u{2212}3.0");
        assert_eq!(points_plain(2.25), "2.3");
        assert_eq!(pct(43.25), "43.3%");
        assert_eq!(signed_pct(-2.0), "\u{2212}2.0 pts");
    }
}

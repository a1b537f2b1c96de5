//! Money as integers: amounts in micros (1e-6), prices parsed to 1e-8 units so eight-decimal
//! usage prices stay exact; formatted as plain decimals (`.` separator, no grouping).

/// Micros as a decimal with two to six decimals (`100.00`, `-0.20`, `0.0015`); the catalog formats
/// prices the same way.
pub use crate::support::format::format_micros;

/// Parses a non-negative decimal price with at most eight decimals into 1e-8 units.
pub fn parse_price_e8(value: &str) -> Option<i128> {
    let value = value.trim();
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty())
        || !digits(whole)
        || !digits(fraction)
        || fraction.len() > 8
        || whole.len() > 15
    {
        return None;
    }
    let whole: i128 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut padded = fraction.to_owned();
    while padded.len() < 8 {
        padded.push('0');
    }
    let fraction: i128 = padded.parse().ok()?;
    Some(whole * 100_000_000 + fraction)
}

/// Parses a decimal amount (optionally negative, at most six decimals) into micros.
pub fn parse_amount_micros(value: &str) -> Option<i64> {
    let value = value.trim();
    let (negative, unsigned) = match value.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    if unsigned
        .split_once('.')
        .is_some_and(|(_, fraction)| fraction.len() > 6)
    {
        return None;
    }
    let e8 = parse_price_e8(unsigned)?;
    let micros = i64::try_from(e8 / 100).ok()?;
    Some(if negative { -micros } else { micros })
}

/// `quantity × price` in micros, rounded half away from zero.
pub fn usage_amount_micros(quantity: i64, price_e8: i128) -> i64 {
    let total = i128::from(quantity) * price_e8;
    i64::try_from(round_div(total, 100)).unwrap_or(i64::MAX)
}

/// Like [`usage_amount_micros`] for a quantity in millionths of a unit, so decimal usage
/// (`QuantityAsDecimal`) bills exactly.
pub fn fractional_usage_amount_micros(quantity_micros: i64, price_e8: i128) -> i64 {
    let total = i128::from(quantity_micros) * price_e8;
    i64::try_from(round_div(total, 100_000_000)).unwrap_or(i64::MAX)
}

/// `amount × basis_points / 10000`, rounded half away from zero.
pub fn share_micros(amount_micros: i64, basis_points: u32) -> i64 {
    i64::try_from(round_div(
        i128::from(amount_micros) * i128::from(basis_points),
        10_000,
    ))
    .unwrap_or(i64::MAX)
}

fn round_div(numerator: i128, denominator: i128) -> i128 {
    let half = denominator / 2;
    if numerator >= 0 {
        (numerator + half) / denominator
    } else {
        (numerator - half) / denominator
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_amounts_and_shares() {
        assert_eq!(parse_price_e8("0.10"), Some(10_000_000));
        assert_eq!(parse_price_e8("0.00000001"), Some(1));
        assert_eq!(parse_price_e8("1.123456789"), None);
        assert_eq!(parse_price_e8("-1"), None);
        assert_eq!(parse_price_e8(""), None);
        assert_eq!(parse_amount_micros("-12.5"), Some(-12_500_000));
        assert_eq!(parse_amount_micros("1.1234567"), None);
        assert_eq!(usage_amount_micros(3, 10_000_000), 300_000);
        assert_eq!(usage_amount_micros(1, 1), 0);
        assert_eq!(usage_amount_micros(50, 1), 1);
        assert_eq!(share_micros(100_000_000, 300), 3_000_000);
        assert_eq!(share_micros(-100_000_000, 300), -3_000_000);
        assert_eq!(share_micros(5, 1000), 1);
        assert_eq!(format_micros(100_000_000), "100.00");
        assert_eq!(format_micros(-200_000), "-0.20");
        assert_eq!(format_micros(1_500), "0.0015");
    }
}

//! Usage quantities: whole units (`Quantity`, `UsageQuantity`, `AllocatedUsageQuantity`) or
//! decimal strings (`...AsDecimal`), held exactly in millionths of a unit.
//!
//! The decimal members take `^(0|[1-9][0-9]{0,9})(\.[0-9]{1,6})?$` (up to ten integer digits and
//! six decimals); a record uses the integer member or the decimal one, never both, and its
//! allocations use the same kind as the record (see `docs/aws/metering-quantities.md`).

use crate::wire::ApiError;

pub use super::ledger::MICROS;

/// A validated usage quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity {
    /// The amount in millionths of a unit.
    pub micros: i64,
    /// Whether the caller sent it as a decimal string.
    pub decimal: bool,
}

impl Quantity {
    /// The whole-unit quantity `units`.
    pub fn units(units: i64) -> Self {
        Self {
            micros: units.saturating_mul(MICROS),
            decimal: false,
        }
    }
}

/// `micros` as a plain decimal: `"3"`, `"2.5"`, `"0.000001"`.
pub fn format_micros(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let abs = micros.unsigned_abs();
    let (whole, fraction) = (abs / MICROS.unsigned_abs(), abs % MICROS.unsigned_abs());
    if fraction == 0 {
        return format!("{sign}{whole}");
    }
    let fraction = format!("{fraction:06}");
    format!("{sign}{whole}.{}", fraction.trim_end_matches('0'))
}

fn pattern_error(value: &str, member: &str) -> ApiError {
    ApiError::validation(format!(
        "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must satisfy regular expression pattern: ^(0|[1-9][0-9]{{0,9}})(\\.[0-9]{{1,6}})?$"
    ))
}

/// Parses a decimal member (`member` names it in errors).
pub fn parse_decimal(value: &str, member: &str) -> Result<i64, ApiError> {
    let (whole, fraction) = match value.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (value, None),
    };
    let whole_ok = whole == "0"
        || (!whole.is_empty()
            && whole.len() <= 10
            && !whole.starts_with('0')
            && whole.bytes().all(|b| b.is_ascii_digit()));
    let fraction_ok = fraction
        .is_none_or(|f| !f.is_empty() && f.len() <= 6 && f.bytes().all(|b| b.is_ascii_digit()));
    if !whole_ok || !fraction_ok {
        return Err(pattern_error(value, member));
    }
    let units: i64 = whole.parse().map_err(|_| pattern_error(value, member))?;
    let fraction = fraction.unwrap_or("");
    let padded = format!("{fraction:0<6}");
    let millionths: i64 = padded.parse().map_err(|_| pattern_error(value, member))?;
    Ok(units * MICROS + millionths)
}

/// The quantity of a record from its integer member and its decimal member: exactly one of them
/// (`ValidationException` for both); none is an integer 0, as AWS defaults it.
pub fn resolve(
    integer: Option<i64>,
    decimal: Option<&str>,
    integer_member: &str,
    decimal_member: &str,
) -> Result<Quantity, ApiError> {
    match (integer, decimal) {
        (Some(_), Some(_)) => Err(ApiError::validation(format!(
            "1 validation error detected: {integer_member} and {decimal_member} are mutually exclusive: use one or the other"
        ))),
        (_, Some(decimal)) => Ok(Quantity {
            micros: parse_decimal(decimal, decimal_member)?,
            decimal: true,
        }),
        (integer, None) => {
            let units = integer.unwrap_or(0);
            super::check_quantity(units, integer_member)?;
            Ok(Quantity::units(units))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_exact_and_follow_the_pattern() {
        for (text, micros) in [
            ("0", 0),
            ("2.5", 2_500_000),
            ("0.000001", 1),
            ("9999999999.999999", 9_999_999_999_999_999),
            ("10", 10_000_000),
        ] {
            assert_eq!(parse_decimal(text, "q").ok(), Some(micros), "{text}");
            assert_eq!(format_micros(micros), text);
        }
        for bad in [
            "",
            "01",
            "1.",
            ".5",
            "1.1234567",
            "-1",
            "1e3",
            "12345678901",
            " 1",
            "1,5",
        ] {
            assert!(parse_decimal(bad, "q").is_err(), "{bad}");
        }
    }

    #[test]
    fn integer_and_decimal_members_are_exclusive() {
        assert!(resolve(Some(1), Some("2.5"), "quantity", "quantityAsDecimal").is_err());
        assert_eq!(
            resolve(None, None, "q", "d").ok(),
            Some(Quantity {
                micros: 0,
                decimal: false
            })
        );
        assert_eq!(
            resolve(None, Some("2.5"), "q", "d").map(|q| q.micros).ok(),
            Some(2_500_000)
        );
        assert!(resolve(Some(-1), None, "q", "d").is_err());
    }
}

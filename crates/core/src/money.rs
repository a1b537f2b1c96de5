//! Money as an integer number of micros (millionths of the currency unit) with its currency.

use std::fmt;

/// An ISO 4217 currency code of three uppercase letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CurrencyCode([u8; 3]);

impl CurrencyCode {
    /// US dollars.
    pub const USD: Self = Self(*b"USD");

    /// Parses a three-letter uppercase code.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let bytes = raw.as_bytes();
        match bytes {
            [a, b, c] if bytes.iter().all(u8::is_ascii_uppercase) => Ok(Self([*a, *b, *c])),
            _ => Err("must be a three-letter uppercase ISO 4217 code".into()),
        }
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }
}

impl fmt::Display for CurrencyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An amount of money: integer micros, never floating point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    /// Millionths of one unit of the currency (1 USD = 1_000_000).
    pub amount_micros: i64,
    /// The currency of the amount.
    pub currency: CurrencyCode,
}

/// Micros in one unit of currency.
pub const MICROS_PER_UNIT: i64 = 1_000_000;

/// `micros` as an exact decimal with two to six decimals, the way Souk prints amounts:
/// 1234500000 → `1234.50`, 1000 → `0.001`, -500000 → `-0.50`.
pub fn decimal(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let abs = micros.unsigned_abs();
    let mut fraction = format!("{:06}", abs % 1_000_000);
    while fraction.len() > 2 && fraction.ends_with('0') {
        fraction.pop();
    }
    format!("{sign}{}.{fraction}", abs / 1_000_000)
}

impl Money {
    /// An amount in `currency`.
    pub fn new(amount_micros: i64, currency: CurrencyCode) -> Self {
        Self {
            amount_micros,
            currency,
        }
    }

    /// Parses a decimal string such as `"120.60"` or `"-0.2"` exactly (at most 6 decimals).
    pub fn parse_decimal(raw: &str, currency: CurrencyCode) -> Result<Self, String> {
        let (negative, digits) = match raw.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, raw),
        };
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        if whole.is_empty() && fraction.is_empty() {
            return Err("must be a decimal number".into());
        }
        if !whole.bytes().all(|b| b.is_ascii_digit())
            || !fraction.bytes().all(|b| b.is_ascii_digit())
        {
            return Err("must be a decimal number".into());
        }
        if fraction.len() > 6 {
            return Err("must have at most 6 decimals".into());
        }
        let whole: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| "is too large".to_string())?
        };
        let padded = format!("{fraction:0<6}");
        let fraction: i64 = padded
            .parse()
            .map_err(|_| "must be a decimal number".to_string())?;
        let micros = whole
            .checked_mul(MICROS_PER_UNIT)
            .and_then(|w| w.checked_add(fraction))
            .ok_or_else(|| "is too large".to_string())?;
        Ok(Self::new(if negative { -micros } else { micros }, currency))
    }

    /// Adds two amounts of the same currency; `None` on currency mismatch or overflow.
    pub fn checked_add(self, other: Self) -> Option<Self> {
        if self.currency != other.currency {
            return None;
        }
        Some(Self::new(
            self.amount_micros.checked_add(other.amount_micros)?,
            self.currency,
        ))
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.amount_micros < 0 { "-" } else { "" };
        let abs = self.amount_micros.unsigned_abs();
        let unit = MICROS_PER_UNIT.unsigned_abs();
        write!(
            f,
            "{sign}{}.{:06} {}",
            abs / unit,
            abs % unit,
            self.currency
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_keep_two_to_six_places() {
        assert_eq!(decimal(1_234_500_000), "1234.50");
        assert_eq!(decimal(1_000), "0.001");
        assert_eq!(decimal(-500_000), "-0.50");
        assert_eq!(decimal(0), "0.00");
        assert_eq!(decimal(i64::MIN), "-9223372036854.775808");
    }

    #[test]
    fn parses_decimals_exactly() {
        let usd = CurrencyCode::USD;
        assert_eq!(
            Money::parse_decimal("120.60", usd).unwrap().amount_micros,
            120_600_000
        );
        assert_eq!(
            Money::parse_decimal("-0.2", usd).unwrap().amount_micros,
            -200_000
        );
        assert_eq!(
            Money::parse_decimal("7", usd).unwrap().amount_micros,
            7_000_000
        );
        assert_eq!(
            Money::parse_decimal("0.0000001", usd),
            Err("must have at most 6 decimals".into())
        );
        assert_eq!(
            Money::parse_decimal("1e3", usd),
            Err("must be a decimal number".into())
        );
    }

    #[test]
    fn adds_only_same_currency() {
        let usd = Money::new(1, CurrencyCode::USD);
        let eur = Money::new(1, CurrencyCode::parse("EUR").unwrap());
        assert_eq!(usd.checked_add(usd).map(|m| m.amount_micros), Some(2));
        assert_eq!(usd.checked_add(eur), None);
        assert_eq!(
            Money::new(-1_500_000, CurrencyCode::USD).to_string(),
            "-1.500000 USD"
        );
    }
}

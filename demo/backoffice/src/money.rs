//! Money as integer minor units, written as `{"amount": "459.00", "currency": "CNY"}`.
//!
//! Amounts are never floats: totals are sums of integers, and the wire form is a decimal
//! string with exactly two fraction digits.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

/// The shop's only currency; international orders are charged in CNY too.
pub const CNY: &str = "CNY";

/// An amount of money in minor units (fen for CNY).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "MoneyRepr", try_from = "MoneyRepr")]
pub struct Money {
    /// Minor units: `45900` is 459.00.
    pub cents: i64,
    /// ISO 4217 code.
    pub currency: String,
}

/// The wire form of [`Money`].
#[derive(Serialize, Deserialize)]
struct MoneyRepr {
    amount: String,
    currency: String,
}

/// An amount that is not a decimal string with at most two fraction digits.
#[derive(Debug, thiserror::Error)]
#[error("expected a decimal amount like \"459.00\", found {0:?}")]
pub struct ParseAmountError(String);

impl Money {
    /// `cents` minor units of CNY.
    pub fn cny(cents: i64) -> Self {
        Self {
            cents,
            currency: CNY.to_owned(),
        }
    }

    /// The amount as the wire's decimal string, e.g. `"459.00"`.
    pub fn amount(&self) -> String {
        format_cents(self.cents)
    }

    /// `self` times `quantity`, same currency.
    pub fn times(&self, quantity: u32) -> Self {
        Self {
            cents: self.cents * i64::from(quantity),
            currency: self.currency.clone(),
        }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount(), self.currency)
    }
}

/// `45900` → `"459.00"`, `-5` → `"-0.05"`.
pub fn format_cents(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// `"459.00"`, `"459.5"` or `"459"` → minor units.
pub fn parse_cents(text: &str) -> Result<i64, ParseAmountError> {
    let bad = || ParseAmountError(text.to_owned());
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|c| c.is_ascii_digit());
    if whole.is_empty() || frac.len() > 2 || !all_digits(whole) || !all_digits(frac) {
        return Err(bad());
    }
    let whole: i64 = whole.parse().map_err(|_| bad())?;
    let frac: i64 = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().map_err(|_| bad())? * 10,
        _ => frac.parse().map_err(|_| bad())?,
    };
    let cents = whole.checked_mul(100).and_then(|w| w.checked_add(frac));
    let cents = cents.ok_or_else(bad)?;
    Ok(if negative { -cents } else { cents })
}

impl FromStr for Money {
    type Err = ParseAmountError;

    /// Parses a CNY amount such as `"459.00"`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse_cents(text).map(Self::cny)
    }
}

impl From<Money> for MoneyRepr {
    fn from(m: Money) -> Self {
        Self {
            amount: m.amount(),
            currency: m.currency,
        }
    }
}

impl TryFrom<MoneyRepr> for Money {
    type Error = ParseAmountError;

    fn try_from(r: MoneyRepr) -> Result<Self, Self::Error> {
        Ok(Self {
            cents: parse_cents(&r.amount)?,
            currency: r.currency,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_two_decimal_strings() {
        let json = serde_json::to_value(Money::cny(45_900)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"amount": "459.00", "currency": "CNY"})
        );
        assert_eq!(format_cents(5), "0.05");
        assert_eq!(format_cents(-5), "-0.05");
        assert_eq!(Money::cny(19_900).times(3).amount(), "597.00");
    }

    #[test]
    fn parses_decimal_strings_only() {
        assert_eq!(parse_cents("459.00").unwrap(), 45_900);
        assert_eq!(parse_cents("459.5").unwrap(), 45_950);
        assert_eq!(parse_cents("459").unwrap(), 45_900);
        for bad in ["", ".5", "4.599", "1e3", "12,00", "abc"] {
            assert!(parse_cents(bad).is_err(), "{bad:?} is not an amount");
        }
    }
}

//! Gas prices and fees in `unrn`, as the chain computes them.

use std::fmt;
use std::str::FromStr;

/// The denomination of every fee: micro-NRN.
pub const FEE_DENOM: &str = "unrn";

/// What the chain asks by default (its genesis `min_gas_price`).
pub const DEFAULT_GAS_PRICE: &str = "0.025unrn";

/// 10^18: gas prices keep 18 decimals, as cosmwasm's `Decimal` on the chain.
const ATTO: u128 = 1_000_000_000_000_000_000;

/// unrn per unit of gas, exact to 18 decimals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct GasPrice {
    atto_unrn: u128,
}

impl GasPrice {
    pub const ZERO: GasPrice = GasPrice { atto_unrn: 0 };

    /// The fee for `gas_limit` at this price, rounded up as the chain
    /// rounds its minimum.
    pub fn fee_for(self, gas_limit: u64) -> u128 {
        let product = u128::from(gas_limit).saturating_mul(self.atto_unrn);
        product.div_ceil(ATTO)
    }
}

impl Default for GasPrice {
    fn default() -> Self {
        // A constant that parses.
        DEFAULT_GAS_PRICE.parse().unwrap_or(GasPrice::ZERO)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("gas price {0:?}: expected a decimal amount of unrn per gas, like \"0.025unrn\"")]
pub struct GasPriceError(String);

impl FromStr for GasPrice {
    type Err = GasPriceError;

    /// `0.025unrn`, or `0.025` (unrn implied).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = || GasPriceError(text.to_string());
        let number = text.strip_suffix(FEE_DENOM).unwrap_or(text);
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() && fraction.is_empty()
            || !digits(whole)
            || !digits(fraction)
            || fraction.len() > 18
        {
            return Err(error());
        }
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| error())?
        };
        let fraction_atto: u128 = if fraction.is_empty() {
            0
        } else {
            let scaled = format!("{fraction:0<18}");
            scaled.parse().map_err(|_| error())?
        };
        let atto_unrn = whole
            .checked_mul(ATTO)
            .and_then(|w| w.checked_add(fraction_atto))
            .ok_or_else(error)?;
        Ok(GasPrice { atto_unrn })
    }
}

impl fmt::Display for GasPrice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.atto_unrn / ATTO;
        let fraction = format!("{:018}", self.atto_unrn % ATTO);
        let fraction = fraction.trim_end_matches('0');
        if fraction.is_empty() {
            write!(f, "{whole}{FEE_DENOM}")
        } else {
            write!(f, "{whole}.{fraction}{FEE_DENOM}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_parse_and_fees_round_up() {
        let price: GasPrice = "0.025unrn".parse().unwrap();
        assert_eq!(price, GasPrice::default());
        assert_eq!(price.to_string(), "0.025unrn");
        assert_eq!(price.fee_for(200_000), 5_000);
        assert_eq!(price.fee_for(41), 2);
        assert_eq!("1".parse::<GasPrice>().unwrap().fee_for(7), 7);
        assert_eq!(".5unrn".parse::<GasPrice>().unwrap().fee_for(3), 2);
        assert_eq!("0unrn".parse::<GasPrice>().unwrap(), GasPrice::ZERO);
    }

    #[test]
    fn bad_prices_are_refused() {
        for bad in [
            "",
            "unrn",
            "0.025uatom",
            "-1",
            "1e3",
            "0.0000000000000000001",
            "1.2.3",
        ] {
            assert!(bad.parse::<GasPrice>().is_err(), "{bad:?}");
        }
    }
}

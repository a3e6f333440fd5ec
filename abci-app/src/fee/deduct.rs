//! The ante step's fee: checked against the minimum, then moved from the
//! signer to the fee collector before any message runs.

use cosmwasm_std::{Decimal, Uint128};

use super::FeeParams;
use crate::auth::{DecodedTx, Mode};
use crate::codes::{Code, TxError};
use crate::context::GasMeter;
use crate::gov;
use crate::store::StateView;

/// The one fee denomination: micro-NRN, the NRN cw20's base unit.
pub const FEE_DENOM: &str = "unrn";

/// Gas the fee deduction charges a tx: a flat price, so a simulation that
/// deducts nothing estimates the same gas as the delivery that does. It
/// moves two balance entries of the token directly (`gov::token_ledger`,
/// ~2 µs measured), priced like two storage reads and writes of them.
pub const FEE_GAS: u64 = 6_000;

/// What a tx paid.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FeeCharge {
    pub amount: u128,
}

/// The least fee a tx of `gas_limit` may offer at `price`: the limit, not
/// the gas used, rounded up (as the SDK's `DeductFeeDecorator`).
pub fn required_fee(gas_limit: u64, price: Decimal) -> u128 {
    Uint128::from(gas_limit).mul_ceil(price).u128()
}

/// The tx's fee in unrn; a fee in anything else, or paid by another
/// account, is refused.
pub fn offered_fee(tx: &DecodedTx) -> Result<u128, TxError> {
    let Some(fee) = tx.auth_info.fee.as_ref() else {
        return Ok(0);
    };
    if !fee.payer.is_empty() || !fee.granter.is_empty() {
        return Err(TxError::new(
            Code::InvalidRequest,
            "fee payers and fee grants are not supported: the signer pays",
        ));
    }
    let mut total = 0u128;
    for coin in &fee.amount {
        if coin.denom != FEE_DENOM {
            return Err(TxError::new(
                Code::InsufficientFee,
                format!(
                    "fees are paid in {FEE_DENOM} (micro-NRN), not {:?}",
                    coin.denom
                ),
            ));
        }
        let amount = parse_amount(&coin.amount)?;
        total = total
            .checked_add(amount)
            .ok_or_else(|| TxError::new(Code::InsufficientFee, "fee amounts overflow 128 bits"))?;
    }
    Ok(total)
}

fn parse_amount(text: &str) -> Result<u128, TxError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TxError::new(
            Code::InsufficientFee,
            format!("fee amount {text:?} is not a whole number of {FEE_DENOM}"),
        ));
    }
    text.parse::<u128>().map_err(|_| {
        TxError::new(
            Code::InsufficientFee,
            format!("fee amount {text:?} does not fit 128 bits"),
        )
    })
}

/// Checks the fee against the chain's minimum (and `node_min_gas_price`,
/// CheckTx's own) and moves it to the fee collector. Charges [`FEE_GAS`]
/// in every mode; a simulation moves nothing and needs no fee.
///
/// Until a governance suite is registered the chain has no token to pay
/// with, so nothing is charged (the suite is deployed at genesis on every
/// network `umd init` makes).
pub fn charge_fee(
    state: &mut StateView,
    tx: &DecodedTx,
    payer: &str,
    gas: &mut GasMeter,
    mode: Mode,
    node_min_gas_price: Option<Decimal>,
) -> Result<FeeCharge, TxError> {
    gas.consume(FEE_GAS, "fee deduction")?;
    if mode == Mode::Simulate {
        return Ok(FeeCharge::default());
    }
    let offered = offered_fee(tx)?;
    let params = FeeParams::load(state)?;
    let price =
        node_min_gas_price.map_or(params.min_gas_price, |node| node.max(params.min_gas_price));
    let required = required_fee(tx.gas_limit, price);
    if offered < required {
        return Err(TxError::new(
            Code::InsufficientFee,
            format!(
                "insufficient fee: got {offered}{FEE_DENOM}, required {required}{FEE_DENOM} (gas limit {} × {price}{FEE_DENOM}); use a gas price of at least {price}{FEE_DENOM}",
                tx.gas_limit
            ),
        ));
    }
    if offered == 0 {
        return Ok(FeeCharge::default());
    }
    let Some(registry) = gov::registry(state)? else {
        return Ok(FeeCharge::default());
    };
    // On the token's balance entries, not through its `sudo`: the same bytes
    // without a VM instance per tx and phase (gov::token_ledger).
    let collector = super::fee_collector();
    gov::token_ledger::transfer(state, &registry.token, payer, &collector, offered).map_err(
        |err| {
            TxError::new(
                Code::InsufficientFunds,
                format!(
                    "cannot pay the fee of {offered}{FEE_DENOM} from {payer}: {}",
                    err.log
                ),
            )
        },
    )?;
    super::add_undistributed(state, offered)?;
    Ok(FeeCharge { amount: offered })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_required_fee_rounds_the_whole_gas_limit_up() {
        let price = Decimal::permille(25);
        assert_eq!(required_fee(200_000, price), 5_000);
        assert_eq!(required_fee(1, price), 1);
        assert_eq!(required_fee(41, price), 2);
        assert_eq!(required_fee(0, price), 0);
        assert_eq!(required_fee(u64::MAX, Decimal::zero()), 0);
    }

    #[test]
    fn fee_amounts_must_be_whole_numbers() {
        assert_eq!(parse_amount("2500").unwrap(), 2500);
        for bad in [
            "",
            "-1",
            "1.5",
            "0x10",
            " 1",
            "340282366920938463463374607431768211456",
        ] {
            assert_eq!(
                parse_amount(bad).unwrap_err().code,
                Code::InsufficientFee,
                "{bad:?}"
            );
        }
    }
}

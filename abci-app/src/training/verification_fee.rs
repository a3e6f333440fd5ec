//! The verification fee: every validator re-trains each update it
//! verifies, so an update pays `verification_fee` (a DAO parameter) when
//! it is submitted. The fee waits in the escrow module account and goes
//! back to the trainer when the update is accepted, to the validators (by
//! power, with the block fees) when it is not: a flood of bad updates pays
//! for the work it causes, an honest trainer pays nothing in the end.

use super::state_key;
use crate::codes::{Code, TxError};
use crate::context::{BlockInfo, Contracts, Event, TxContext};
use crate::fee::{self, FeeParams};
use crate::gov;
use crate::store::StateView;

/// Moves the fee from `trainer` to the escrow, inside the submitting tx
/// (whose gas pays the transfer). Nothing is taken before a governance
/// suite (and so a token) exists.
pub fn take(ctx: &mut TxContext<'_>, update_id: u64, trainer: &str) -> Result<u128, TxError> {
    let amount = FeeParams::load(ctx.state)?.verification_fee.u128();
    if amount == 0 || gov::registry(ctx.state)?.is_none() {
        return Ok(0);
    }
    gov::sudo::chain_transfer(ctx, trainer, &fee::verification_escrow(), amount).map_err(
        |err| {
            TxError::new(
                Code::InsufficientFunds,
                format!(
                    "cannot pay the verification fee of {amount}{}: {}",
                    fee::FEE_DENOM,
                    err.log
                ),
            )
        },
    )?;
    ctx.state.set(
        &state_key::verification_escrow(update_id),
        amount.to_be_bytes().to_vec(),
    );
    Ok(amount)
}

/// Releases the escrow of a decided update: to `trainer` when accepted,
/// else to the fee collector for the validators. An update that paid
/// nothing has nothing to release.
pub fn settle(
    wasm: &dyn Contracts,
    state: &mut StateView,
    block: &BlockInfo,
    update_id: u64,
    trainer: &str,
    accepted: bool,
) -> Result<Option<Event>, TxError> {
    let key = state_key::verification_escrow(update_id);
    let Some(bytes) = state.get(&key)? else {
        return Ok(None);
    };
    let amount = bytes
        .as_slice()
        .try_into()
        .map(u128::from_be_bytes)
        .map_err(|_| TxError::new(Code::Internal, "stored escrow is not 16 bytes"))?;
    state.remove(&key);
    let to = if accepted {
        trainer.to_string()
    } else {
        fee::fee_collector()
    };
    let escrow = fee::verification_escrow();
    let moved = gov::sudo::as_chain(wasm, state, block, |ctx| {
        gov::sudo::chain_transfer(ctx, &escrow, &to, amount)
    });
    let event = Event::new("verification_fee")
        .attr("update_id", update_id.to_string())
        .attr("amount", format!("{amount}{}", fee::FEE_DENOM))
        .attr("to", &to)
        .attr("refunded", accepted.to_string());
    Ok(Some(match moved {
        Ok(_) => {
            if !accepted {
                fee::add_undistributed(state, amount)?;
            }
            event
        }
        Err(err) => event.attr("error", err.log),
    }))
}

/// Splits a training reward: the validators' share (rounded down) and the
/// trainer's rest.
pub fn split_reward(reward: u128, params: &FeeParams) -> (u128, u128) {
    let validators = cosmwasm_std::Uint128::new(reward)
        .mul_floor(params.validator_reward_share)
        .u128();
    (reward - validators.min(reward), validators.min(reward))
}

#[cfg(test)]
mod tests {
    use cosmwasm_std::Decimal;

    use super::*;

    #[test]
    fn the_validators_share_is_rounded_down() {
        let params = FeeParams {
            validator_reward_share: Decimal::percent(10),
            ..FeeParams::default()
        };
        assert_eq!(split_reward(1_000_000, &params), (900_000, 100_000));
        assert_eq!(split_reward(9, &params), (9, 0));
        let all = FeeParams {
            validator_reward_share: Decimal::one(),
            ..FeeParams::default()
        };
        assert_eq!(split_reward(7, &all), (0, 7));
    }
}

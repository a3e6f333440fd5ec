//! The rewards of the 2017 design (seed 004): a fraction of the token's
//! issued supply per accepted version (to its trainers) and per accepted
//! dataset delta (to its proposer), both halving every `halving_blocks`
//! blocks. Set by the DAO (`set_reward_params`); while the version fraction
//! is zero, each lineage's fixed `reward_per_update` (halving by a count of
//! updates) applies as before.
//!
//! Every amount is integer arithmetic on the supply the token reports at
//! the block that pays: `floor(supply × fraction) >> (height /
//! halving_blocks)`.

use cosmwasm_std::{Decimal, Uint128};
use serde::{Deserialize, Serialize};

use super::state_key;
use crate::codes::{Code, TxError};
use crate::context::{BlockInfo, Contracts};
use crate::store::StateView;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RewardParams {
    /// Fraction of the supply per accepted version; 0: the lineage's
    /// `reward_per_update`.
    pub version_supply_fraction: Decimal,
    /// Fraction of the supply to the proposer of an accepted delta; 0: none.
    pub delta_supply_fraction: Decimal,
    /// Both halve every this many blocks; 0: never.
    pub halving_blocks: u64,
}

impl RewardParams {
    /// Absent until the DAO first sets them (genesis writes nothing, so a
    /// chain that never uses them stores nothing).
    pub fn load(state: &StateView) -> Result<Self, TxError> {
        match state.get(state_key::REWARD_PARAMS)? {
            None => Ok(Self::default()),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| TxError::new(Code::Internal, format!("stored reward params: {e}"))),
        }
    }

    pub fn save(&self, state: &mut StateView) -> Result<(), TxError> {
        um_bindings::validate_reward_params(
            Some(self.version_supply_fraction),
            Some(self.delta_supply_fraction),
            Some(self.halving_blocks),
        )
        .map_err(|reason| TxError::new(Code::InvalidRequest, format!("reward params: {reason}")))?;
        let bytes =
            serde_json::to_vec(self).map_err(|e| TxError::new(Code::Internal, e.to_string()))?;
        state.set(state_key::REWARD_PARAMS, bytes);
        Ok(())
    }
}

/// `floor(supply × fraction)`, halved once per `halving_blocks` blocks up
/// to `height` (never, for 0).
pub fn supply_reward(supply: u128, fraction: Decimal, height: u64, halving_blocks: u64) -> u128 {
    let full = Uint128::new(supply).mul_floor(fraction).u128();
    let halvings = height.checked_div(halving_blocks).unwrap_or(0);
    if halvings >= 128 {
        0
    } else {
        full >> halvings
    }
}

/// The token's issued supply (`token_info.total_supply`) as the block sees it.
pub fn token_supply(
    wasm: &dyn Contracts,
    state: &StateView,
    block: &BlockInfo,
) -> Result<u128, TxError> {
    let registry = crate::gov::registry(state)?.ok_or_else(|| {
        TxError::new(
            Code::ContractError,
            "no governance contracts are registered",
        )
    })?;
    let answer = wasm.query_smart(state, block, &registry.token, br#"{"token_info":{}}"#)?;
    let info: serde_json::Value = serde_json::from_slice(&answer)
        .map_err(|e| TxError::new(Code::ContractError, format!("token_info: {e}")))?;
    info["total_supply"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| TxError::new(Code::ContractError, "token_info has no total_supply"))
}

/// Notes the proposer of delta `delta_id`, accepted in this block, for a
/// reward at its end ([`pay_delta_rewards`]); nothing while the delta
/// fraction is 0.
pub fn note_delta_reward(
    state: &mut StateView,
    delta_id: u64,
    proposer: &str,
) -> Result<(), TxError> {
    if RewardParams::load(state)?.delta_supply_fraction.is_zero() {
        return Ok(());
    }
    state.set(
        &state_key::delta_reward(delta_id),
        proposer.as_bytes().to_vec(),
    );
    Ok(())
}

/// Mints the rewards of the deltas accepted in this block to their
/// proposers, in delta id order, and forgets them. A mint the token
/// refuses (its cap reached) is reported in the event, not fatal.
pub fn pay_delta_rewards(
    wasm: &dyn Contracts,
    state: &mut StateView,
    block: &BlockInfo,
) -> Result<Vec<crate::context::Event>, TxError> {
    let due = state.prefixed(state_key::DELTA_REWARD_PREFIX)?;
    if due.is_empty() {
        return Ok(Vec::new());
    }
    let params = RewardParams::load(state)?;
    let supply = token_supply(wasm, state, block).unwrap_or(0);
    let amount = supply_reward(
        supply,
        params.delta_supply_fraction,
        block.height,
        params.halving_blocks,
    );
    let mut events = Vec::with_capacity(due.len());
    for (key, proposer) in due {
        state.remove(&key);
        let delta_id = key
            .get(state_key::DELTA_REWARD_PREFIX.len()..)
            .and_then(|id| <[u8; 8]>::try_from(id).ok())
            .map(u64::from_be_bytes)
            .unwrap_or(0);
        let proposer = String::from_utf8_lossy(&proposer).into_owned();
        let mut event = crate::context::Event::new("delta_reward")
            .attr("delta_id", delta_id.to_string())
            .attr("proposer", &proposer)
            .attr("amount", amount.to_string());
        if amount > 0 {
            let minted = crate::gov::sudo::as_chain(wasm, state, block, |ctx| {
                crate::gov::sudo::mint_reward(ctx, &proposer, amount)
            });
            if let Err(err) = minted {
                event = event.attr("error", err.log);
            }
        }
        events.push(event);
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fraction_of_the_supply_halves_by_blocks() {
        let design = Decimal::from_ratio(1u128, 100_000u128); // 0.001 %
        let supply = 1_000_000_000_000u128; // a million NRN in unrn
        assert_eq!(supply_reward(supply, design, 0, 0), 10_000_000);
        assert_eq!(supply_reward(supply, design, 99, 100), 10_000_000);
        assert_eq!(supply_reward(supply, design, 100, 100), 5_000_000);
        assert_eq!(supply_reward(supply, design, 250, 100), 2_500_000);
        assert_eq!(supply_reward(supply, design, u64::MAX, 1), 0);
        assert_eq!(supply_reward(7, design, 0, 0), 0, "floors");
        assert_eq!(supply_reward(supply, Decimal::zero(), 0, 0), 0);
    }

    #[test]
    fn params_are_absent_until_set_and_bounded() {
        let store = crate::store::Store::temporary().unwrap();
        let mut state = store.view();
        assert_eq!(RewardParams::load(&state).unwrap(), RewardParams::default());
        let set = RewardParams {
            version_supply_fraction: Decimal::from_ratio(1u128, 100_000u128),
            delta_supply_fraction: Decimal::from_ratio(1u128, 1_000_000u128),
            halving_blocks: 25_228_800,
        };
        set.save(&mut state).unwrap();
        assert_eq!(RewardParams::load(&state).unwrap(), set);
        let too_much = RewardParams {
            delta_supply_fraction: Decimal::percent(5),
            ..set
        };
        assert_eq!(
            too_much.save(&mut state).unwrap_err().code,
            Code::InvalidRequest
        );
    }
}

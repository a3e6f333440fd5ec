//! End of epoch: the validator set follows bonded stake.

use um_bindings::staking::ValidatorsResponse;

use super::validators;
use crate::codes::{Code, TxError};
use crate::context::{BlockInfo, Contracts};
use crate::store::StateView;

/// At the last block of an epoch, reads the bonded validators from
/// `nrn-staking` and returns the power changes for CometBFT (recorded in
/// state as the set CometBFT now has): the way to the bonded set, or the
/// part of it that shifts less than a third of the voting shares
/// ([`validators::bounded_step`]).
pub fn end_block(
    wasm: &dyn Contracts,
    state: &mut StateView,
    block: &BlockInfo,
) -> Result<Vec<(Vec<u8>, u64)>, TxError> {
    let params = super::params(state)?;
    if params.epoch_blocks == 0 || !block.height.is_multiple_of(params.epoch_blocks) {
        return Ok(Vec::new());
    }
    let Some(registry) = super::registry(state)? else {
        return Ok(Vec::new());
    };
    let answer = wasm.query_smart(state, block, &registry.staking, br#"{"validators":{}}"#)?;
    let response: ValidatorsResponse = serde_json::from_slice(&answer).map_err(|e| {
        TxError::new(
            Code::ContractError,
            format!("staking validators response: {e}"),
        )
    })?;
    let mut desired = validators::desired(&response, params.stake_per_power);
    let mut tombstoned = Vec::new();
    for pubkey in desired.keys() {
        if super::misbehavior::is_tombstoned(state, pubkey)? {
            tombstoned.push(pubkey.clone());
        }
    }
    for pubkey in tombstoned {
        desired.remove(&pubkey);
    }
    let current = validators::current(state)?;
    // Shares move by less than a third per epoch; the rest of the way is
    // taken at the next epochs.
    let step = validators::bounded_step(&current, &desired);
    let updates = validators::updates(&current, &step);
    validators::apply(state, &updates);
    if !updates.is_empty() {
        let next = validators::current(state)?;
        validators::record_set_from(state, block.height.saturating_add(2), &next);
    }
    Ok(updates)
}

//! Equivocation. CometBFT hands FinalizeBlock the double signs it has
//! verified and committed as evidence; a validator caught is slashed by
//! `double_sign_slash_fraction` of its bond in `nrn-staking` and leaves the
//! set for good (tombstoned: epochs never bring its key back).

use cosmwasm_std::Decimal;
use tendermint_proto::v0_38::abci as pb;
use um_bindings::staking::ValidatorsResponse;

use super::state_key;
use super::validators::{self, consensus_address};
use crate::codes::{Code, TxError};
use crate::context::{BlockInfo, Contracts, Event};
use crate::store::StateView;

pub fn is_tombstoned(state: &StateView, pubkey: &[u8]) -> Result<bool, TxError> {
    Ok(state.get(&state_key::tombstone(pubkey))?.is_some())
}

/// A validator update for CometBFT: ed25519 key and power (0 removes).
pub type PowerUpdate = (Vec<u8>, u64);

/// Handles the block's evidence; returns the events and the validator
/// updates (removals) for CometBFT, which the caller merges with the epoch's.
pub fn begin_block(
    wasm: &dyn Contracts,
    state: &mut StateView,
    block: &BlockInfo,
    misbehavior: &[pb::Misbehavior],
) -> Result<(Vec<Event>, Vec<PowerUpdate>), TxError> {
    let mut events = Vec::new();
    let mut removals = Vec::new();
    for evidence in misbehavior {
        let Some(offender) = evidence.validator.as_ref() else {
            continue;
        };
        let offense_height = u64::try_from(evidence.height).unwrap_or(0);
        let Some(pubkey) = pubkey_of(state, &offender.address, offense_height)? else {
            // Not a key this chain ever had in its set: nothing to punish.
            continue;
        };
        if is_tombstoned(state, &pubkey)? {
            continue;
        }
        state.set(
            &state_key::tombstone(&pubkey),
            block.height.to_be_bytes().to_vec(),
        );
        let mut event = Event::new("double_sign")
            .attr("validator", hex::encode_upper(&offender.address))
            .attr("pubkey", hex::encode(&pubkey))
            .attr("offense_height", offense_height.to_string());
        if let Some(removal) = remove_from_set(state, block, &pubkey)? {
            removals.push(removal);
            event = event.attr("removed", "true");
        } else {
            event = event.attr("removed", "false");
        }
        event = slash_operator(wasm, state, block, &pubkey, offense_height, event)?;
        events.push(event);
    }
    Ok((events, removals))
}

/// The ed25519 key behind a consensus address, from the set that signed
/// the offending height (or the current set).
fn pubkey_of(state: &StateView, address: &[u8], height: u64) -> Result<Option<Vec<u8>>, TxError> {
    let then = validators::set_at(state, height)?.unwrap_or_default();
    let now = validators::current(state)?;
    Ok(then
        .keys()
        .chain(now.keys())
        .find(|pubkey| consensus_address(pubkey) == address)
        .cloned())
}

/// Takes the key out of the set CometBFT has, unless it is the last one:
/// a chain without validators cannot make the block that would bring new
/// ones.
fn remove_from_set(
    state: &mut StateView,
    block: &BlockInfo,
    pubkey: &[u8],
) -> Result<Option<PowerUpdate>, TxError> {
    let mut set = validators::current(state)?;
    if !set.contains_key(pubkey) || set.len() == 1 {
        return Ok(None);
    }
    set.remove(pubkey);
    let removal = (pubkey.to_vec(), 0);
    validators::apply(state, std::slice::from_ref(&removal));
    validators::record_set_from(state, block.height.saturating_add(2), &set);
    Ok(Some(removal))
}

/// Slashes the bond of the operator that registered `pubkey`; a slash the
/// contract refuses is reported in the event, not fatal.
fn slash_operator(
    wasm: &dyn Contracts,
    state: &mut StateView,
    block: &BlockInfo,
    pubkey: &[u8],
    offense_height: u64,
    event: Event,
) -> Result<Event, TxError> {
    let Some(registry) = super::registry(state)? else {
        return Ok(event.attr("error", "no governance contracts are registered"));
    };
    let fraction: Decimal = super::params(state)?.double_sign_slash_fraction;
    let answer = match wasm.query_smart(state, block, &registry.staking, br#"{"validators":{}}"#) {
        Ok(answer) => answer,
        Err(err) => return Ok(event.attr("error", err.log)),
    };
    let response: ValidatorsResponse = serde_json::from_slice(&answer).map_err(|e| {
        TxError::new(
            Code::ContractError,
            format!("staking validators response: {e}"),
        )
    })?;
    let Some(operator) = response
        .validators
        .into_iter()
        .find(|v| v.consensus_pubkey.as_slice() == pubkey)
        .map(|v| v.address)
    else {
        return Ok(event.attr("error", "no bond in nrn-staking names this key"));
    };
    let reason = format!("double sign at height {offense_height}");
    let event = event
        .attr("operator", &operator)
        .attr("fraction", fraction.to_string());
    let slashed = super::sudo::as_chain(wasm, state, block, |ctx| {
        super::sudo::slash(ctx, &operator, fraction, &reason)
    });
    Ok(match slashed {
        Ok(_) => event.attr("slashed", "true"),
        Err(err) => event.attr("slashed", "false").attr("error", err.log),
    })
}

//! Paying the collected fees to the validators that signed, by power.

use std::collections::BTreeMap;

use um_bindings::staking::ValidatorsResponse;

use crate::codes::{Code, TxError};
use crate::context::{BlockInfo, Contracts, Event};
use crate::gov::{self, validators::consensus_address};
use crate::store::StateView;

/// A validator that signed the previous block: its CometBFT consensus
/// address and voting power, as `decided_last_commit` reports them.
pub type Signer = (Vec<u8>, u64);

/// Pays what the fee collector holds to the operators of `signers`, each
/// `pool × power / signed power` rounded down, through the token. What
/// rounding leaves, and the share of a signer no bond in `nrn-staking`
/// names, stays for the next block.
pub fn pay_signers(
    wasm: &dyn Contracts,
    state: &mut StateView,
    block: &BlockInfo,
    signers: &[Signer],
) -> Result<Vec<Event>, TxError> {
    let pool = super::undistributed(state)?;
    let signed_power: u128 = signers.iter().map(|(_, power)| u128::from(*power)).sum();
    if pool == 0 || signed_power == 0 {
        return Ok(Vec::new());
    }
    let Some(registry) = gov::registry(state)? else {
        return Ok(Vec::new());
    };
    let answer = wasm.query_smart(state, block, &registry.staking, br#"{"validators":{}}"#)?;
    let bonded: ValidatorsResponse = serde_json::from_slice(&answer).map_err(|e| {
        TxError::new(
            Code::ContractError,
            format!("staking validators response: {e}"),
        )
    })?;
    // Consensus address → operator, hashed once per block rather than once
    // per signer and bond.
    let operators: BTreeMap<Vec<u8>, String> = bonded
        .validators
        .into_iter()
        .map(|v| (consensus_address(v.consensus_pubkey.as_slice()), v.address))
        .collect();
    let collector = super::fee_collector();
    let mut paid = 0u128;
    let mut events = Vec::new();
    for (address, power) in signers {
        let Some(operator) = operators.get(address).cloned() else {
            continue;
        };
        // pool < 2^128 and power ≤ signed power, so the product is computed
        // in 256 bits to stay exact.
        let share = mul_div(pool, u128::from(*power), signed_power);
        if share == 0 {
            continue;
        }
        let transfer = gov::sudo::as_chain(wasm, state, block, |ctx| {
            gov::sudo::chain_transfer(ctx, &collector, &operator, share)
        });
        let event = Event::new("fee_payout")
            .attr("validator", hex::encode_upper(address))
            .attr("operator", &operator)
            .attr("power", power.to_string());
        match transfer {
            Ok(_) => {
                paid = paid.saturating_add(share);
                events.push(event.attr("amount", format!("{share}{}", super::FEE_DENOM)));
            }
            Err(err) => events.push(event.attr("error", err.log)),
        }
    }
    state.set(
        super::state_key::UNDISTRIBUTED,
        pool.saturating_sub(paid).to_be_bytes().to_vec(),
    );
    Ok(events)
}

/// `a × b / c` rounded down, exact for every u128 input (`c > 0`).
fn mul_div(a: u128, b: u128, c: u128) -> u128 {
    let product = cosmwasm_std::Uint256::from(a) * cosmwasm_std::Uint256::from(b);
    let quotient = product / cosmwasm_std::Uint256::from(c);
    cosmwasm_std::Uint128::try_from(quotient).map_or(u128::MAX, |q| q.u128())
}

#[cfg(test)]
mod tests {
    use super::mul_div;

    #[test]
    fn shares_are_exact_for_large_pools() {
        assert_eq!(mul_div(10, 1, 3), 3);
        assert_eq!(mul_div(u128::MAX, 3, 4), u128::MAX / 4 * 3 + 2);
        assert_eq!(mul_div(1_000_000, 0, 7), 0);
    }
}

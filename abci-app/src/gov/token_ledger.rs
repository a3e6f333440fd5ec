//! NRN balances read and moved where the token keeps them, without the VM.
//!
//! Every tx's fee moves from its signer to the fee collector in CheckTx, in
//! both proposal checks and in FinalizeBlock. Through the token's `sudo`
//! entry that was four VM instances per tx on every node, about 40 % of
//! umd's CPU under load (BENCHMARKS.md, issue 17). The NRN token keeps its
//! balances in cw20-base's `BALANCES` map (`Map<&Addr, Uint128>` under the
//! namespace `balance`), so the chain moves a fee on those entries itself
//! and writes the very bytes the contract's `SudoMsg::Transfer` wrote: same
//! keys, same JSON, no write for a zero amount or a transfer to oneself.
//! The app hashes pinned in `app/tests.rs` hold both paths to that.
//!
//! This binds the token's storage layout: a token migrated to code that
//! keeps balances elsewhere would not see fees move, so any token migration
//! the DAO passes must keep cw20-base's balance map.

use cosmwasm_std::Uint128;

use crate::codes::{Code, TxError};
use crate::store::StateView;
use crate::wasm::contract_storage_key;

/// cw20-base's namespace of `BALANCES` (`cw20_base::state`).
const BALANCES_NAMESPACE: &[u8] = b"balance";

/// Where `token` keeps its balances: the contract's storage prefix, then
/// cw-storage-plus's map prefix (namespace length as u16 big-endian, then
/// the namespace). Computed once per transfer: it decodes the bech32.
fn balances_prefix(token: &str) -> Result<Vec<u8>, TxError> {
    let mut namespace = Vec::with_capacity(2 + BALANCES_NAMESPACE.len());
    namespace.extend_from_slice(&(BALANCES_NAMESPACE.len() as u16).to_be_bytes());
    namespace.extend_from_slice(BALANCES_NAMESPACE);
    contract_storage_key(token, &namespace)
}

/// The state key of `owner`'s balance: the address is the map key's last,
/// unprefixed part.
fn balance_key(prefix: &[u8], owner: &str) -> Vec<u8> {
    [prefix, owner.as_bytes()].concat()
}

/// The balance stored under `key` in micro-NRN (0 when `owner` never held any).
fn balance(state: &StateView, key: &[u8], owner: &str) -> Result<u128, TxError> {
    let Some(bytes) = state.get(key)? else {
        return Ok(0);
    };
    let amount: Uint128 = serde_json::from_slice(&bytes).map_err(|e| {
        TxError::new(
            Code::Internal,
            format!("the token's balance entry of {owner} is not a cw20 amount: {e}"),
        )
    })?;
    Ok(amount.u128())
}

/// Moves `amount` from `from` to `to` as the token's `SudoMsg::Transfer`
/// does: the balance check runs even when nothing moves.
pub fn transfer(
    state: &mut StateView,
    token: &str,
    from: &str,
    to: &str,
    amount: u128,
) -> Result<(), TxError> {
    let prefix = balances_prefix(token)?;
    let from_key = balance_key(&prefix, from);
    let available = balance(state, &from_key, from)?;
    let remaining = available.checked_sub(amount).ok_or_else(|| {
        TxError::new(
            Code::InsufficientFunds,
            format!("insufficient funds: {from} holds {available} but {amount} must be moved"),
        )
    })?;
    if amount == 0 || from == to {
        return Ok(());
    }
    let to_key = balance_key(&prefix, to);
    let received = balance(state, &to_key, to)?
        .checked_add(amount)
        .ok_or_else(|| TxError::new(Code::Internal, format!("the balance of {to} overflows")))?;
    state.set(&from_key, amount_json(remaining));
    state.set(&to_key, amount_json(received));
    Ok(())
}

/// `Uint128` as cw-storage-plus saves it: a JSON string of digits.
fn amount_json(amount: u128) -> Vec<u8> {
    format!("\"{amount}\"").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_values_are_cw20_bases() {
        let token = crate::fee::fee_collector();
        let key = balance_key(&balances_prefix(&token).unwrap(), "um1owner");
        let prefix = contract_storage_key(&token, b"").unwrap();
        assert_eq!(&key[prefix.len()..], b"\x00\x07balanceum1owner");
        assert_eq!(
            amount_json(1234),
            serde_json::to_vec(&Uint128::new(1234)).unwrap()
        );
    }
}

//! The ante step every tx passes before its messages run: auth's checks
//! (timeout, chain id, signature, sequence), then the fee. Shared by
//! CheckTx, PrepareProposal, ProcessProposal, FinalizeBlock and Simulate
//! so none of them can disagree.

use cosmwasm_std::Decimal;

use crate::auth::{self, AuthParams, DecodedTx, Mode, Signer};
use crate::codes::TxError;
use crate::context::{BlockInfo, GasMeter};
use crate::fee;
use crate::store::StateView;

/// Authenticates the tx (the signer's sequence moves) and takes its fee,
/// in `state`; on error the caller discards what was written.
/// `node_min_gas_price` is CheckTx's own floor (`--minimum-gas-prices`),
/// `None` wherever consensus decides.
pub fn run(
    state: &mut StateView,
    block: &BlockInfo,
    tx: &DecodedTx,
    params: &AuthParams,
    gas: &mut GasMeter,
    mode: Mode,
    node_min_gas_price: Option<Decimal>,
) -> Result<(Signer, fee::FeeCharge), TxError> {
    let signer = auth::authenticate(state, tx, &block.chain_id, params, gas, mode)?;
    let fee = fee::charge_fee(state, tx, &signer.address, gas, mode, node_min_gas_price)?;
    Ok((signer, fee))
}

/// The ante step alone, as a tx at `block.height` would meet it, applied to
/// `state` (sequence and fee move; nothing moves on failure). CheckTx admits
/// txs by it and block proposals are held to it: a tx that fails here would
/// fail in the block without paying, so it may not take a block's space.
/// Returns the gas used, on failure too.
pub fn check(
    state: &mut StateView,
    block: &BlockInfo,
    tx: &DecodedTx,
    params: &AuthParams,
    node_min_gas_price: Option<Decimal>,
) -> Result<u64, (TxError, u64)> {
    auth::check_timeout(tx, block.height).map_err(|err| (err, 0))?;
    let mut gas = GasMeter::new(tx.gas_limit);
    state.checkpoint();
    let result = run(
        state,
        block,
        tx,
        params,
        &mut gas,
        Mode::Deliver,
        node_min_gas_price,
    );
    match result {
        Ok(_) => {
            state.keep_checkpoint();
            Ok(gas.used())
        }
        Err(err) => {
            state.discard_checkpoint();
            Err((err, gas.used()))
        }
    }
}

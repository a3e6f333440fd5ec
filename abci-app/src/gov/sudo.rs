//! The chain's calls into the governance suite: minting rewards and moving
//! fees on the token, slashing on staking, minting version tokens on
//! nrn-versions, through the contracts' `sudo` entries, which no account can
//! reach.

use cosmwasm_std::{Decimal, Uint128};
use um_bindings::staking::SudoMsg as StakingSudo;
use um_bindings::token::SudoMsg as TokenSudo;
use um_bindings::versions::{SudoMsg as VersionsSudo, VersionMint};

use crate::codes::{Code, TxError};
use crate::context::{BlockInfo, Contracts, GasMeter, MsgResult, TxContext};
use crate::store::StateView;

/// Gas for the chain's own calls into the governance contracts outside any
/// tx (rewards and slashes at the end of a block, double-sign slashes);
/// bounded so a broken contract cannot stall a block.
const CHAIN_CALL_GAS: u64 = 50_000_000;

/// Runs `call` as the chain itself, outside any tx, with [`CHAIN_CALL_GAS`].
pub fn as_chain<R>(
    wasm: &dyn Contracts,
    state: &mut StateView,
    block: &BlockInfo,
    call: impl FnOnce(&mut TxContext<'_>) -> R,
) -> R {
    let mut gas = GasMeter::new(CHAIN_CALL_GAS);
    let mut ctx = TxContext {
        state,
        block,
        gas: &mut gas,
        tx_index: 0,
        simulate: false,
        wasm,
    };
    call(&mut ctx)
}

/// Mints `amount` micro-NRN to `recipient` (bounded by the token's cap).
pub fn mint_reward(
    ctx: &mut TxContext<'_>,
    recipient: &str,
    amount: u128,
) -> Result<MsgResult, TxError> {
    let registry = registered(ctx)?;
    let msg = TokenSudo::MintReward {
        recipient: recipient.to_string(),
        amount: Uint128::new(amount),
    };
    call(ctx, &registry.token, &msg)
}

/// Moves `amount` micro-NRN from `from` to `to` (fees into the fee
/// collector, and from it to the validators).
pub fn chain_transfer(
    ctx: &mut TxContext<'_>,
    from: &str,
    to: &str,
    amount: u128,
) -> Result<MsgResult, TxError> {
    let registry = registered(ctx)?;
    let msg = TokenSudo::Transfer {
        from: from.to_string(),
        to: to.to_string(),
        amount: Uint128::new(amount),
    };
    call(ctx, &registry.token, &msg)
}

/// Burns `fraction` of `address`'s stake (and pending claims).
pub fn slash(
    ctx: &mut TxContext<'_>,
    address: &str,
    fraction: Decimal,
    reason: &str,
) -> Result<MsgResult, TxError> {
    let registry = registered(ctx)?;
    let msg = StakingSudo::Slash {
        address: address.to_string(),
        fraction,
        reason: reason.to_string(),
    };
    call(ctx, &registry.staking, &msg)
}

/// Mints an accepted version's cw721 tokens on the registered
/// nrn-versions; `None` (nothing done) when the chain registered none.
pub fn mint_version(
    ctx: &mut TxContext<'_>,
    mint: VersionMint,
) -> Result<Option<MsgResult>, TxError> {
    let registry = registered(ctx)?;
    let Some(versions) = registry.versions else {
        return Ok(None);
    };
    call(ctx, &versions, &VersionsSudo::MintVersion(mint)).map(Some)
}

fn registered(ctx: &TxContext<'_>) -> Result<super::Registry, TxError> {
    super::registry(ctx.state)?
        .ok_or_else(|| TxError::new(Code::NotFound, "no governance contracts are registered"))
}

/// Runs the sudo call in its own checkpoint: a refused call leaves nothing.
fn call<M: serde::Serialize>(
    ctx: &mut TxContext<'_>,
    contract: &str,
    msg: &M,
) -> Result<MsgResult, TxError> {
    let msg = serde_json::to_vec(msg).map_err(|e| TxError::new(Code::Internal, e.to_string()))?;
    ctx.state.checkpoint();
    let wasm = ctx.wasm;
    match wasm.sudo(ctx, contract, &msg) {
        Ok(result) => {
            ctx.state.keep_checkpoint();
            Ok(result)
        }
        Err(err) => {
            ctx.state.discard_checkpoint();
            Err(err)
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::context::{BlockInfo, GasMeter};
    use crate::gov::GovModule;
    use crate::module::apply_genesis_sections;
    use crate::store::{StateView, Store};
    use crate::wasm::WasmModule;
    use crate::wasm::WasmVm;

    const NRN: u128 = 1_000_000;

    fn artifacts() -> std::path::PathBuf {
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../artifacts")
    }

    fn balance(
        wasm: &WasmVm,
        state: &StateView,
        block: &BlockInfo,
        token: &str,
        who: &str,
    ) -> String {
        let answer = wasm
            .query_smart(
                state,
                block,
                token,
                json!({"balance": {"address": who}}).to_string().as_bytes(),
            )
            .unwrap();
        serde_json::from_slice::<serde_json::Value>(&answer).unwrap()["balance"]
            .as_str()
            .unwrap()
            .to_string()
    }

    #[test]
    fn chain_mints_rewards_versions_and_slashes_through_sudo_only() {
        let cache = tempfile::tempdir().unwrap();
        let wasm = WasmVm::new(cache.path()).unwrap();
        let store = Store::temporary().unwrap();
        let mut state = store.view();
        let block = BlockInfo {
            chain_id: "t".into(),
            height: 1,
            time_nanos: 1,
            hash: Vec::new(),
        };
        let deployer = crate::address::encode(&[1; 20]);
        let trainer = crate::address::encode(&[2; 20]);

        let mut config = um_governance::DeployConfig::new(&artifacts());
        config.initial_balances = vec![(trainer.clone(), 100 * NRN)];
        config.token_cap = 1_000 * NRN;
        let bond = um_governance::genesis::GenesisBond {
            operator: trainer.clone(),
            amount: 40 * NRN,
            role: um_governance::staking::BondRole::Trainer,
        };
        let mut app_state = serde_json::json!({});
        let suite =
            um_governance::genesis::add_suite(&mut app_state, &config, &deployer, &[bond]).unwrap();
        apply_genesis_sections(
            &[&WasmModule, &GovModule],
            &wasm,
            &mut state,
            &block,
            &app_state,
        )
        .unwrap();

        let mut gas = GasMeter::new(50_000_000);
        let mut ctx = TxContext {
            state: &mut state,
            block: &block,
            gas: &mut gas,
            tx_index: 0,
            simulate: false,
            wasm: &wasm,
        };
        mint_reward(&mut ctx, &trainer, 5 * NRN).unwrap();
        // Past the cap the token refuses, and nothing is minted.
        let err = mint_reward(&mut ctx, &trainer, 10_000 * NRN).unwrap_err();
        assert_eq!(err.code, Code::ContractError, "{}", err.log);
        slash(&mut ctx, &trainer, Decimal::percent(50), "fraud").unwrap();
        let err = slash(&mut ctx, &deployer, Decimal::percent(50), "no stake").unwrap_err();
        assert_eq!(err.code, Code::ContractError);

        assert_eq!(
            balance(&wasm, &state, &block, &suite.token, &trainer),
            (65 * NRN).to_string()
        );
        let stake = wasm
            .query_smart(
                &state,
                &block,
                &suite.staking,
                json!({"stake": {"address": trainer, "height": null}})
                    .to_string()
                    .as_bytes(),
            )
            .unwrap();
        let stake: serde_json::Value = serde_json::from_slice(&stake).unwrap();
        assert_eq!(stake["stake"], (20 * NRN).to_string());
        let info = wasm
            .query_smart(&state, &block, &suite.token, br#"{"token_info":{}}"#)
            .unwrap();
        let info: serde_json::Value = serde_json::from_slice(&info).unwrap();
        // 100 at genesis + 5 minted - 20 slashed and burned.
        assert_eq!(info["total_supply"], (85 * NRN).to_string());

        // Issue 20: a version's tokens, minted by the chain to its trainer.
        let versions = suite.versions.clone().unwrap();
        let mint = VersionMint {
            model_id: "mnist".into(),
            version: 1,
            owners: vec![trainer.clone()],
            weights_sha256: "ab".repeat(32),
            validation_loss: "0.5".into(),
            validation_accuracy: "0.875".into(),
            height: 1,
            dataset_version: 0,
        };
        let minted = as_chain(&wasm, &mut state, &block, |ctx| {
            mint_version(ctx, mint.clone())
        });
        assert!(minted.unwrap().is_some());
        // The same version twice is refused, and leaves nothing.
        let err = as_chain(&wasm, &mut state, &block, |ctx| mint_version(ctx, mint)).unwrap_err();
        assert_eq!(err.code, Code::ContractError, "{}", err.log);
        let owner = wasm
            .query_smart(
                &state,
                &block,
                &versions,
                json!({"owner_of": {"token_id": "mnist.v1"}})
                    .to_string()
                    .as_bytes(),
            )
            .unwrap();
        let owner: serde_json::Value = serde_json::from_slice(&owner).unwrap();
        assert_eq!(owner["owner"], trainer.as_str());
        let count = wasm
            .query_smart(&state, &block, &versions, br#"{"num_tokens":{}}"#)
            .unwrap();
        let count: serde_json::Value = serde_json::from_slice(&count).unwrap();
        assert_eq!(count["count"], 1);
    }
}

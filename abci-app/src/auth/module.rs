//! The auth module's place in the app: genesis accounts and params, the
//! account query.

use serde::{Deserialize, Serialize};

use super::{account, query, state_key, AuthParams};
use crate::address;
use crate::codes::{Code, TxError};
use crate::genesis::{parse_section, section_json};
use crate::module::{GenesisContext, Module, QueryContext};

pub struct AuthModule;

/// `app_state.auth`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthGenesis {
    pub params: AuthParams,
    /// Accounts created at genesis, numbered in this order from 0.
    pub accounts: Vec<String>,
    /// NRN balances that `umd genesis add-account` recorded before the
    /// genesis had the NRN token; `umd genesis deploy-governance` moves
    /// them into the token's initial balances. InitChain refuses a genesis
    /// that still holds any: the token is a contract, so auth cannot mint
    /// them, and starting without them would drop them unnoticed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pending_balances: Vec<PendingBalance>,
}

/// An entry of `app_state.auth.pending_balances`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PendingBalance {
    pub address: String,
    /// Micro-NRN (unrn), a decimal string as cw20 amounts are.
    pub amount: String,
}

impl Module for AuthModule {
    fn name(&self) -> &'static str {
        "auth"
    }

    fn query(
        &self,
        ctx: &QueryContext<'_>,
        path: &str,
        data: &[u8],
    ) -> Option<Result<Vec<u8>, TxError>> {
        (path == query::ACCOUNT_PATH).then(|| query::account(ctx.state, data))
    }

    fn default_genesis(&self) -> serde_json::Value {
        section_json(&AuthGenesis::default())
    }

    fn init_genesis(
        &self,
        ctx: &mut GenesisContext<'_>,
        section: &serde_json::Value,
    ) -> Result<(), TxError> {
        let genesis: AuthGenesis = parse_section(self.name(), section)?;
        if let Some(first) = genesis.pending_balances.first() {
            return Err(TxError::new(
                Code::InvalidRequest,
                format!(
                    "invalid app_state.auth: {} pending NRN balance(s) ({} for {}, …) that no \
                     token mints; `umd genesis deploy-governance` moves them into the NRN \
                     token's initial balances",
                    genesis.pending_balances.len(),
                    first.amount,
                    first.address
                ),
            ));
        }
        let state = &mut *ctx.state;
        state.set(state_key::CHAIN_ID, ctx.block.chain_id.as_bytes().to_vec());
        genesis.params.save(state);
        for name in &genesis.accounts {
            let bytes = address::decode(name)?;
            if account::load(state, &bytes)?.is_none() {
                account::create(state, &bytes)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::context::BlockInfo;
    use crate::module::apply_genesis_sections;
    use crate::store::{StateView, Store};
    use crate::wasm::WasmVm;

    /// The state after applying the auth section (its writes kept in the
    /// view), and whether it applied.
    fn init(app_state: serde_json::Value) -> (StateView, Result<(), String>) {
        let cache = tempfile::tempdir().expect("temp dir");
        let wasm = WasmVm::new(cache.path()).expect("vm");
        let store = Store::temporary().expect("store");
        let block = BlockInfo {
            chain_id: "t".into(),
            height: 1,
            time_nanos: 1,
            hash: Vec::new(),
        };
        let mut state = store.view();
        let result = apply_genesis_sections(&[&AuthModule], &wasm, &mut state, &block, &app_state);
        (state, result)
    }

    #[test]
    fn genesis_accounts_are_numbered_in_order_and_pending_balances_refused() {
        let a = address::encode(&[1; 20]);
        let b = address::encode(&[2; 20]);
        let (state, result) = init(json!({"auth": {"accounts": [a, b]}}));
        result.expect("genesis applies");
        for (name, number) in [(&a, 0), (&b, 1)] {
            let found = account::load(&state, &address::decode(name).expect("address"))
                .expect("load")
                .expect("created at genesis");
            assert_eq!((found.account_number, found.sequence), (number, 0));
        }

        let pending = json!({"auth": {"accounts": [a],
            "pending_balances": [{"address": a, "amount": "12500000"}]}});
        let err = init(pending).1.expect_err("refused");
        assert!(
            err.contains("pending NRN balance") && err.contains("deploy-governance"),
            "{err}"
        );
        // Absent from the default genesis `umd init` writes.
        assert_eq!(AuthModule.default_genesis().get("pending_balances"), None);
    }
}

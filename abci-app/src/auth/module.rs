//! The auth module's place in the app: genesis accounts and params, the
//! account query.

use serde::{Deserialize, Serialize};

use super::{account, query, state_key, AuthParams};
use crate::address;
use crate::codes::TxError;
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

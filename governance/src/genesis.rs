//! The suite deployed at InitChain: `app_state` entries that store the
//! four contracts (token, staking, DAO, version NFTs), instantiate them
//! already linked, bond the genesis
//! validators and register the suite, with no tx needed.

use base64::Engine;
use serde_json::{json, Value};
use um_client::address::contract_address;

use crate::chain::GovError;
use crate::deploy::{DeployConfig, Deployment};
use crate::staking::{bond_hook, BondRole};

/// A stake bonded at genesis; `operator` must hold the NRN (put it in
/// `DeployConfig::initial_balances`).
#[derive(Clone, Debug)]
pub struct GenesisBond {
    pub operator: String,
    pub amount: u128,
    pub role: BondRole,
}

/// Adds the suite to `app_state` (the `app_state` object of genesis.json)
/// and returns the contracts' addresses. Code ids and addresses follow
/// whatever codes and contracts `app_state` already deploys.
pub fn add_suite(
    app_state: &mut Value,
    config: &DeployConfig,
    deployer: &str,
    bonds: &[GenesisBond],
) -> Result<Deployment, GovError> {
    let wasm = app_state
        .as_object_mut()
        .ok_or_else(|| GovError::Invalid("app_state is not a JSON object".into()))?
        .entry("wasm")
        .or_insert_with(|| json!({}));
    for list in ["codes", "contracts", "executions"] {
        if wasm.get(list).is_none() {
            wasm[list] = json!([]);
        }
    }
    let codes_before = wasm["codes"].as_array().map(Vec::len).unwrap_or(0) as u64;
    let contracts_before = wasm["contracts"].as_array().map(Vec::len).unwrap_or(0) as u64;
    let code_id = |k: u64| codes_before + k;
    let token = contract_address(code_id(1), contracts_before + 1);
    let staking = contract_address(code_id(2), contracts_before + 2);
    let dao = contract_address(code_id(3), contracts_before + 3);
    let versions = contract_address(code_id(4), contracts_before + 4);

    let b64 = |bytes: Vec<u8>| base64::engine::general_purpose::STANDARD.encode(bytes);
    let codes = [
        config.read_artifact("nrn_token.wasm")?,
        config.read_artifact("nrn_staking.wasm")?,
        config.read_artifact("nrn_dao.wasm")?,
        config.read_artifact("nrn_versions.wasm")?,
    ];
    for code in codes {
        push(
            &mut wasm["codes"],
            json!({"creator": deployer, "wasm_base64": b64(code)}),
        );
    }
    let contracts = [
        (code_id(1), "nrn-token", config.token_msg()),
        (code_id(2), "nrn-staking", config.staking_msg(&token, &dao)),
        (code_id(3), "nrn-dao", config.dao_msg(&token, &staking)),
        (code_id(4), "nrn-versions", config.versions_msg(&token)),
    ];
    // The DAO is the admin of all four, itself included: a migration is a
    // proposal, never one key's decision (the version check of `migrate`
    // runs inside the new code, so it could not stop a deployer's).
    for (code_id, label, msg) in contracts {
        push(
            &mut wasm["contracts"],
            json!({"code_id": code_id, "creator": deployer, "admin": dao, "label": label, "msg": msg}),
        );
    }
    for bond in bonds {
        let hook = bond_hook(&bond.role).to_string();
        push(
            &mut wasm["executions"],
            json!({
                "sender": bond.operator,
                "contract": token,
                "msg": {"send": {"contract": staking, "amount": bond.amount.to_string(), "msg": b64(hook.into_bytes())}},
            }),
        );
    }
    let gov = app_state
        .as_object_mut()
        .ok_or_else(|| GovError::Invalid("app_state is not a JSON object".into()))?
        .entry("gov")
        .or_insert_with(|| json!({}));
    gov["registry"] = json!({"token": token, "staking": staking, "dao": dao, "versions": versions});
    Ok(Deployment {
        token,
        staking,
        dao,
        versions: Some(versions),
    })
}

fn push(list: &mut Value, item: Value) {
    if let Some(array) = list.as_array_mut() {
        array.push(item);
    }
}

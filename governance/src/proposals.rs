//! `umd gov propose|vote|execute|show`.

use serde_json::{json, Value};
use um_client::rpc::RpcClient;

use crate::chain::{event, smart_query, Chain, GovError};
use crate::deploy::Deployment;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VoteOption {
    Yes,
    No,
    Abstain,
    Veto,
}

impl std::str::FromStr for VoteOption {
    type Err = GovError;
    fn from_str(s: &str) -> Result<Self, GovError> {
        match s {
            "yes" => Ok(Self::Yes),
            "no" => Ok(Self::No),
            "abstain" => Ok(Self::Abstain),
            "veto" => Ok(Self::Veto),
            other => Err(GovError::Invalid(format!(
                "vote must be yes, no, abstain or veto, not {other:?}"
            ))),
        }
    }
}

impl VoteOption {
    fn as_str(self) -> &'static str {
        match self {
            Self::Yes => "yes",
            Self::No => "no",
            Self::Abstain => "abstain",
            Self::Veto => "veto",
        }
    }
}

/// Posts the DAO's deposit with the proposal (a cw20 `Send`) and returns
/// the new proposal's id. `action` is a `ProposalAction` as JSON, e.g.
/// `{"set_hyperparams": {"model_id": "…", "hyperparams": {…}}}`.
pub fn propose(
    chain: &Chain<'_>,
    suite: &Deployment,
    title: &str,
    description: &str,
    action: &Value,
) -> Result<u64, GovError> {
    let config = smart_query(chain.rpc, &suite.dao, &json!({"config": {}}))?;
    let deposit: u128 = config["proposal_deposit"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| GovError::Invalid("DAO config has no proposal_deposit".into()))?;
    let proposal = json!({"title": title, "description": description, "action": action});
    let result = if deposit == 0 {
        chain.execute(&suite.dao, &json!({"propose": proposal}))?
    } else {
        chain.cw20_send(
            &suite.token,
            &suite.dao,
            deposit,
            &json!({"propose": proposal}),
        )?
    };
    let id = event(&result, "wasm", "proposal_id")?;
    id.parse()
        .map_err(|_| GovError::Invalid(format!("proposal id {id:?} is not a number")))
}

/// The `set_round_params` action of `umd gov propose --set-round-params` /
/// `--end-rounds`: `rounds` is a lineage's round params as the chain's JSON
/// (`{"max_contributions":4,"round_blocks":50}`, `outer_learning_rate` "1"
/// and `eval_samples` 0 when absent); `None` ends the lineage's rounds.
/// Checked here against the DAO's bounds, which are the chain's, so that a
/// typo is refused before any tx pays a fee.
pub fn set_round_params_action(model_id: &str, rounds: Option<&str>) -> Result<Value, GovError> {
    let rounds = rounds
        .map(|json| {
            let rounds: um_bindings::RoundParams = serde_json::from_str(json)
                .map_err(|e| GovError::Invalid(format!("round params {json:?}: {e}")))?;
            rounds
                .validate()
                .map_err(|reason| GovError::Invalid(format!("round params: {reason}")))?;
            Ok::<_, GovError>(rounds)
        })
        .transpose()?;
    Ok(json!({"set_round_params": {"model_id": model_id, "rounds": rounds}}))
}

pub fn vote(
    chain: &Chain<'_>,
    suite: &Deployment,
    proposal_id: u64,
    option: VoteOption,
) -> Result<(), GovError> {
    chain.execute(
        &suite.dao,
        &json!({"vote": {"proposal_id": proposal_id, "vote": option.as_str()}}),
    )?;
    Ok(())
}

pub fn execute(chain: &Chain<'_>, suite: &Deployment, proposal_id: u64) -> Result<(), GovError> {
    execute_with_gas(chain, suite, proposal_id, crate::DEFAULT_EXECUTE_GAS)
}

/// [`execute`] with a gas limit: a new lineage's action pays for storing
/// its initial weights (30 gas a byte: about 17 million for 550 KB).
pub fn execute_with_gas(
    chain: &Chain<'_>,
    suite: &Deployment,
    proposal_id: u64,
    gas_limit: u64,
) -> Result<(), GovError> {
    chain.execute_with_gas(
        &suite.dao,
        &json!({"execute": {"proposal_id": proposal_id}}),
        gas_limit,
    )?;
    Ok(())
}

pub fn show(rpc: &RpcClient, suite: &Deployment, proposal_id: u64) -> Result<Value, GovError> {
    smart_query(
        rpc,
        &suite.dao,
        &json!({"proposal": {"proposal_id": proposal_id}}),
    )
}

/// The suite the chain has registered.
pub fn registered_suite(rpc: &RpcClient) -> Result<Deployment, GovError> {
    let value = rpc.query_ok("custom/gov/registry", b"")?;
    let registry: Value =
        serde_json::from_slice(&value).map_err(|e| GovError::Invalid(e.to_string()))?;
    let field = |name: &str| {
        registry[name]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| GovError::Invalid(format!("registry has no {name}")))
    };
    Ok(Deployment {
        token: field("token")?,
        staking: field("staking")?,
        dao: field("dao")?,
        versions: registry["versions"].as_str().map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_round_params_action_is_the_dao_json() {
        let action = set_round_params_action(
            "mnist-mlp",
            Some(r#"{"max_contributions":4,"round_blocks":50}"#),
        )
        .unwrap();
        // The optional fields are spelt out with the chain's defaults, so the
        // proposal shows voters every value it sets.
        assert_eq!(
            action,
            json!({"set_round_params": {"model_id": "mnist-mlp", "rounds": {
                "max_contributions": 4,
                "round_blocks": 50,
                "outer_learning_rate": "1",
                "eval_samples": 0,
                "checkpoint_interval": 0,
                "segments_per_validator": 0,
            }}})
        );
        assert_eq!(
            set_round_params_action("mnist-mlp", None).unwrap(),
            json!({"set_round_params": {"model_id": "mnist-mlp", "rounds": null}})
        );
    }

    #[test]
    fn set_round_params_action_refuses_what_the_dao_would() {
        for (json, expected) in [
            (
                r#"{"max_contributions":17,"round_blocks":50}"#,
                "max_contributions must be between 1 and 16",
            ),
            (
                r#"{"max_contributions":4,"round_blocks":0}"#,
                "round_blocks must be positive",
            ),
            (
                r#"{"max_contributions":4,"round_blocks":5,"outer_learning_rate":"0"}"#,
                "outer_learning_rate must be in (0, 16]",
            ),
            (
                r#"{"max_contributions":4,"round_blocks":5,"outer_lr":"0.5"}"#,
                "unknown field",
            ),
            ("not json", "round params"),
        ] {
            let err = set_round_params_action("m", Some(json)).unwrap_err();
            assert!(
                matches!(&err, GovError::Invalid(why) if why.contains(expected)),
                "{json}: {err}"
            );
        }
    }
}

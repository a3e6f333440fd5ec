//! The `nrn-staking` contract's interface.

use cosmwasm_schema::{cw_serde, QueryResponses};
use cosmwasm_std::{Addr, Binary, Decimal, Uint128};
use cw20::Cw20ReceiveMsg;

#[cw_serde]
pub struct InstantiateMsg {
    /// The cw20 token that is bonded (NRN).
    pub token: String,
    /// May change the config; normally the DAO. `None` until set.
    pub owner: Option<String>,
    pub min_trainer_stake: Uint128,
    pub min_validator_stake: Uint128,
    /// Blocks between `Unbond` and the moment the claim can be collected.
    pub unbonding_period_blocks: u64,
    /// Most validators `Validators {}` returns (the highest stakes);
    /// [`DEFAULT_MAX_VALIDATORS`] when absent.
    #[serde(default)]
    pub max_validators: Option<u32>,
}

/// What a staker bonds for.
#[cw_serde]
pub enum Role {
    Trainer,
    /// `consensus_pubkey`: the validator's 32-byte ed25519 CometBFT key.
    Validator {
        consensus_pubkey: Binary,
    },
}

#[cw_serde]
pub enum ExecuteMsg {
    /// cw20 `Send` hook: bonds the sent amount (the `msg` is a [`ReceiveMsg`]).
    Receive(Cw20ReceiveMsg),
    /// Starts unbonding; the tokens become a claim after the unbonding period.
    Unbond { amount: Uint128 },
    /// Pays out every matured claim.
    Claim {},
    /// Owner only (the DAO).
    UpdateConfig {
        owner: Option<String>,
        min_trainer_stake: Option<Uint128>,
        min_validator_stake: Option<Uint128>,
        unbonding_period_blocks: Option<u64>,
        #[serde(default)]
        max_validators: Option<u32>,
    },
}

/// The `msg` inside a cw20 `Send` to the staking contract.
#[cw_serde]
pub enum ReceiveMsg {
    /// Bonds for `role`; a staker's role is set by its first bond and may be
    /// changed by a later bond.
    ///
    /// Taking a consensus key as a validator needs `consensus_signature`:
    /// the key's ed25519 signature over [`validator_bond_message`] for this
    /// chain and the staker, so nobody can bond (squat) a key that is not
    /// theirs. A staker adding stake to the key it already holds needs none.
    Bond {
        role: Role,
        #[serde(default)]
        consensus_signature: Option<Binary>,
    },
}

/// What a consensus key signs to let `operator` bond it on `chain_id`.
/// Naming the operator means a signature helps nobody else; naming the
/// chain means it is not valid on another.
pub fn validator_bond_message(chain_id: &str, operator: &str) -> Vec<u8> {
    format!("nrn-staking/bond-validator/v1\n{chain_id}\n{operator}").into_bytes()
}

/// Entry points only the chain can call.
#[cw_serde]
pub enum SudoMsg {
    /// Burns `fraction` of the staker's bonded tokens (and pending claims).
    Slash {
        address: String,
        fraction: Decimal,
        reason: String,
    },
}

#[cw_serde]
#[derive(QueryResponses)]
pub enum QueryMsg {
    #[returns(ConfigResponse)]
    Config {},
    /// Bonded stake at the start of block `height` (before that block's
    /// bonds), or now.
    #[returns(StakeResponse)]
    Stake {
        address: String,
        height: Option<u64>,
    },
    #[returns(TotalStakeResponse)]
    TotalStake { height: Option<u64> },
    #[returns(RoleResponse)]
    Role { address: String },
    /// Voting power: bonded stake at the start of block `height`, so stake
    /// bonded in or after the block a proposal started does not count.
    #[returns(VotingPowerResponse)]
    VotingPower { address: String, height: u64 },
    /// The validators whose stake meets the minimum, at most
    /// `max_validators` of them: the highest stakes, equal stakes by
    /// ascending address. The answer is ordered by address.
    #[returns(ValidatorsResponse)]
    Validators {},
    #[returns(ClaimsResponse)]
    Claims { address: String },
}

#[cw_serde]
pub struct ConfigResponse {
    pub token: Addr,
    pub owner: Option<Addr>,
    pub min_trainer_stake: Uint128,
    pub min_validator_stake: Uint128,
    pub unbonding_period_blocks: u64,
    #[serde(default = "default_max_validators")]
    pub max_validators: u32,
}

#[cw_serde]
pub struct StakeResponse {
    pub address: String,
    pub stake: Uint128,
}

#[cw_serde]
pub struct TotalStakeResponse {
    pub total: Uint128,
}

#[cw_serde]
pub struct RoleResponse {
    pub address: String,
    pub role: Option<Role>,
    /// Whether the bonded stake meets the role's minimum.
    pub active: bool,
}

#[cw_serde]
pub struct VotingPowerResponse {
    pub address: String,
    pub power: Uint128,
    pub height: u64,
}

#[cw_serde]
pub struct ValidatorInfo {
    pub address: String,
    pub consensus_pubkey: Binary,
    pub stake: Uint128,
}

#[cw_serde]
pub struct ValidatorsResponse {
    pub validators: Vec<ValidatorInfo>,
}

#[cw_serde]
pub struct Claim {
    pub amount: Uint128,
    /// First height at which `Claim {}` pays it out.
    pub release_height: u64,
}

#[cw_serde]
pub struct ClaimsResponse {
    pub claims: Vec<Claim>,
}

// Bounds of the staking settings, shared by the staking contract (which
// enforces them) and the DAO (which refuses out-of-bound proposals before
// anyone votes on them).

/// Longest unbonding period: about two months at one block per 5 s. Longer
/// would lock stake for no security gain; a typo could lock it for ever.
pub const MAX_UNBONDING_PERIOD_BLOCKS: u64 = 1_000_000;
/// The validator set the chain reads when the config names none. The chain
/// runs the `Validators {}` query under a fixed gas limit, so the set must
/// stay small however many stakers register.
pub const DEFAULT_MAX_VALIDATORS: u32 = 100;
/// Largest `max_validators`: what the chain's epoch query (3M gas) still
/// reads with a wide margin, and more than CometBFT handles comfortably.
pub const MAX_VALIDATORS_LIMIT: u32 = 1_000;

fn default_max_validators() -> u32 {
    DEFAULT_MAX_VALIDATORS
}

/// A staking setting outside its bounds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field}: {reason}")]
pub struct InvalidSetting {
    pub field: &'static str,
    pub reason: String,
}

impl InvalidSetting {
    fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

/// Checks the staking settings that are given (`None` is not checked):
/// minimum stakes above zero (a zero or dust minimum lets anyone register
/// for free and makes a slash of it meaningless), an unbonding period in
/// `1..=MAX_UNBONDING_PERIOD_BLOCKS` (zero would let a staker escape a
/// slash by unbonding in the block it cheats), and `max_validators` in
/// `1..=MAX_VALIDATORS_LIMIT`.
pub fn check_settings(
    min_trainer_stake: Option<Uint128>,
    min_validator_stake: Option<Uint128>,
    unbonding_period_blocks: Option<u64>,
    max_validators: Option<u32>,
) -> Result<(), InvalidSetting> {
    if min_trainer_stake.is_some_and(|min| min.is_zero()) {
        return Err(InvalidSetting::new("min_trainer_stake", "must be above 0"));
    }
    if min_validator_stake.is_some_and(|min| min.is_zero()) {
        return Err(InvalidSetting::new(
            "min_validator_stake",
            "must be above 0",
        ));
    }
    if let Some(period) = unbonding_period_blocks {
        if period == 0 || period > MAX_UNBONDING_PERIOD_BLOCKS {
            return Err(InvalidSetting::new(
                "unbonding_period_blocks",
                format!("must be between 1 and {MAX_UNBONDING_PERIOD_BLOCKS}"),
            ));
        }
    }
    if let Some(max) = max_validators {
        if max == 0 || max > MAX_VALIDATORS_LIMIT {
            return Err(InvalidSetting::new(
                "max_validators",
                format!("must be between 1 and {MAX_VALIDATORS_LIMIT}"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_bounds() {
        let one = Some(Uint128::one());
        assert_eq!(check_settings(one, one, Some(1), Some(1)), Ok(()));
        assert_eq!(
            check_settings(
                None,
                None,
                Some(MAX_UNBONDING_PERIOD_BLOCKS),
                Some(MAX_VALIDATORS_LIMIT)
            ),
            Ok(())
        );
        assert_eq!(check_settings(None, None, None, None), Ok(()));
        let field = |r: Result<(), InvalidSetting>| r.unwrap_err().field;
        assert_eq!(
            field(check_settings(Some(Uint128::zero()), None, None, None)),
            "min_trainer_stake"
        );
        assert_eq!(
            field(check_settings(None, Some(Uint128::zero()), None, None)),
            "min_validator_stake"
        );
        for period in [0, MAX_UNBONDING_PERIOD_BLOCKS + 1, u64::MAX] {
            assert_eq!(
                field(check_settings(None, None, Some(period), None)),
                "unbonding_period_blocks"
            );
        }
        for max in [0, MAX_VALIDATORS_LIMIT + 1] {
            assert_eq!(
                field(check_settings(None, None, None, Some(max))),
                "max_validators"
            );
        }
    }

    #[test]
    fn old_json_still_parses() {
        let instantiate: InstantiateMsg = cosmwasm_std::from_json(
            br#"{"token":"t","owner":null,"min_trainer_stake":"1","min_validator_stake":"2","unbonding_period_blocks":3}"#,
        )
        .unwrap();
        assert_eq!(instantiate.max_validators, None);
        let update: ExecuteMsg = cosmwasm_std::from_json(
            br#"{"update_config":{"owner":"dao","min_trainer_stake":null,"min_validator_stake":null,"unbonding_period_blocks":null}}"#,
        )
        .unwrap();
        assert!(matches!(
            update,
            ExecuteMsg::UpdateConfig {
                max_validators: None,
                ..
            }
        ));
        let config: ConfigResponse = cosmwasm_std::from_json(
            br#"{"token":"t","owner":null,"min_trainer_stake":"1","min_validator_stake":"2","unbonding_period_blocks":3}"#,
        )
        .unwrap();
        assert_eq!(config.max_validators, DEFAULT_MAX_VALIDATORS);
    }
}

//! The contract ↔ chain interface of Unstoppable Models.
//!
//! - [`UmMsg`]: what the DAO asks the chain to do (a custom `CosmosMsg`);
//!   the chain takes it only from the registered DAO contract.
//! - [`UmQuery`]: what contracts may ask the chain.
//! - [`staking`]: the `nrn-staking` interface the DAO and the chain use.
//! - [`token`]: the `nrn-token` entries the chain uses to mint rewards and
//!   to move fees.
//! - [`versions`]: the `nrn-versions` entries the chain uses to mint each
//!   accepted version as a cw721 token and to set the royalty rule.
//! - [`validate_fee_params`] and [`CodeUploadAccess`]: the fee and
//!   code-upload settings the DAO sets through [`UmMsg`].
//! - [`RoundParams`]: the collaborative rounds of a lineage, set (or ended)
//!   by the DAO through [`UmMsg::SetRoundParams`].
//! - [`migrate`]: the guarded cw2 version check that the contracts'
//!   `migrate` entry points share.
//! - `proto` (feature `proto`): [`Hyperparams`] to and from its wire
//!   message `um.training.v1.Hyperparams`, for the chain and the trainer.
//!
//! All numbers are integers or `Decimal`: contracts run in a VM that
//! refuses floating point.

pub mod migrate;
#[cfg(feature = "proto")]
pub mod proto;
pub mod staking;
pub mod token;
pub mod versions;

use cosmwasm_schema::{cw_serde, QueryResponses};
use cosmwasm_std::{Api, Binary, CustomMsg, CustomQuery, Decimal, Uint128};

/// Training hyperparameters of one model lineage, set by the DAO.
#[cw_serde]
pub struct Hyperparams {
    /// SGD learning rate.
    pub learning_rate: Decimal,
    /// Samples per optimizer step.
    pub batch_size: u32,
    /// Optimizer steps in one submitted update.
    pub local_steps: u32,
    /// Largest relative L2 distance between claimed and re-executed weights.
    pub verification_tolerance: Decimal,
    /// Smallest relative drop of validation loss an update must achieve.
    pub min_improvement: Decimal,
    /// NRN (micro-units) minted to the trainer of an accepted update.
    pub reward_per_update: Uint128,
    /// Accepted updates after which the reward halves; 0 never halves.
    pub reward_halving_interval: u64,
}

impl Hyperparams {
    /// Refuses values no trainer could work with.
    pub fn validate(&self) -> Result<(), String> {
        if self.learning_rate.is_zero() {
            return Err("learning_rate must be positive".into());
        }
        if self.batch_size == 0 || self.batch_size > 65_536 {
            return Err("batch_size must be between 1 and 65536".into());
        }
        if self.local_steps == 0 || self.local_steps > 10_000 {
            return Err("local_steps must be between 1 and 10000".into());
        }
        if self.verification_tolerance > Decimal::one() {
            return Err("verification_tolerance must be at most 1".into());
        }
        if self.min_improvement >= Decimal::one() {
            return Err("min_improvement must be below 1".into());
        }
        Ok(())
    }
}

/// Most contributions one collaborative round may take. The chain's own
/// bound (`um_app::training::round::MAX_CONTRIBUTIONS`, each contribution
/// being verified by every validator and merged in end-block); repeated here
/// because the contracts cannot depend on the chain, and a test of the chain
/// checks that the two agree.
pub const MAX_ROUND_CONTRIBUTIONS: u32 = 16;
/// Largest outer learning rate of a round's merge. Above 1 the merge
/// extrapolates past the mean (DiLoCo's outer step on the averaged
/// pseudo-gradient): K contributions from one base move the model about as
/// far as one does, so a step of up to about K makes their samples count.
/// The bound keeps a typo from proposing nonsense; a merge that does not
/// lower the held-out loss is refused anyway.
pub const MAX_OUTER_LEARNING_RATE: u64 = 16;

/// How a model lineage runs its collaborative rounds: many trainers per
/// round, each on its own shard, the verified contributions merged by the
/// chain. The same JSON as the chain's `ModelLineage.rounds`, so that what
/// voters read is what the chain stores; a round copies them when it opens.
/// Unknown fields are refused, as the chain does: a misspelt optional field
/// would otherwise be dropped at proposal time, and voters would pass its
/// default without anyone having asked for it.
#[cw_serde]
#[serde(deny_unknown_fields)]
pub struct RoundParams {
    /// Contributions (shards) per round, 1..=[`MAX_ROUND_CONTRIBUTIONS`].
    pub max_contributions: u32,
    /// Blocks a round stays open for contributions (positive); it closes
    /// earlier once it has `max_contributions`.
    pub round_blocks: u64,
    /// Step of the merge from the head toward the mean of the
    /// contributions, in (0, [`MAX_OUTER_LEARNING_RATE`]]; 1 (the plain
    /// mean) when absent.
    #[serde(default = "Decimal::one")]
    pub outer_learning_rate: Decimal,
    /// Held-out samples each validator evaluates a merged candidate on;
    /// 0 (the whole validation split) when absent.
    #[serde(default)]
    pub eval_samples: u32,
    /// Steps between a contribution's checkpoints; 0 (every validator
    /// re-executes every contribution in full) when absent.
    #[serde(default)]
    pub checkpoint_interval: u32,
    /// Segments of each contribution a validator re-executes; 0 (all) when
    /// absent.
    #[serde(default)]
    pub segments_per_validator: u32,
    /// How contributions travel: one of [`COMPRESSION_SCHEMES`]; full f32
    /// weights when absent. A compressed contribution is its pseudo-gradient
    /// (new − head) in half precision (`f16`, `bf16`) or as the top 64 of
    /// every 4,096 entries (`topk`); see `um_formats::compress`. Compressed
    /// rounds take no checkpoints.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub compression: String,
}

/// The names [`RoundParams::compression`] takes (`""` is `"f32"`).
pub const COMPRESSION_SCHEMES: [&str; 4] = ["f32", "f16", "bf16", "topk"];

impl RoundParams {
    /// The chain's bounds, checked before anyone votes on a proposal the
    /// chain would refuse.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=MAX_ROUND_CONTRIBUTIONS).contains(&self.max_contributions) {
            return Err(format!(
                "max_contributions must be between 1 and {MAX_ROUND_CONTRIBUTIONS}"
            ));
        }
        if self.round_blocks == 0 {
            return Err("round_blocks must be positive".into());
        }
        if self.outer_learning_rate.is_zero()
            || self.outer_learning_rate > Decimal::from_ratio(MAX_OUTER_LEARNING_RATE, 1u64)
        {
            return Err(format!(
                "outer_learning_rate must be in (0, {MAX_OUTER_LEARNING_RATE}]"
            ));
        }
        let compressed = !self.compression.is_empty() && self.compression != "f32";
        if !self.compression.is_empty() && !COMPRESSION_SCHEMES.contains(&self.compression.as_str())
        {
            return Err(format!(
                "compression must be one of {}, not {:?}",
                COMPRESSION_SCHEMES.join(", "),
                self.compression
            ));
        }
        if compressed && self.checkpoint_interval > 0 {
            return Err(
                "a compressed round takes no checkpoints: checkpoint_interval must be 0".into(),
            );
        }
        Ok(())
    }
}

/// Refuses fee settings of a [`UmMsg::SetFeeParams`] the chain could not
/// apply; `None` fields are not checked. Every bound is on one field alone,
/// so the DAO can check a proposal without knowing the chain's current
/// settings. A zero `min_gas_price` (free transactions) is allowed.
pub fn validate_fee_params(
    _min_gas_price: Option<Decimal>,
    validator_reward_share: Option<Decimal>,
    _verification_fee: Option<Uint128>,
) -> Result<(), String> {
    // Every field is a parameter, unchecked ones too, so a bound added later
    // reaches every caller without changing a call.
    if validator_reward_share.is_some_and(|share| share > Decimal::one()) {
        return Err("validator_reward_share must be at most 1".into());
    }
    Ok(())
}

/// Who may store wasm code, as wasmd's `code_upload_access`. The DAO may
/// always upload, with [`UmMsg::StoreCode`]. JSON: `"everybody"`,
/// `"dao_only"`, `{"any_of":{"addresses":["um1…"]}}`.
#[cw_serde]
pub enum CodeUploadAccess {
    /// Any account.
    Everybody,
    /// Nobody but the DAO (wasmd's "nobody" plus governance).
    DaoOnly,
    /// The listed accounts, and the DAO.
    AnyOf { addresses: Vec<String> },
}

/// Bytes of an account address (a hash of a secp256k1 key); contract
/// addresses are 32 bytes and cannot sign the tx that carries an upload.
pub const ACCOUNT_ADDRESS_LEN: usize = 20;

impl CodeUploadAccess {
    /// Refuses what the chain would refuse when the proposal executes
    /// (a passed proposal that fails only then has cost its voters a vote):
    /// an allow list that is empty (it would mean `DaoOnly`, so a proposal
    /// saying `AnyOf` would not do what voters read), that names an invalid
    /// address, one that is not an account's (20 bytes), or one twice.
    pub fn validate(&self, api: &dyn Api) -> Result<(), String> {
        let CodeUploadAccess::AnyOf { addresses } = self else {
            return Ok(());
        };
        if addresses.is_empty() {
            return Err("any_of needs at least one address (use dao_only)".into());
        }
        let mut seen = std::collections::BTreeSet::new();
        for address in addresses {
            api.addr_validate(address)
                .map_err(|err| format!("{address:?} is not a valid address: {err}"))?;
            let canonical = api
                .addr_canonicalize(address)
                .map_err(|err| format!("{address:?} is not a valid address: {err}"))?;
            if canonical.len() != ACCOUNT_ADDRESS_LEN {
                return Err(format!(
                    "{address:?} is not an account address ({} bytes, expected \
                     {ACCOUNT_ADDRESS_LEN}): only accounts sign uploads",
                    canonical.len()
                ));
            }
            if !seen.insert(canonical.to_vec()) {
                return Err(format!("{address:?} is listed twice"));
            }
        }
        Ok(())
    }

    /// Whether `uploader` may store code; `dao` is the registered DAO.
    pub fn permits(&self, uploader: &str, dao: &str) -> bool {
        uploader == dao
            || match self {
                CodeUploadAccess::Everybody => true,
                CodeUploadAccess::DaoOnly => false,
                CodeUploadAccess::AnyOf { addresses } => addresses.iter().any(|a| a == uploader),
            }
    }
}

/// Chain messages a contract can emit as `CosmosMsg::Custom`.
#[cw_serde]
pub enum UmMsg {
    /// Replaces the hyperparameters of an existing model lineage.
    SetHyperparams {
        model_id: String,
        hyperparams: Hyperparams,
    },
    /// Applies a proposed dataset delta, making a new dataset version.
    AcceptDatasetDelta { delta_id: u64 },
    /// Drops a proposed dataset delta.
    RejectDatasetDelta { delta_id: u64 },
    /// Starts a new model lineage. Architecture changes are always a new
    /// lineage, never a silent change of an existing one.
    CreateModelLineage {
        model_id: String,
        /// The architecture as the trainer's JSON model spec.
        spec: String,
        hyperparams: Hyperparams,
        /// The dataset lineage it trains on; the chain's default dataset
        /// when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dataset_id: Option<String>,
    },
    /// Points the chain at other governance contracts (e.g. a migrated
    /// suite). Once the suite is registered, only the DAO can do this.
    UpdateRegistry {
        token: String,
        staking: String,
        dao: String,
        /// The `nrn-versions` contract the chain mints version tokens on;
        /// absent: none (no tokens are minted).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        versions: Option<String>,
    },
    /// Changes the fee settings (bounds: [`validate_fee_params`]); `None`
    /// leaves a field as it is.
    SetFeeParams {
        /// unrn per gas unit.
        min_gas_price: Option<Decimal>,
        /// Fraction (0..=1) of each training reward paid to the validators.
        validator_reward_share: Option<Decimal>,
        /// unrn an update pays at submission, refunded when accepted.
        verification_fee: Option<Uint128>,
    },
    /// Changes who may store wasm code.
    SetCodeUploadAccess { access: CodeUploadAccess },
    /// Stores wasm code as the DAO: the only way to upload while access is
    /// [`CodeUploadAccess::DaoOnly`].
    StoreCode { wasm_byte_code: Binary },
    /// Sets the collaborative rounds of an existing lineage (bounds:
    /// [`RoundParams::validate`]); `None` ends them. A round in progress
    /// finishes with the params it opened with.
    SetRoundParams {
        model_id: String,
        rounds: Option<RoundParams>,
    },
    /// Sets the rewards of the 2017 design (bounds:
    /// [`validate_reward_params`]); `None` leaves a field as it is. A
    /// fraction above zero replaces the lineages' fixed `reward_per_update`.
    SetRewardParams {
        /// Fraction of the token's supply minted per accepted version
        /// (the design's 0.001 %: `0.00001`); 0 keeps each lineage's
        /// `reward_per_update`.
        version_supply_fraction: Option<Decimal>,
        /// Fraction of the supply minted to the proposer of an accepted
        /// dataset delta (the design's 0.0001 %: `0.000001`); 0: none.
        delta_supply_fraction: Option<Decimal>,
        /// Both fractions halve every this many blocks (the design's 4
        /// years: 25,228,800 blocks of 5 s); 0: never.
        halving_blocks: Option<u64>,
    },
    /// Sets how tips on a lineage are shared among the holders of its
    /// version tokens (bounds: [`versions::validate_royalty_rule`]): equal
    /// parts to each of the last `last_versions` versions.
    SetRoyaltyRule { last_versions: u32 },
}

impl CustomMsg for UmMsg {}

/// The largest fraction of the supply one reward may mint (1 %): a typo
/// in a proposal must not inflate the token at once.
pub const MAX_REWARD_SUPPLY_FRACTION: Decimal = Decimal::percent(1);

/// Refuses reward settings of a [`UmMsg::SetRewardParams`] the chain could
/// not apply; `None` fields are not checked.
pub fn validate_reward_params(
    version_supply_fraction: Option<Decimal>,
    delta_supply_fraction: Option<Decimal>,
    _halving_blocks: Option<u64>,
) -> Result<(), String> {
    for (name, fraction) in [
        ("version_supply_fraction", version_supply_fraction),
        ("delta_supply_fraction", delta_supply_fraction),
    ] {
        if fraction.is_some_and(|f| f > MAX_REWARD_SUPPLY_FRACTION) {
            return Err(format!(
                "{name} must be at most {MAX_REWARD_SUPPLY_FRACTION} (1 %)"
            ));
        }
    }
    Ok(())
}

/// Chain queries a contract can make as `QueryRequest::Custom`.
#[cw_serde]
#[derive(QueryResponses)]
pub enum UmQuery {
    #[returns(HyperparamsResponse)]
    Hyperparams { model_id: String },
    #[returns(HeadVersionResponse)]
    HeadVersion { model_id: String },
}

impl CustomQuery for UmQuery {}

#[cw_serde]
pub struct HyperparamsResponse {
    pub model_id: String,
    /// `None` when no lineage has this id.
    pub hyperparams: Option<Hyperparams>,
}

#[cw_serde]
pub struct HeadVersionResponse {
    pub model_id: String,
    /// The newest accepted version; `None` before the first one.
    pub version: Option<u64>,
    /// Hex SHA-256 of the head weights.
    pub weights_hash: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use cosmwasm_std::testing::MockApi;
    use cosmwasm_std::{from_json, to_json_string};

    #[test]
    fn code_upload_access_json_is_wasmd_like_snake_case() {
        let cases = [
            (CodeUploadAccess::Everybody, r#""everybody""#),
            (CodeUploadAccess::DaoOnly, r#""dao_only""#),
            (
                CodeUploadAccess::AnyOf {
                    addresses: vec!["um1abc".to_string()],
                },
                r#"{"any_of":{"addresses":["um1abc"]}}"#,
            ),
        ];
        for (access, json) in cases {
            assert_eq!(to_json_string(&access).unwrap(), json);
            assert_eq!(from_json::<CodeUploadAccess>(json).unwrap(), access);
        }
    }

    #[test]
    fn new_um_msgs_json() {
        let msg = UmMsg::SetFeeParams {
            min_gas_price: Some(Decimal::permille(25)),
            validator_reward_share: None,
            verification_fee: Some(Uint128::new(1_000)),
        };
        assert_eq!(
            to_json_string(&msg).unwrap(),
            r#"{"set_fee_params":{"min_gas_price":"0.025","validator_reward_share":null,"verification_fee":"1000"}}"#
        );
        let msg = UmMsg::SetCodeUploadAccess {
            access: CodeUploadAccess::DaoOnly,
        };
        assert_eq!(
            to_json_string(&msg).unwrap(),
            r#"{"set_code_upload_access":{"access":"dao_only"}}"#
        );
        let msg = UmMsg::StoreCode {
            wasm_byte_code: Binary::from(b"\0asm".to_vec()),
        };
        assert_eq!(
            to_json_string(&msg).unwrap(),
            r#"{"store_code":{"wasm_byte_code":"AGFzbQ=="}}"#
        );
    }

    fn round_params() -> RoundParams {
        RoundParams {
            max_contributions: 4,
            round_blocks: 50,
            outer_learning_rate: Decimal::percent(50),
            eval_samples: 256,
            checkpoint_interval: 0,
            segments_per_validator: 0,
            compression: String::new(),
        }
    }

    #[test]
    fn set_round_params_json() {
        let msg = UmMsg::SetRoundParams {
            model_id: "mnist-mlp".into(),
            rounds: Some(round_params()),
        };
        let json = r#"{"set_round_params":{"model_id":"mnist-mlp","rounds":{"max_contributions":4,"round_blocks":50,"outer_learning_rate":"0.5","eval_samples":256,"checkpoint_interval":0,"segments_per_validator":0}}}"#;
        assert_eq!(to_json_string(&msg).unwrap(), json);
        assert_eq!(from_json::<UmMsg>(json).unwrap(), msg);
        // Older JSON without the checkpoint fields: no checkpoints.
        let older = r#"{"set_round_params":{"model_id":"mnist-mlp","rounds":{"max_contributions":4,"round_blocks":50,"outer_learning_rate":"0.5","eval_samples":256}}}"#;
        assert_eq!(from_json::<UmMsg>(older).unwrap(), msg);
        let end = UmMsg::SetRoundParams {
            model_id: "mnist-mlp".into(),
            rounds: None,
        };
        let json = r#"{"set_round_params":{"model_id":"mnist-mlp","rounds":null}}"#;
        assert_eq!(to_json_string(&end).unwrap(), json);
        assert_eq!(from_json::<UmMsg>(json).unwrap(), end);
    }

    #[test]
    fn round_params_defaults_as_the_chain() {
        let rounds: RoundParams =
            from_json(r#"{"max_contributions":2,"round_blocks":10}"#).unwrap();
        assert_eq!(
            rounds,
            RoundParams {
                max_contributions: 2,
                round_blocks: 10,
                outer_learning_rate: Decimal::one(),
                eval_samples: 0,
                checkpoint_interval: 0,
                segments_per_validator: 0,
                compression: String::new(),
            }
        );
        // A scheme is named when set, and left out when not (the JSON
        // voters read and the chain stores is unchanged for f32 rounds).
        let topk = RoundParams {
            compression: "topk".into(),
            ..rounds.clone()
        };
        let json = to_json_string(&topk).unwrap();
        assert!(json.ends_with(r#""compression":"topk"}"#), "{json}");
        assert!(!to_json_string(&rounds).unwrap().contains("compression"));
        assert_eq!(from_json::<RoundParams>(&json).unwrap(), topk);
        // A misspelt field is refused, not silently left at its default.
        assert!(from_json::<RoundParams>(
            r#"{"max_contributions":2,"round_blocks":10,"outer_lr":"0.5"}"#
        )
        .is_err());
    }

    #[test]
    fn round_params_bounds() {
        assert_eq!(round_params().validate(), Ok(()));
        let with = |change: fn(&mut RoundParams)| {
            let mut rounds = round_params();
            change(&mut rounds);
            rounds.validate()
        };
        // The edges the chain accepts.
        assert_eq!(with(|r| r.max_contributions = 1), Ok(()));
        assert_eq!(
            with(|r| r.max_contributions = MAX_ROUND_CONTRIBUTIONS),
            Ok(())
        );
        assert_eq!(with(|r| r.round_blocks = 1), Ok(()));
        assert_eq!(with(|r| r.outer_learning_rate = Decimal::one()), Ok(()));
        assert_eq!(
            with(|r| r.outer_learning_rate = Decimal::raw(1)),
            Ok(()),
            "the smallest positive rate"
        );
        assert_eq!(with(|r| r.eval_samples = 0), Ok(()));
        assert_eq!(with(|r| r.eval_samples = u32::MAX), Ok(()));

        let contributions = Err("max_contributions must be between 1 and 16".to_string());
        assert_eq!(with(|r| r.max_contributions = 0), contributions);
        assert_eq!(with(|r| r.max_contributions = 17), contributions);
        assert_eq!(
            with(|r| r.round_blocks = 0),
            Err("round_blocks must be positive".to_string())
        );
        let rate = Err("outer_learning_rate must be in (0, 16]".to_string());
        assert_eq!(with(|r| r.outer_learning_rate = Decimal::zero()), rate);
        assert_eq!(
            with(|r| r.outer_learning_rate = Decimal::percent(1601)),
            rate
        );
        assert_eq!(
            with(|r| r.outer_learning_rate = Decimal::percent(1600)),
            Ok(())
        );
        assert_eq!(
            with(|r| r.outer_learning_rate = Decimal::percent(250)),
            Ok(())
        );
    }

    #[test]
    fn fee_params_bounds() {
        assert_eq!(validate_fee_params(None, None, None), Ok(()));
        assert_eq!(
            validate_fee_params(
                Some(Decimal::zero()),
                Some(Decimal::one()),
                Some(Uint128::zero())
            ),
            Ok(())
        );
        assert_eq!(
            validate_fee_params(
                Some(Decimal::MAX),
                Some(Decimal::zero()),
                Some(Uint128::MAX)
            ),
            Ok(())
        );
        assert_eq!(
            validate_fee_params(None, Some(Decimal::percent(101)), None),
            Err("validator_reward_share must be at most 1".to_string())
        );
    }

    /// A 20-byte account address under `api` (MockApi's `addr_make` makes
    /// 32-byte ones, as contracts have).
    fn account(api: &MockApi, byte: u8) -> String {
        api.addr_humanize(&vec![byte; ACCOUNT_ADDRESS_LEN].into())
            .unwrap()
            .to_string()
    }

    #[test]
    fn code_upload_access_validation_and_permission() {
        let api = MockApi::default();
        let alice = account(&api, 1);
        let dao = api.addr_make("dao").to_string();
        let stranger = account(&api, 2);
        assert_eq!(CodeUploadAccess::Everybody.validate(&api), Ok(()));
        assert_eq!(CodeUploadAccess::DaoOnly.validate(&api), Ok(()));
        let allow = CodeUploadAccess::AnyOf {
            addresses: vec![alice.clone()],
        };
        assert_eq!(allow.validate(&api), Ok(()));
        assert!(CodeUploadAccess::AnyOf { addresses: vec![] }
            .validate(&api)
            .is_err());
        assert!(CodeUploadAccess::AnyOf {
            addresses: vec![alice.clone(), "not-an-address".to_string()],
        }
        .validate(&api)
        .is_err());
        // What the chain refuses at execution is refused at the proposal.
        let contract = api.addr_make("contract").to_string();
        let refused = CodeUploadAccess::AnyOf {
            addresses: vec![contract],
        }
        .validate(&api)
        .unwrap_err();
        assert!(
            refused.contains("not an account address (32 bytes"),
            "{refused}"
        );
        let twice = CodeUploadAccess::AnyOf {
            addresses: vec![alice.clone(), stranger.clone(), alice.clone()],
        }
        .validate(&api)
        .unwrap_err();
        assert!(twice.contains("listed twice"), "{twice}");

        assert!(CodeUploadAccess::Everybody.permits(&stranger, &dao));
        assert!(!CodeUploadAccess::DaoOnly.permits(&stranger, &dao));
        assert!(CodeUploadAccess::DaoOnly.permits(&dao, &dao));
        assert!(allow.permits(&alice, &dao));
        assert!(allow.permits(&dao, &dao));
        assert!(!allow.permits(&stranger, &dao));
    }
}

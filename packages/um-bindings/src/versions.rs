//! The `nrn-versions` contract's chain-facing interface: every accepted
//! model version is a cw721 token, minted by the chain alone (through
//! `sudo`, which no account can reach), and tips in NRN on a lineage are
//! split among the current holders of its latest versions' tokens by the
//! rule the DAO sets.

use cosmwasm_schema::cw_serde;

use crate::MAX_ROUND_CONTRIBUTIONS;

/// Royalty rule of a fresh contract: tips are shared over the last this
/// many versions of the lineage.
pub const DEFAULT_ROYALTY_LAST_VERSIONS: u32 = 10;

/// The most versions one tip is shared over: a tip pays one transfer per
/// holder, so the rule bounds the work a tip does (its gas is the
/// tipper's, but a rule nobody can afford to tip under is no rule).
pub const MAX_ROYALTY_LAST_VERSIONS: u32 = 100;

/// The most tokens one version mints: one per merged contribution.
pub const MAX_VERSION_OWNERS: u32 = MAX_ROUND_CONTRIBUTIONS;

#[cw_serde]
pub struct InstantiateMsg {
    /// cw721 collection name and symbol.
    pub name: String,
    pub symbol: String,
    /// The cw20 token tips are paid in (NRN); any other is refused.
    pub token: String,
    /// The royalty rule until the DAO sets another.
    pub royalty_last_versions: u32,
}

/// Entries only the chain calls.
#[cw_serde]
pub enum SudoMsg {
    /// Mints the tokens of an accepted version: one to each owner.
    MintVersion(VersionMint),
    /// Tips on a lineage go, in equal parts, to each of its last
    /// `last_versions` versions, a version's part in equal parts to the
    /// holders of its tokens. Set by the DAO through the chain
    /// ([`crate::UmMsg::SetRoyaltyRule`]).
    SetRoyaltyRule { last_versions: u32 },
}

/// What the chain recorded of an accepted version, carried into its tokens'
/// metadata.
#[cw_serde]
pub struct VersionMint {
    pub model_id: String,
    pub version: u64,
    /// The version's trainer, or each merged contributor of a round in
    /// contribution order (one address may appear more than once).
    pub owners: Vec<String>,
    /// Hex SHA-256 of the version's weights (safetensors bytes).
    pub weights_sha256: String,
    /// Held-out loss and accuracy as the chain recorded them (the median of
    /// the validators' measurements), written by the chain as decimal text:
    /// contracts do no floating point.
    pub validation_loss: String,
    pub validation_accuracy: String,
    /// Block height of the acceptance.
    pub height: u64,
    /// Dataset version the version was trained on.
    pub dataset_version: u64,
}

/// Refuses a royalty rule the contract would refuse.
pub fn validate_royalty_rule(last_versions: u32) -> Result<(), String> {
    if (1..=MAX_ROYALTY_LAST_VERSIONS).contains(&last_versions) {
        Ok(())
    } else {
        Err(format!(
            "last_versions must be 1..={MAX_ROYALTY_LAST_VERSIONS}, not {last_versions}"
        ))
    }
}

/// The token id of an accepted version's `index`-th token (0-based):
/// `mnist.v12` for a version with one owner, `mnist.v12.1`, `mnist.v12.2`,
/// ... for a round's contributors. Model ids are `[a-z0-9_-]`, so the dots
/// cannot be confused with them.
pub fn token_id(model_id: &str, version: u64, index: usize, owners: usize) -> String {
    if owners <= 1 {
        format!("{model_id}.v{version}")
    } else {
        format!("{model_id}.v{version}.{}", index + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_ids_name_the_version_and_the_contribution() {
        assert_eq!(token_id("mnist", 12, 0, 1), "mnist.v12");
        assert_eq!(token_id("gpt-tiny", 3, 0, 2), "gpt-tiny.v3.1");
        assert_eq!(token_id("gpt-tiny", 3, 1, 2), "gpt-tiny.v3.2");
    }

    #[test]
    fn the_royalty_rule_is_bounded() {
        assert!(validate_royalty_rule(0).is_err());
        assert!(validate_royalty_rule(1).is_ok());
        assert!(validate_royalty_rule(MAX_ROYALTY_LAST_VERSIONS).is_ok());
        assert!(validate_royalty_rule(MAX_ROYALTY_LAST_VERSIONS + 1).is_err());
    }
}

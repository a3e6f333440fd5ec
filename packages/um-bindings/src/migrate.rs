//! The guarded `migrate` that the NRN contracts share: only code stored under
//! the contract's own cw2 name is accepted, the version never moves
//! backwards, and a newer version is recorded.

use cosmwasm_std::{StdError, Storage};
use cw2::{get_contract_version, set_contract_version};
use semver::Version;
use thiserror::Error;

#[derive(Error, Debug, PartialEq)]
pub enum MigrateError {
    #[error("{0}")]
    Std(#[from] StdError),

    #[error("cannot migrate from contract `{found}`: expected `{expected}`")]
    WrongContract { expected: String, found: String },

    #[error("cannot migrate from version {stored} to older version {new}")]
    CannotDowngrade { stored: String, new: String },

    #[error("invalid contract version `{version}`: {reason}")]
    InvalidVersion { version: String, reason: String },
}

/// The versions a migration went between.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrateOutcome {
    /// The cw2 version stored before the migration.
    pub from_version: String,
    /// The version of the new code.
    pub to_version: String,
}

/// Checks that the stored cw2 contract is `name` and that `version` is not
/// older than the stored version (both must be semver), then records
/// `version` when it is newer; an equal version leaves storage untouched.
pub fn check_and_record(
    storage: &mut dyn Storage,
    name: &str,
    version: &str,
) -> Result<MigrateOutcome, MigrateError> {
    let stored = get_contract_version(storage)?;
    if stored.contract != name {
        return Err(MigrateError::WrongContract {
            expected: name.to_string(),
            found: stored.contract,
        });
    }
    let stored_version = parse_version(&stored.version)?;
    let new_version = parse_version(version)?;
    if stored_version > new_version {
        return Err(MigrateError::CannotDowngrade {
            stored: stored.version,
            new: version.to_string(),
        });
    }
    if stored_version < new_version {
        set_contract_version(storage, name, version)?;
    }
    Ok(MigrateOutcome {
        from_version: stored.version,
        to_version: version.to_string(),
    })
}

fn parse_version(version: &str) -> Result<Version, MigrateError> {
    version
        .parse()
        .map_err(|e: semver::Error| MigrateError::InvalidVersion {
            version: version.to_string(),
            reason: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cosmwasm_std::testing::MockStorage;
    use cw2::ContractVersion;

    const NAME: &str = "crates.io:nrn-test";

    fn stored(storage: &dyn Storage) -> ContractVersion {
        get_contract_version(storage).unwrap()
    }

    #[test]
    fn nothing_stored_is_a_std_error() {
        let mut storage = MockStorage::new();
        let err = check_and_record(&mut storage, NAME, "1.0.0").unwrap_err();
        assert!(matches!(err, MigrateError::Std(_)), "{err:?}");
    }

    #[test]
    fn wrong_name_is_refused_and_storage_kept() {
        let mut storage = MockStorage::new();
        set_contract_version(&mut storage, "crates.io:cw20-base", "0.0.1").unwrap();
        let err = check_and_record(&mut storage, NAME, "1.0.0").unwrap_err();
        assert_eq!(
            err,
            MigrateError::WrongContract {
                expected: NAME.to_string(),
                found: "crates.io:cw20-base".to_string(),
            }
        );
        assert_eq!(
            err.to_string(),
            "cannot migrate from contract `crates.io:cw20-base`: expected `crates.io:nrn-test`"
        );
        let kept = stored(&storage);
        assert_eq!(kept.contract, "crates.io:cw20-base");
        assert_eq!(kept.version, "0.0.1");
    }

    #[test]
    fn downgrade_is_refused_and_version_kept() {
        let mut storage = MockStorage::new();
        set_contract_version(&mut storage, NAME, "2.0.0").unwrap();
        let err = check_and_record(&mut storage, NAME, "1.9.9").unwrap_err();
        assert_eq!(
            err,
            MigrateError::CannotDowngrade {
                stored: "2.0.0".to_string(),
                new: "1.9.9".to_string(),
            }
        );
        assert_eq!(
            err.to_string(),
            "cannot migrate from version 2.0.0 to older version 1.9.9"
        );
        assert_eq!(stored(&storage).version, "2.0.0");
    }

    #[test]
    fn same_version_is_a_no_op() {
        let mut storage = MockStorage::new();
        set_contract_version(&mut storage, NAME, "1.2.3").unwrap();
        let before = storage.get(b"contract_info");
        let outcome = check_and_record(&mut storage, NAME, "1.2.3").unwrap();
        assert_eq!(
            outcome,
            MigrateOutcome {
                from_version: "1.2.3".to_string(),
                to_version: "1.2.3".to_string(),
            }
        );
        assert!(before.is_some());
        assert_eq!(storage.get(b"contract_info"), before);
    }

    #[test]
    fn upgrade_records_the_new_version() {
        let mut storage = MockStorage::new();
        set_contract_version(&mut storage, NAME, "0.1.0").unwrap();
        let outcome = check_and_record(&mut storage, NAME, "0.2.0").unwrap();
        assert_eq!(
            outcome,
            MigrateOutcome {
                from_version: "0.1.0".to_string(),
                to_version: "0.2.0".to_string(),
            }
        );
        let now = stored(&storage);
        assert_eq!(now.contract, NAME);
        assert_eq!(now.version, "0.2.0");
    }

    #[test]
    fn invalid_semver_is_refused() {
        // Stored version not semver.
        let mut storage = MockStorage::new();
        set_contract_version(&mut storage, NAME, "v1").unwrap();
        let err = check_and_record(&mut storage, NAME, "1.0.0").unwrap_err();
        assert!(
            matches!(err, MigrateError::InvalidVersion { ref version, .. } if version == "v1"),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .starts_with("invalid contract version `v1`: "),
            "{err}"
        );
        assert_eq!(stored(&storage).version, "v1");

        // New version not semver.
        set_contract_version(&mut storage, NAME, "1.0.0").unwrap();
        let err = check_and_record(&mut storage, NAME, "not-semver").unwrap_err();
        assert!(
            matches!(err, MigrateError::InvalidVersion { ref version, .. } if version == "not-semver"),
            "{err:?}"
        );
        assert_eq!(stored(&storage).version, "1.0.0");
    }
}

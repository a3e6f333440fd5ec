//! The module's parameters: who may upload code (wasmd's
//! `code_upload_access`). Set in genesis (`app_state.wasm.params`) and by
//! the DAO through [`set_code_upload_access`]; kept in state as JSON under
//! [`state_key::params`], absent meaning the defaults, so a chain whose
//! genesis names no params lets everybody upload, as before they existed.

use std::collections::BTreeSet;

use cosmos_sdk_proto::cosmwasm::wasm::v1::{AccessConfig, AccessType};
use serde::{Deserialize, Serialize};

use super::address;
use super::state_key;
use crate::codes::{Code, TxError};
use crate::store::StateView;

/// Account addresses are 20 bytes (a hash of a secp256k1 key); contract
/// addresses are 32 and cannot sign the tx that carries a `MsgStoreCode`.
const ACCOUNT_ADDRESS_LEN: usize = 20;

/// Who may store code with `MsgStoreCode`. The JSON is `"everybody"`,
/// `"dao_only"` or `{"any_of":{"addresses":["um1…"]}}`, the shape of the
/// contracts' helper in `um-bindings`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum CodeUploadAccess {
    #[default]
    Everybody,
    /// No account: only the DAO, through the chain's own upload path
    /// ([`super::WasmVm::store_code_as`]).
    DaoOnly,
    /// Only these accounts (and the DAO, through its own path).
    AnyOf { addresses: Vec<String> },
}

impl CodeUploadAccess {
    /// The rule's name in logs and errors, as genesis spells it.
    fn name(&self) -> &'static str {
        match self {
            CodeUploadAccess::Everybody => "everybody",
            CodeUploadAccess::DaoOnly => "dao_only",
            CodeUploadAccess::AnyOf { .. } => "any_of",
        }
    }

    /// An allow list must name at least one account, each once, in the one
    /// spelling [`address::decode`] accepts, so that admitting a sender is
    /// a plain string comparison.
    pub fn validate(&self) -> Result<(), TxError> {
        let CodeUploadAccess::AnyOf { addresses } = self else {
            return Ok(());
        };
        if addresses.is_empty() {
            return Err(TxError::new(
                Code::InvalidRequest,
                "code_upload_access any_of: addresses must not be empty \
                 (use dao_only to admit nobody but the DAO)",
            ));
        }
        let mut seen = BTreeSet::new();
        for (index, account) in addresses.iter().enumerate() {
            let field = format!("code_upload_access any_of address #{}", index + 1);
            let bytes = address::decode_field(&field, account)?;
            if bytes.len() != ACCOUNT_ADDRESS_LEN {
                return Err(TxError::new(
                    Code::InvalidAddress,
                    format!(
                        "{field}: {account} is not an account address \
                         ({} bytes, expected {ACCOUNT_ADDRESS_LEN}): only accounts sign uploads",
                        bytes.len()
                    ),
                ));
            }
            if !seen.insert(bytes) {
                return Err(TxError::new(
                    Code::InvalidRequest,
                    format!("{field}: {account} is listed twice"),
                ));
            }
        }
        Ok(())
    }

    /// Whether `sender` may store code with a message of its own.
    pub(crate) fn require_admits(&self, sender: &str) -> Result<(), TxError> {
        let refused = |rule: &str| {
            Err(TxError::new(
                Code::NotPermitted,
                format!(
                    "code upload is restricted to {rule} (code_upload_access = {}): \
                     {sender} may not upload code",
                    self.name()
                ),
            ))
        };
        match self {
            CodeUploadAccess::Everybody => Ok(()),
            CodeUploadAccess::DaoOnly => refused("the DAO"),
            CodeUploadAccess::AnyOf { addresses } => {
                if addresses.iter().any(|allowed| allowed == sender) {
                    Ok(())
                } else {
                    refused("the accounts on its allow list")
                }
            }
        }
    }

    /// wasmd's `AccessConfig` for the `Params` query. The DAO is no account
    /// a client could name, so DAO-only reads as wasmd's "nobody".
    pub(crate) fn to_access_config(&self) -> AccessConfig {
        match self {
            CodeUploadAccess::Everybody => AccessConfig {
                permission: AccessType::Everybody as i32,
                addresses: Vec::new(),
            },
            CodeUploadAccess::DaoOnly => AccessConfig {
                permission: AccessType::Nobody as i32,
                addresses: Vec::new(),
            },
            CodeUploadAccess::AnyOf { addresses } => AccessConfig {
                permission: AccessType::AnyOfAddresses as i32,
                addresses: addresses.clone(),
            },
        }
    }
}

/// `app_state.wasm.params`, and what state keeps.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WasmParams {
    pub code_upload_access: CodeUploadAccess,
}

impl WasmParams {
    pub fn validate(&self) -> Result<(), TxError> {
        self.code_upload_access.validate()
    }

    pub fn load(state: &StateView) -> Result<Self, TxError> {
        match state.get(state_key::params())? {
            None => Ok(Self::default()),
            Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                TxError::new(Code::Internal, format!("corrupt wasm params in state: {e}"))
            }),
        }
    }

    /// Validates, then stores.
    pub fn save(&self, state: &mut StateView) -> Result<(), TxError> {
        self.validate()?;
        let bytes = serde_json::to_vec(self)
            .map_err(|e| TxError::new(Code::Internal, format!("cannot encode wasm params: {e}")))?;
        state.set(state_key::params(), bytes);
        Ok(())
    }
}

/// Who may upload code now.
pub fn code_upload_access(state: &StateView) -> Result<CodeUploadAccess, TxError> {
    Ok(WasmParams::load(state)?.code_upload_access)
}

/// Sets who may upload code (the DAO's parameter change). An allow list
/// must hold distinct `um1…` account addresses, at least one; an invalid
/// one changes nothing.
pub fn set_code_upload_access(
    state: &mut StateView,
    access: &CodeUploadAccess,
) -> Result<(), TxError> {
    let mut params = WasmParams::load(state)?;
    params.code_upload_access = access.clone();
    params.save(state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn account(n: u8) -> String {
        address::encode(&[n; 20]).unwrap()
    }

    #[test]
    fn json_is_the_bindings_shape() {
        let cases = [
            (CodeUploadAccess::Everybody, json!("everybody")),
            (CodeUploadAccess::DaoOnly, json!("dao_only")),
            (
                CodeUploadAccess::AnyOf {
                    addresses: vec![account(1)],
                },
                json!({"any_of": {"addresses": [account(1)]}}),
            ),
        ];
        for (access, expected) in cases {
            assert_eq!(serde_json::to_value(&access).unwrap(), expected);
            let back: CodeUploadAccess = serde_json::from_value(expected).unwrap();
            assert_eq!(back, access);
        }
        assert_eq!(
            serde_json::from_value::<WasmParams>(json!({})).unwrap(),
            WasmParams::default()
        );
        for bad in [
            json!("nobody"),
            json!({"any_of": {"addresses": [], "extra": 1}}),
            json!({"any_of": [account(1)]}),
        ] {
            assert!(serde_json::from_value::<CodeUploadAccess>(bad.clone()).is_err());
        }
    }

    #[test]
    fn allow_lists_hold_distinct_account_addresses() {
        let any_of = |addresses: Vec<String>| CodeUploadAccess::AnyOf { addresses };
        assert!(any_of(vec![account(1), account(2)]).validate().is_ok());
        let empty = any_of(Vec::new()).validate().unwrap_err();
        assert_eq!(empty.code, Code::InvalidRequest);
        assert!(empty.log.contains("must not be empty"));
        let twice = any_of(vec![account(1), account(1)]).validate().unwrap_err();
        assert!(twice.log.contains("twice"));
        let contract = address::encode(&[3; 32]).unwrap();
        for bad in [
            "um1nope".to_string(),
            account(1).to_uppercase(),
            contract,
            String::new(),
        ] {
            let err = any_of(vec![account(1), bad.clone()])
                .validate()
                .unwrap_err();
            assert_eq!(err.code, Code::InvalidAddress, "{bad}: {}", err.log);
            assert!(err.log.contains("address #2"), "{}", err.log);
        }
    }

    #[test]
    fn rules_admit_whom_they_name() {
        let listed = CodeUploadAccess::AnyOf {
            addresses: vec![account(1)],
        };
        assert!(listed.require_admits(&account(1)).is_ok());
        let err = listed.require_admits(&account(2)).unwrap_err();
        assert_eq!(err.code, Code::NotPermitted);
        assert!(err.log.contains("code_upload_access = any_of"));
        let err = CodeUploadAccess::DaoOnly
            .require_admits(&account(1))
            .unwrap_err();
        assert!(
            err.log
                .contains("restricted to the DAO (code_upload_access = dao_only)"),
            "{}",
            err.log
        );
        assert!(CodeUploadAccess::Everybody
            .require_admits(&account(1))
            .is_ok());
    }
}

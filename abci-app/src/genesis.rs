//! The `app_state` of genesis.json: one section per module, named by the
//! module ([`crate::module::Module::name`]), each parsed by its module.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::codes::{Code, TxError};

/// `app_state`, split into its modules' sections.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AppState {
    sections: BTreeMap<String, Value>,
}

static ABSENT: Value = Value::Null;

impl AppState {
    /// Parses `app_state`; empty bytes mean every module's defaults.
    pub fn from_json(bytes: &[u8]) -> Result<Self, String> {
        if bytes.iter().all(|b| b.is_ascii_whitespace()) {
            return Ok(Self::default());
        }
        let sections = serde_json::from_slice(bytes)
            .map_err(|e| format!("invalid app_state in genesis: {e}"))?;
        Ok(Self { sections })
    }

    /// Refuses a section that no module reads: a typo would otherwise
    /// start a chain without the setting its operator wrote.
    pub fn check_sections(&self, modules: &[&str]) -> Result<(), String> {
        match self.sections.keys().find(|name| !modules.contains(&name.as_str())) {
            Some(name) => Err(format!(
                "invalid app_state in genesis: unknown section `{name}`, expected one of {modules:?}"
            )),
            None => Ok(()),
        }
    }

    /// The section of `module` (`Null` when absent).
    pub fn section(&self, module: &str) -> &Value {
        self.sections.get(module).unwrap_or(&ABSENT)
    }
}

/// A module's section as its typed genesis; `Null` (absent) is the default.
pub fn parse_section<T: DeserializeOwned + Default>(
    module: &str,
    section: &Value,
) -> Result<T, TxError> {
    if section.is_null() {
        return Ok(T::default());
    }
    T::deserialize(section).map_err(|e| {
        TxError::new(
            Code::InvalidRequest,
            format!("invalid app_state.{module}: {e}"),
        )
    })
}

/// A typed genesis section as JSON, for [`crate::module::Module::default_genesis`].
pub fn section_json<T: serde::Serialize>(section: &T) -> Value {
    // Plain structs of strings, numbers and lists always serialize.
    serde_json::to_value(section).unwrap_or(Value::Null)
}

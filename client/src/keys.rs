//! A file keyring: one JSON file per key holding its BIP39 mnemonic.
//!
//! Unencrypted, like the Cosmos SDK's `test` keyring backend: meant for
//! localnets, tests and the demo, not for keys that guard real value.

use std::fs;
use std::path::{Path, PathBuf};

use bip39::Mnemonic;
use cosmrs::crypto::secp256k1::SigningKey;
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};

use crate::address;
use crate::ClientError;

/// Cosmos's BIP44 path (coin type 118), account 0, first address.
pub const HD_PATH: &str = "m/44'/118'/0'/0/0";

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KeyFile {
    pub name: String,
    pub address: String,
    pub mnemonic: String,
}

pub struct Key {
    pub name: String,
    pub address: String,
    pub signing_key: SigningKey,
}

impl Key {
    pub fn from_mnemonic(name: &str, phrase: &str) -> Result<Self, ClientError> {
        let mnemonic = Mnemonic::parse_normalized(phrase.trim())
            .map_err(|e| ClientError::Mnemonic(e.to_string()))?;
        let seed = mnemonic.to_seed("");
        let path = HD_PATH
            .parse()
            .map_err(|e: cosmrs::bip32::Error| ClientError::Mnemonic(e.to_string()))?;
        let signing_key = SigningKey::derive_from_path(seed, &path)
            .map_err(|e| ClientError::Mnemonic(e.to_string()))?;
        let pubkey = signing_key.public_key().to_bytes();
        Ok(Self {
            name: name.to_string(),
            address: address::encode(&address::account_bytes_of_pubkey(&pubkey)),
            signing_key,
        })
    }

    pub fn public_key_bytes(&self) -> Vec<u8> {
        self.signing_key.public_key().to_bytes()
    }
}

pub struct Keyring {
    dir: PathBuf,
}

impl Keyring {
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
        }
    }

    fn path(&self, name: &str) -> Result<PathBuf, ClientError> {
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid {
            return Err(ClientError::Keyring(format!(
                "key name {name:?} may only contain letters, digits, '-' and '_'"
            )));
        }
        Ok(self.dir.join(format!("{name}.json")))
    }

    /// Creates a key from a fresh 24-word mnemonic, or from `mnemonic`.
    pub fn add(&self, name: &str, mnemonic: Option<&str>) -> Result<KeyFile, ClientError> {
        let path = self.path(name)?;
        if path.exists() {
            return Err(ClientError::KeyExists(name.to_string()));
        }
        let phrase = match mnemonic {
            Some(phrase) => phrase.trim().to_string(),
            None => {
                let mut entropy = [0u8; 32];
                OsRng.fill_bytes(&mut entropy);
                Mnemonic::from_entropy(&entropy)
                    .map_err(|e| ClientError::Mnemonic(e.to_string()))?
                    .to_string()
            }
        };
        let key = Key::from_mnemonic(name, &phrase)?;
        let file = KeyFile {
            name: name.to_string(),
            address: key.address,
            mnemonic: phrase,
        };
        fs::create_dir_all(&self.dir).map_err(|e| ClientError::Keyring(e.to_string()))?;
        let json =
            serde_json::to_vec_pretty(&file).map_err(|e| ClientError::Keyring(e.to_string()))?;
        fs::write(&path, json).map_err(|e| ClientError::Keyring(e.to_string()))?;
        restrict_permissions(&path);
        Ok(file)
    }

    pub fn get(&self, name: &str) -> Result<Key, ClientError> {
        let file = self.file(name)?;
        Key::from_mnemonic(&file.name, &file.mnemonic)
    }

    pub fn file(&self, name: &str) -> Result<KeyFile, ClientError> {
        let path = self.path(name)?;
        let bytes = fs::read(&path).map_err(|_| ClientError::KeyNotFound(name.to_string()))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| ClientError::Keyring(format!("{}: {e}", path.display())))
    }

    pub fn list(&self) -> Result<Vec<KeyFile>, ClientError> {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return Ok(Vec::new());
        };
        let mut names: Vec<String> = entries
            .filter_map(|entry| entry.ok())
            .filter_map(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                name.strip_suffix(".json").map(str::to_string)
            })
            .collect();
        names.sort();
        names.iter().map(|name| self.file(name)).collect()
    }
}

#[cfg(unix)]
fn restrict_permissions(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = fs::set_permissions(path, fs::Permissions::from_mode(0o600));
}

#[cfg(not(unix))]
fn restrict_permissions(_path: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_mnemonic_derives_the_cosmos_address() {
        // The faucet mnemonic of CosmJS's test chains; its cosmos1 address
        // is cosmos1pkptre7fdkl6gfrzlesjjvhxhlc3r4gmmk8rs6.
        let phrase = "economy stock theory fatal elder harbor betray wasp final emotion task crumble siren bottom lizard educate guess current outdoor pair theory focus wife stone";
        let key = Key::from_mnemonic("a", phrase).unwrap();
        let (_, data) = bech32::decode(&key.address).unwrap();
        let (_, expected) =
            bech32::decode("cosmos1pkptre7fdkl6gfrzlesjjvhxhlc3r4gmmk8rs6").unwrap();
        assert_eq!(data, expected);
    }

    #[test]
    fn keyring_add_get_list_and_refusals() {
        let dir = tempfile::tempdir().unwrap();
        let keyring = Keyring::new(dir.path());
        let alice = keyring.add("alice", None).unwrap();
        assert_eq!(alice.mnemonic.split_whitespace().count(), 24);
        assert_eq!(keyring.get("alice").unwrap().address, alice.address);
        assert!(matches!(
            keyring.add("alice", None),
            Err(ClientError::KeyExists(_))
        ));
        assert!(matches!(
            keyring.add("../x", None),
            Err(ClientError::Keyring(_))
        ));
        assert!(matches!(
            keyring.add("bob", Some("not a mnemonic")),
            Err(ClientError::Mnemonic(_))
        ));
        assert!(matches!(
            keyring.get("carol"),
            Err(ClientError::KeyNotFound(_))
        ));
        let names: Vec<_> = keyring
            .list()
            .unwrap()
            .into_iter()
            .map(|k| k.name)
            .collect();
        assert_eq!(names, vec!["alice"]);
    }
}

//! The keyring: one JSON file per key under a folder (`<home>/keys`), each
//! holding the key's BIP39 mnemonic, with three backends as a Cosmos
//! operator knows them:
//!
//! - `file` (the default of every CLI): the mnemonic sealed with
//!   XChaCha20-Poly1305 under a key that scrypt derives from the keyring's
//!   passphrase (see [`encrypted`]); name and address stay readable so that
//!   `keys list`/`show` and genesis edits need no passphrase.
//! - `os`: the OS keyring. This build has none (the hosts it runs on have no
//!   Secret Service / D-Bus), so selecting it is a clear error rather than a
//!   silent fallback to something weaker.
//! - `test`: the mnemonic in plain text, like the Cosmos SDK's `test`
//!   backend; only when asked for (localnets, the demo, tests).
//!
//! Both formats share the folder and the `NAME.json` file names, so a name
//! is one key whatever its backend; each backend refuses the other's files
//! ([`ClientError::WrongBackend`]) instead of guessing, so a plain-text key
//! is never used by an operator who did not ask for `test`.
//!
//! Files are written once and never overwritten (see [`store`]): the folder
//! is 0700, each file 0600 from its creation, published atomically with an
//! exclusive link.

mod encrypted;
mod prompt;
mod store;

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::OnceLock;

use bip39::Mnemonic;
use cosmrs::crypto::secp256k1::SigningKey;
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::address;
use crate::ClientError;

pub use encrypted::{EncryptedKeyFile, ScryptCost};
pub use prompt::{read_mnemonic, stdin_is_terminal};

/// Cosmos's BIP44 path (coin type 118), account 0, first address.
pub const HD_PATH: &str = "m/44'/118'/0'/0/0";

/// Environment variable that selects the backend (`file`, `os`, `test`)
/// when `--keyring-backend` is not given.
pub const BACKEND_ENV: &str = "UMD_KEYRING_BACKEND";

/// Environment variable holding the `file` backend's passphrase, for
/// scripts and services; without it the passphrase is asked on the terminal.
pub const PASSPHRASE_ENV: &str = "UMD_KEYRING_PASSPHRASE";

/// Shortest passphrase accepted when sealing a key (the Cosmos SDK's file
/// backend asks for at least 8 characters too).
pub const MIN_PASSPHRASE_CHARS: usize = 8;

/// A keyring backend, as `--keyring-backend` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    File,
    Os,
    Test,
}

impl Backend {
    pub const NAMES: [&'static str; 3] = ["file", "os", "test"];

    pub fn name(self) -> &'static str {
        match self {
            Backend::File => "file",
            Backend::Os => "os",
            Backend::Test => "test",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Backend {
    type Err = ClientError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "file" => Ok(Backend::File),
            "os" => Ok(Backend::Os),
            "test" => Ok(Backend::Test),
            other => Err(ClientError::Keyring(format!(
                "unknown keyring backend {other:?} (expected one of: {})",
                Backend::NAMES.join(", ")
            ))),
        }
    }
}

/// Where the `file` backend gets its passphrase.
pub enum PassphraseSource {
    /// `UMD_KEYRING_PASSPHRASE` if set, else a no-echo prompt on the
    /// terminal, else [`ClientError::NoPassphrase`]. What the CLIs use.
    EnvOrPrompt,
    /// This passphrase (tests; programs that got it some other way).
    Given(Zeroizing<String>),
}

impl PassphraseSource {
    pub fn given(passphrase: &str) -> Self {
        PassphraseSource::Given(Zeroizing::new(passphrase.to_string()))
    }
}

/// The `test` backend's file, and what [`Keyring::add`] returns: the key's
/// name, address and mnemonic (which `umd keys add` shows once).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KeyFile {
    pub name: String,
    pub address: String,
    pub mnemonic: String,
}

/// The public part of a stored key: readable without the passphrase.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyInfo {
    pub name: String,
    pub address: String,
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
        let seed = Zeroizing::new(mnemonic.to_seed(""));
        let path = HD_PATH
            .parse()
            .map_err(|e: cosmrs::bip32::Error| ClientError::Mnemonic(e.to_string()))?;
        let signing_key = SigningKey::derive_from_path(*seed, &path)
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

/// A key file as read from disk, in either format.
enum Stored {
    Plain(KeyFile),
    Encrypted(EncryptedKeyFile),
}

impl Stored {
    fn parse(bytes: &[u8], path: &Path) -> Result<Self, ClientError> {
        let corrupt = |e: String| ClientError::Keyring(format!("{}: {e}", path.display()));
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
        if value.get("format").is_some() {
            let file = EncryptedKeyFile::from_value(value).map_err(corrupt)?;
            Ok(Stored::Encrypted(file))
        } else {
            let file: KeyFile =
                serde_json::from_value(value).map_err(|e| corrupt(e.to_string()))?;
            Ok(Stored::Plain(file))
        }
    }

    fn backend(&self) -> Backend {
        match self {
            Stored::Plain(_) => Backend::Test,
            Stored::Encrypted(_) => Backend::File,
        }
    }

    fn info(&self) -> KeyInfo {
        let (name, address) = match self {
            Stored::Plain(file) => (&file.name, &file.address),
            Stored::Encrypted(file) => (&file.name, &file.address),
        };
        KeyInfo {
            name: name.clone(),
            address: address.clone(),
        }
    }
}

pub struct Keyring {
    dir: PathBuf,
    backend: Backend,
    passphrase: PassphraseSource,
    /// The passphrase once asked for (or checked), so a command that opens
    /// several keys prompts once.
    unlocked: OnceLock<Zeroizing<String>>,
    cost: ScryptCost,
}

impl Keyring {
    /// The `test` backend (plain text) in `dir`: what the tests, the load
    /// generator and other throwaway-key tools open.
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
            backend: Backend::Test,
            passphrase: PassphraseSource::EnvOrPrompt,
            unlocked: OnceLock::new(),
            cost: ScryptCost::DEFAULT,
        }
    }

    /// The keyring in `dir` with `backend`; `passphrase` is only consulted
    /// by the `file` backend, and only when a secret is read or written.
    pub fn open(
        dir: &Path,
        backend: Backend,
        passphrase: PassphraseSource,
    ) -> Result<Self, ClientError> {
        if backend == Backend::Os {
            return Err(ClientError::OsKeyringUnavailable);
        }
        Ok(Self {
            backend,
            passphrase,
            ..Self::new(dir)
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn dir(&self) -> &Path {
        &self.dir
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

    /// Whether a key file `name` exists, whatever its backend (names are
    /// shared: `add` refuses a name the other backend holds too).
    pub fn contains(&self, name: &str) -> Result<bool, ClientError> {
        let path = self.path(name)?;
        path.try_exists()
            .map_err(|e| ClientError::Keyring(format!("{}: {e}", path.display())))
    }

    /// Creates a key from a fresh 24-word mnemonic, or from `mnemonic`.
    /// Never replaces an existing key ([`ClientError::KeyExists`]).
    pub fn add(&self, name: &str, mnemonic: Option<&str>) -> Result<KeyFile, ClientError> {
        let path = self.path(name)?;
        // Before anything is asked (a passphrase) or derived.
        if self.contains(name)? {
            return Err(ClientError::KeyExists(name.to_string()));
        }
        let phrase = match mnemonic {
            Some(phrase) => Zeroizing::new(phrase.trim().to_string()),
            None => {
                let mut entropy = Zeroizing::new([0u8; 32]);
                OsRng.fill_bytes(entropy.as_mut());
                let mnemonic = Mnemonic::from_entropy(entropy.as_ref())
                    .map_err(|e| ClientError::Mnemonic(e.to_string()))?;
                Zeroizing::new(mnemonic.to_string())
            }
        };
        let key = Key::from_mnemonic(name, &phrase)?;
        let bytes = match self.backend {
            Backend::Test => {
                let file = KeyFile {
                    name: name.to_string(),
                    address: key.address.clone(),
                    mnemonic: phrase.to_string(),
                };
                serde_json::to_vec_pretty(&file).map_err(|e| ClientError::Keyring(e.to_string()))?
            }
            Backend::File => {
                let passphrase = self.passphrase_to_seal(name)?;
                let file =
                    EncryptedKeyFile::seal(name, &key.address, &phrase, passphrase, self.cost)?;
                serde_json::to_vec_pretty(&file).map_err(|e| ClientError::Keyring(e.to_string()))?
            }
            Backend::Os => return Err(ClientError::OsKeyringUnavailable),
        };
        store::write_new(&self.dir, &path, &bytes).map_err(|e| match e {
            store::WriteError::Exists => ClientError::KeyExists(name.to_string()),
            store::WriteError::Io(message) => ClientError::Keyring(message),
        })?;
        Ok(KeyFile {
            name: name.to_string(),
            address: key.address,
            mnemonic: phrase.to_string(),
        })
    }

    /// The signing key `name` (asks for the passphrase with `file`).
    pub fn get(&self, name: &str) -> Result<Key, ClientError> {
        let stored = self.read(name)?;
        let info = stored.info();
        let phrase = match stored {
            Stored::Plain(file) => Zeroizing::new(file.mnemonic),
            Stored::Encrypted(file) => {
                let passphrase = self.passphrase_to_unlock()?;
                file.open(passphrase)?
            }
        };
        let key = Key::from_mnemonic(name, &phrase)?;
        // The address beside the ciphertext is authenticated with it, so a
        // mismatch means a plain-text file edited by hand: refuse rather
        // than sign as someone the user did not pick.
        if key.address != info.address {
            return Err(ClientError::Keyring(format!(
                "key {name:?}: the file says address {} but its mnemonic derives {}",
                info.address, key.address
            )));
        }
        Ok(key)
    }

    /// Name and address of `name`: no passphrase needed.
    pub fn info(&self, name: &str) -> Result<KeyInfo, ClientError> {
        Ok(self.read(name)?.info())
    }

    /// The keys of this keyring's backend, by name; files of the other
    /// backend are left out (as each Cosmos backend lists only its own).
    pub fn list(&self) -> Result<Vec<KeyInfo>, ClientError> {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return Ok(Vec::new());
        };
        let mut names: Vec<String> = entries
            .filter_map(|entry| entry.ok())
            .filter_map(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                name.strip_suffix(".json").map(str::to_string)
            })
            // Temp files of an interrupted add start with '.', which no
            // key name may.
            .filter(|name| self.path(name).is_ok())
            .collect();
        names.sort();
        let mut keys = Vec::new();
        for name in names {
            let path = self.path(&name)?;
            let stored = Stored::parse(&read_file(&path, &name)?, &path)?;
            if stored.backend() == self.backend {
                keys.push(stored.info());
            }
        }
        Ok(keys)
    }

    /// The file `name`, checked to be of this keyring's backend.
    fn read(&self, name: &str) -> Result<Stored, ClientError> {
        let path = self.path(name)?;
        let stored = Stored::parse(&read_file(&path, name)?, &path)?;
        if stored.backend() != self.backend {
            return Err(ClientError::WrongBackend {
                name: name.to_string(),
                stored: match stored {
                    Stored::Plain(_) => "stored in plain text (the test backend)",
                    Stored::Encrypted(_) => "encrypted (the file backend)",
                },
                selected: self.backend,
            });
        }
        Ok(stored)
    }

    /// The passphrase for reading a sealed key.
    fn passphrase_to_unlock(&self) -> Result<&str, ClientError> {
        if let Some(passphrase) = self.unlocked.get() {
            return Ok(passphrase.as_str());
        }
        let passphrase = match &self.passphrase {
            PassphraseSource::Given(passphrase) => passphrase.clone(),
            PassphraseSource::EnvOrPrompt => match env_passphrase() {
                Some(passphrase) => passphrase,
                None => prompt::passphrase("Enter keyring passphrase: ")?,
            },
        };
        Ok(self.unlocked.get_or_init(|| passphrase).as_str())
    }

    /// The passphrase for sealing a new key. A keyring has one passphrase:
    /// when it already holds a sealed key, the passphrase must open it (so
    /// a typo cannot seal a key nobody can open again); the first key's
    /// passphrase is asked twice on a terminal and must be long enough.
    fn passphrase_to_seal(&self, name: &str) -> Result<&str, ClientError> {
        if let Some((other, file)) = self.some_sealed_key()? {
            let passphrase = self.passphrase_to_unlock()?;
            return match file.open(passphrase) {
                Ok(_) => Ok(passphrase),
                Err(ClientError::WrongPassphrase(_)) => Err(ClientError::Keyring(format!(
                    "the passphrase does not open key {other:?} of this keyring; \
                     a keyring has one passphrase, so {name:?} was not added"
                ))),
                Err(e) => Err(e),
            };
        }
        if let Some(passphrase) = self.unlocked.get() {
            return Ok(passphrase.as_str());
        }
        let passphrase = match &self.passphrase {
            PassphraseSource::Given(passphrase) => passphrase.clone(),
            PassphraseSource::EnvOrPrompt => match env_passphrase() {
                Some(passphrase) => passphrase,
                None => {
                    let first = prompt::passphrase("Enter a passphrase for the new keyring: ")?;
                    let again = prompt::passphrase("Re-enter the passphrase: ")?;
                    if first != again {
                        return Err(ClientError::Keyring(
                            "the two passphrases differ; nothing was added".into(),
                        ));
                    }
                    first
                }
            },
        };
        if passphrase.chars().count() < MIN_PASSPHRASE_CHARS {
            return Err(ClientError::Keyring(format!(
                "the keyring passphrase must have at least {MIN_PASSPHRASE_CHARS} characters"
            )));
        }
        Ok(self.unlocked.get_or_init(|| passphrase).as_str())
    }

    /// The first sealed key of the folder, by name, if any.
    fn some_sealed_key(&self) -> Result<Option<(String, EncryptedKeyFile)>, ClientError> {
        for info in self.list()? {
            if let Stored::Encrypted(file) = self.read(&info.name)? {
                return Ok(Some((info.name, file)));
            }
        }
        Ok(None)
    }
}

fn read_file(path: &Path, name: &str) -> Result<Vec<u8>, ClientError> {
    fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ClientError::KeyNotFound(name.to_string()),
        _ => ClientError::Keyring(format!("{}: {e}", path.display())),
    })
}

fn env_passphrase() -> Option<Zeroizing<String>> {
    std::env::var(PASSPHRASE_ENV).ok().map(Zeroizing::new)
}

#[cfg(test)]
mod tests;

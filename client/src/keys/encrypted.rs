//! The `file` backend's key file, format version 1:
//!
//! ```json
//! {
//!   "format": "um-keyring-file",
//!   "version": 1,
//!   "name": "alice",
//!   "address": "um1…",
//!   "kdf": {"algorithm": "scrypt", "log_n": 17, "r": 8, "p": 1, "salt": "<base64, 16 bytes>"},
//!   "cipher": {"algorithm": "xchacha20-poly1305", "nonce": "<base64, 24 bytes>"},
//!   "ciphertext": "<base64: the mnemonic's UTF-8 bytes, then the 16-byte tag>"
//! }
//! ```
//!
//! scrypt (memory-hard: 128 MiB at the default cost) turns the passphrase
//! and a random salt into a 256-bit key; XChaCha20-Poly1305 seals the
//! mnemonic under it with a random 192-bit nonce (large enough that random
//! nonces never repeat). Salt and nonce are new for every file. Everything
//! outside the ciphertext (format, version, name, address, KDF parameters,
//! salt, algorithms) is authenticated as associated data, so editing any of
//! it makes the file fail to open exactly as a wrong passphrase does.
//!
//! Name and address stay in clear on purpose: they are public, and listing
//! keys or naming one in a genesis edit should not ask for the passphrase.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::ClientError;

pub const FORMAT: &str = "um-keyring-file";
pub const VERSION: u32 = 1;
const KDF: &str = "scrypt";
const CIPHER: &str = "xchacha20-poly1305";
const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 24;
/// scrypt uses 128 · r · 2^log_n bytes: refuse files asking for more than
/// this (a planted file must not make a CLI allocate without bound).
const MAX_KDF_MEMORY: u128 = 1 << 30;
const MAX_P: u32 = 16;

/// scrypt's cost parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScryptCost {
    pub log_n: u8,
    pub r: u32,
    pub p: u32,
}

impl ScryptCost {
    /// N = 2^17, r = 8, p = 1: 128 MiB and a fraction of a second per
    /// derivation, OWASP's recommendation for scrypt. Each file records its
    /// own cost, so raising this later keeps old files readable.
    pub const DEFAULT: ScryptCost = ScryptCost {
        log_n: 17,
        r: 8,
        p: 1,
    };

    pub(super) fn check(self) -> Result<scrypt::Params, String> {
        // In u128 with log_n < 64 the product cannot overflow.
        let memory = (self.log_n < 64).then(|| (128u128 * u128::from(self.r)) << self.log_n);
        if !matches!(memory, Some(m) if m <= MAX_KDF_MEMORY) || self.p > MAX_P {
            return Err(format!(
                "scrypt cost log_n={} r={} p={} is beyond what this keyring accepts",
                self.log_n, self.r, self.p
            ));
        }
        scrypt::Params::new(self.log_n, self.r, self.p, 32).map_err(|e| {
            format!(
                "scrypt cost log_n={} r={} p={}: {e}",
                self.log_n, self.r, self.p
            )
        })
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KdfParams {
    pub algorithm: String,
    pub log_n: u8,
    pub r: u32,
    pub p: u32,
    pub salt: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CipherParams {
    pub algorithm: String,
    pub nonce: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EncryptedKeyFile {
    pub format: String,
    pub version: u32,
    pub name: String,
    pub address: String,
    pub kdf: KdfParams,
    pub cipher: CipherParams,
    pub ciphertext: String,
}

impl EncryptedKeyFile {
    /// Seals `mnemonic` under `passphrase` with a fresh salt and nonce.
    pub fn seal(
        name: &str,
        address: &str,
        mnemonic: &str,
        passphrase: &str,
        cost: ScryptCost,
    ) -> Result<Self, ClientError> {
        let mut salt = [0u8; SALT_LEN];
        OsRng.fill_bytes(&mut salt);
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let mut file = EncryptedKeyFile {
            format: FORMAT.to_string(),
            version: VERSION,
            name: name.to_string(),
            address: address.to_string(),
            kdf: KdfParams {
                algorithm: KDF.to_string(),
                log_n: cost.log_n,
                r: cost.r,
                p: cost.p,
                salt: BASE64.encode(salt),
            },
            cipher: CipherParams {
                algorithm: CIPHER.to_string(),
                nonce: BASE64.encode(nonce),
            },
            ciphertext: String::new(),
        };
        let cipher = file.cipher(passphrase).map_err(ClientError::Keyring)?;
        let aad = file.associated_data();
        let sealed = cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: mnemonic.as_bytes(),
                    aad: &aad,
                },
            )
            .map_err(|_| ClientError::Keyring("sealing the key failed".into()))?;
        file.ciphertext = BASE64.encode(sealed);
        Ok(file)
    }

    /// The mnemonic, if `passphrase` is the one the file was sealed with
    /// and nothing in the file was changed.
    pub fn open(&self, passphrase: &str) -> Result<Zeroizing<String>, ClientError> {
        let corrupt = |what: &str| {
            ClientError::Keyring(format!("key file {:?} is corrupted: {what}", self.name))
        };
        let nonce: [u8; NONCE_LEN] = BASE64
            .decode(&self.cipher.nonce)
            .ok()
            .and_then(|n| n.try_into().ok())
            .ok_or_else(|| corrupt("bad nonce"))?;
        let ciphertext = BASE64
            .decode(&self.ciphertext)
            .map_err(|_| corrupt("ciphertext is not base64"))?;
        let cipher = self.cipher(passphrase).map_err(|e| corrupt(&e))?;
        let plain = cipher
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: &ciphertext,
                    aad: &self.associated_data(),
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| ClientError::WrongPassphrase(self.name.clone()))?;
        let phrase = std::str::from_utf8(&plain).map_err(|_| corrupt("mnemonic is not UTF-8"))?;
        Ok(Zeroizing::new(phrase.to_string()))
    }

    /// Parses and checks a file whose JSON has a `format` field.
    pub(super) fn from_value(value: serde_json::Value) -> Result<Self, String> {
        if value["format"] != FORMAT {
            return Err(format!("unknown key file format {}", value["format"]));
        }
        if value["version"] != VERSION {
            return Err(format!(
                "key file version {} is not one this build reads (it reads {VERSION})",
                value["version"]
            ));
        }
        let file: EncryptedKeyFile = serde_json::from_value(value).map_err(|e| e.to_string())?;
        if file.kdf.algorithm != KDF || file.cipher.algorithm != CIPHER {
            return Err(format!(
                "unsupported algorithms {} / {}",
                file.kdf.algorithm, file.cipher.algorithm
            ));
        }
        file.cost().check()?;
        Ok(file)
    }

    fn cost(&self) -> ScryptCost {
        ScryptCost {
            log_n: self.kdf.log_n,
            r: self.kdf.r,
            p: self.kdf.p,
        }
    }

    /// The AEAD under the key that scrypt derives from `passphrase`.
    fn cipher(&self, passphrase: &str) -> Result<XChaCha20Poly1305, String> {
        let params = self.cost().check()?;
        let salt = BASE64
            .decode(&self.kdf.salt)
            .ok()
            .filter(|s| s.len() == SALT_LEN)
            .ok_or("bad salt")?;
        let mut key = Zeroizing::new([0u8; 32]);
        scrypt::scrypt(passphrase.as_bytes(), &salt, &params, key.as_mut())
            .map_err(|e| format!("scrypt: {e}"))?;
        XChaCha20Poly1305::new_from_slice(key.as_ref()).map_err(|e| format!("cipher key: {e}"))
    }

    /// Every field but the ciphertext, one per line (names and the fixed
    /// strings hold no newline; an address that did would only fail to
    /// verify).
    fn associated_data(&self) -> Vec<u8> {
        format!(
            "{}\nversion={}\nname={}\naddress={}\nkdf={}:{}:{}:{}:{}\ncipher={}:{}",
            self.format,
            self.version,
            self.name,
            self.address,
            self.kdf.algorithm,
            self.kdf.log_n,
            self.kdf.r,
            self.kdf.p,
            self.kdf.salt,
            self.cipher.algorithm,
            self.cipher.nonce,
        )
        .into_bytes()
    }
}

//! The node's CometBFT consensus key (`config/priv_validator_key.json`) and
//! the proof a validator bond needs: the key's signature over the chain and
//! the operator that bonds it (`um_bindings::staking::validator_bond_message`).

use std::path::Path;

use anyhow::{bail, Context};
use base64::Engine;
use ed25519_consensus::SigningKey;

/// A consensus public key and its signature letting one operator bond it.
pub struct BondProof {
    pub consensus_pubkey: Vec<u8>,
    pub signature: Vec<u8>,
}

impl BondProof {
    /// `PUBKEY,SIGNATURE`, both base64: what `umd genesis deploy-governance
    /// --validator OPERATOR=…` takes.
    pub fn to_arg(&self) -> String {
        let b64 = base64::engine::general_purpose::STANDARD;
        format!(
            "{},{}",
            b64.encode(&self.consensus_pubkey),
            b64.encode(&self.signature)
        )
    }

    /// Reads [`BondProof::to_arg`]'s form back (base64 never holds a comma).
    pub fn from_arg(arg: &str) -> anyhow::Result<Self> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let (pubkey, signature) = arg
            .split_once(',')
            .context("expected PUBKEY,SIGNATURE (see `umd genesis validator-proof`)")?;
        let consensus_pubkey = b64
            .decode(pubkey)
            .ok()
            .filter(|key| key.len() == 32)
            .context("the pubkey is not a base64 ed25519 key")?;
        let signature = b64
            .decode(signature)
            .ok()
            .filter(|sig| sig.len() == 64)
            .context("the signature is not a base64 ed25519 signature")?;
        Ok(Self {
            consensus_pubkey,
            signature,
        })
    }
}

/// The signing key in `<home>/config/priv_validator_key.json`.
pub fn node_signing_key(home: &Path) -> anyhow::Result<SigningKey> {
    let path = home.join("config/priv_validator_key.json");
    let file: serde_json::Value = serde_json::from_slice(
        &std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?,
    )
    .with_context(|| format!("parsing {}", path.display()))?;
    if file["priv_key"]["type"] != "tendermint/PrivKeyEd25519" {
        bail!("{}: not an ed25519 consensus key", path.display());
    }
    // CometBFT stores the 32-byte seed followed by the public key.
    let bytes = file["priv_key"]["value"]
        .as_str()
        .and_then(|v| base64::engine::general_purpose::STANDARD.decode(v).ok())
        .filter(|bytes| bytes.len() == 64)
        .with_context(|| format!("{}: priv_key.value is not 64 bytes", path.display()))?;
    let seed: [u8; 32] = bytes
        .get(..32)
        .and_then(|seed| seed.try_into().ok())
        .with_context(|| format!("{}: no seed", path.display()))?;
    let key = SigningKey::from(seed);
    if bytes.get(32..) != Some(key.verification_key().as_bytes().as_slice()) {
        bail!(
            "{}: the public key does not belong to the private key",
            path.display()
        );
    }
    Ok(key)
}

/// The node's proof that `operator` may bond its consensus key on `chain_id`.
pub fn bond_proof(home: &Path, chain_id: &str, operator: &str) -> anyhow::Result<BondProof> {
    let key = node_signing_key(home)?;
    let message = um_bindings::staking::validator_bond_message(chain_id, operator);
    Ok(BondProof {
        consensus_pubkey: key.verification_key().to_bytes().to_vec(),
        signature: key.sign(&message).to_bytes().to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proof_verifies_for_its_operator_and_chain_only() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(home.path().join("config")).unwrap();
        let key = SigningKey::from([3u8; 32]);
        let mut value = [3u8; 32].to_vec();
        value.extend_from_slice(key.verification_key().as_bytes());
        let b64 = base64::engine::general_purpose::STANDARD;
        let file = serde_json::json!({
            "priv_key": {"type": "tendermint/PrivKeyEd25519", "value": b64.encode(&value)},
        });
        std::fs::write(
            home.path().join("config/priv_validator_key.json"),
            file.to_string(),
        )
        .unwrap();
        let proof = bond_proof(home.path(), "um-1", "um1operator").unwrap();
        let again = BondProof::from_arg(&proof.to_arg()).unwrap();
        assert_eq!(again.consensus_pubkey, proof.consensus_pubkey);
        let verify = |chain: &str, operator: &str| {
            let vk = ed25519_consensus::VerificationKey::try_from(
                <[u8; 32]>::try_from(again.consensus_pubkey.as_slice()).unwrap(),
            )
            .unwrap();
            let sig = ed25519_consensus::Signature::from(
                <[u8; 64]>::try_from(again.signature.as_slice()).unwrap(),
            );
            vk.verify(
                &sig,
                &um_bindings::staking::validator_bond_message(chain, operator),
            )
            .is_ok()
        };
        assert!(verify("um-1", "um1operator"));
        assert!(!verify("um-2", "um1operator"));
        assert!(!verify("um-1", "um1squatter"));
        assert!(BondProof::from_arg("nocomma").is_err());
    }
}

//! `umd tx staking bond|unbond|claim`.

use std::path::Path;

use anyhow::{bail, Context};
use base64::Engine;
use clap::Subcommand;
use um_governance::proposals::registered_suite;
use um_governance::staking::{self, BondRole};

use super::gov::{with_chain, Signer};

#[derive(Subcommand, Debug)]
pub enum StakingTx {
    /// Bond micro-NRN for a role (cw20 Send to nrn-staking).
    Bond {
        amount: u128,
        /// trainer or validator.
        #[arg(long, default_value = "trainer")]
        role: String,
        /// Validator only: base64 ed25519 consensus key; defaults to the one
        /// in `<home>/config/priv_validator_key.json`.
        #[arg(long)]
        consensus_pubkey: Option<String>,
        #[command(flatten)]
        signer: Signer,
    },
    /// Start unbonding; claim after the unbonding period.
    Unbond {
        amount: u128,
        #[command(flatten)]
        signer: Signer,
    },
    /// Collect matured claims.
    Claim {
        #[command(flatten)]
        signer: Signer,
    },
}

pub fn run(command: StakingTx) -> anyhow::Result<()> {
    match command {
        StakingTx::Bond {
            amount,
            role,
            consensus_pubkey,
            signer,
        } => {
            let role = match role.as_str() {
                "trainer" => BondRole::Trainer,
                "validator" => {
                    let key = match consensus_pubkey {
                        Some(key) => key,
                        None => node_consensus_pubkey(&signer.home.path())?,
                    };
                    let consensus_pubkey = base64::engine::general_purpose::STANDARD
                        .decode(key.trim())
                        .context("--consensus-pubkey must be base64")?;
                    BondRole::Validator { consensus_pubkey }
                }
                other => bail!("--role must be trainer or validator, not {other:?}"),
            };
            with_chain(&signer, |chain| {
                let suite = registered_suite(chain.rpc)?;
                let result = staking::bond(chain, &suite, amount, &role)?;
                println!(
                    "bonded {amount} uNRN as {role:?} at height {}",
                    result.height
                );
                Ok(())
            })
        }
        StakingTx::Unbond { amount, signer } => with_chain(&signer, |chain| {
            let suite = registered_suite(chain.rpc)?;
            let result = staking::unbond(chain, &suite, amount)?;
            println!("unbonding {amount} uNRN from height {}", result.height);
            Ok(())
        }),
        StakingTx::Claim { signer } => with_chain(&signer, |chain| {
            let suite = registered_suite(chain.rpc)?;
            let result = staking::claim(chain, &suite)?;
            println!("claimed at height {}", result.height);
            Ok(())
        }),
    }
}

/// The base64 ed25519 public key of the node at `home`.
pub fn node_consensus_pubkey(home: &Path) -> anyhow::Result<String> {
    let path = home.join("config/priv_validator_key.json");
    let file: serde_json::Value = serde_json::from_slice(
        &std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?,
    )
    .with_context(|| format!("parsing {}", path.display()))?;
    file["pub_key"]["value"]
        .as_str()
        .map(str::to_string)
        .with_context(|| format!("{} has no pub_key.value", path.display()))
}

//! `umd tx staking bond|unbond|claim`.

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
        /// in `<home>/config/priv_validator_key.json`, which then also signs
        /// the bond.
        #[arg(long)]
        consensus_pubkey: Option<String>,
        /// Validator only, with --consensus-pubkey: the key's base64
        /// signature letting this operator bond it on this chain (from
        /// `umd genesis validator-proof` on the node that holds the key).
        /// Not needed to add stake to the key the operator already holds.
        #[arg(long, requires = "consensus_pubkey")]
        consensus_signature: Option<String>,
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
            consensus_signature,
            signer,
        } => {
            if !matches!(role.as_str(), "trainer" | "validator") {
                bail!("--role must be trainer or validator, not {role:?}");
            }
            let home = signer.home.path();
            with_chain(&signer, |chain| {
                let role = match (role.as_str(), &consensus_pubkey) {
                    ("trainer", _) => BondRole::Trainer,
                    (_, Some(key)) => {
                        let b64 = base64::engine::general_purpose::STANDARD;
                        BondRole::Validator {
                            consensus_pubkey: b64
                                .decode(key.trim())
                                .context("--consensus-pubkey must be base64")?,
                            consensus_signature: match &consensus_signature {
                                Some(sig) => b64
                                    .decode(sig.trim())
                                    .context("--consensus-signature must be base64")?,
                                None => Vec::new(),
                            },
                        }
                    }
                    (_, None) => {
                        let proof = super::consensus_key::bond_proof(
                            &home,
                            &chain.chain_id,
                            chain.address(),
                        )?;
                        BondRole::Validator {
                            consensus_pubkey: proof.consensus_pubkey,
                            consensus_signature: proof.signature,
                        }
                    }
                };
                let suite = registered_suite(chain.rpc)?;
                let result = staking::bond(chain, &suite, amount, &role)?;
                let role_name = match role {
                    BondRole::Trainer => "trainer",
                    BondRole::Validator { .. } => "validator",
                };
                println!(
                    "bonded {amount} uNRN as {role_name} at height {}",
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

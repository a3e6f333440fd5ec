//! Test hook: a validator that misbehaves on purpose, so the reliability
//! scenarios can show the honest majority deciding correctly anyway.
//!
//! Off unless `umd start --byzantine MODES` (or `UMD_BYZANTINE`) names
//! modes, comma-separated; an honest operator never sets it. The modes
//! change only what this validator *says* (its vote extensions, the verdict
//! tx it proposes); its execution of blocks stays the honest one, so it
//! keeps the app hash of everyone else.

use std::str::FromStr;

use prost::Message;
use um_proto::um::abci::v1::{BlockIdFlag, InjectedVerdicts, VerdictEntry, VoteExtension};
use um_proto::um::training::v1::{Update, VerdictReason};

use crate::training::extension::{MAX_DETAIL_BYTES, MAX_VERDICTS};

/// What a byzantine validator does; several may be combined.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Byzantine {
    /// Votes to accept every pending update, whatever its verifier says.
    pub always_accept: bool,
    /// Votes every pending update fraud (`WEIGHTS_MISMATCH`).
    pub always_reject: bool,
    /// Sends undecodable bytes as its vote extension.
    pub malformed_extensions: bool,
    /// Sends more verdicts than an extension may carry, each with the
    /// longest detail allowed.
    pub oversized_extensions: bool,
    /// As proposer, injects a verdict tx whose extensions accept every
    /// pending update, at every height it proposes (the signatures no
    /// longer match them).
    pub forge_verdicts: bool,
    /// As proposer, leaves the verdict tx out.
    pub omit_verdicts: bool,
}

impl FromStr for Byzantine {
    type Err = String;

    fn from_str(modes: &str) -> Result<Self, String> {
        let mut out = Self::default();
        for mode in modes.split(',').map(str::trim).filter(|m| !m.is_empty()) {
            match mode {
                "always-accept" => out.always_accept = true,
                "always-reject" => out.always_reject = true,
                "malformed-extensions" => out.malformed_extensions = true,
                "oversized-extensions" => out.oversized_extensions = true,
                "forge-verdicts" => out.forge_verdicts = true,
                "omit-verdicts" => out.omit_verdicts = true,
                other => {
                    return Err(format!(
                        "unknown byzantine mode {other:?}; one of always-accept, always-reject, \
                         malformed-extensions, oversized-extensions, forge-verdicts, omit-verdicts"
                    ))
                }
            }
        }
        if out.always_accept && out.always_reject {
            return Err("always-accept and always-reject exclude each other".into());
        }
        Ok(out)
    }
}

impl Byzantine {
    /// True when this validator replaces its own vote extension.
    pub fn lies_in_extensions(&self) -> bool {
        self.always_accept
            || self.always_reject
            || self.malformed_extensions
            || self.oversized_extensions
    }

    /// The extension this validator sends instead of its verifier's.
    pub fn extension(&self, pending: &[Update]) -> Vec<u8> {
        if self.malformed_extensions {
            // A length-delimited field whose length runs past the end.
            return vec![0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01];
        }
        if self.oversized_extensions {
            let verdicts = (1..=MAX_VERDICTS as u64 + 1)
                .map(|id| verdict(id, true, "x".repeat(MAX_DETAIL_BYTES)))
                .collect();
            return VoteExtension { verdicts }.encode_to_vec();
        }
        let accept = self.always_accept;
        let verdicts = pending
            .iter()
            .take(MAX_VERDICTS)
            .map(|update| verdict(update.id, accept, "byzantine test hook".into()))
            .collect();
        VoteExtension { verdicts }.encode_to_vec()
    }

    /// As proposer: the extended commit with every signed extension
    /// rewritten to accept every pending update (update 1 when none is),
    /// which no signature covers; honest validators must refuse the block.
    pub fn forged_verdict_tx(&self, mut injected: InjectedVerdicts, pending: &[Update]) -> Vec<u8> {
        let mut ids: Vec<u64> = pending.iter().map(|u| u.id).take(MAX_VERDICTS).collect();
        if ids.is_empty() {
            ids.push(1);
        }
        let forged = VoteExtension {
            verdicts: ids
                .iter()
                .map(|&id| verdict(id, true, String::new()))
                .collect(),
        }
        .encode_to_vec();
        for vote in &mut injected.votes {
            if vote.block_id_flag == BlockIdFlag::Commit as i32 {
                vote.extension = forged.clone();
            }
        }
        injected.encode_to_vec()
    }
}

fn verdict(update_id: u64, accept: bool, detail: String) -> VerdictEntry {
    VerdictEntry {
        update_id,
        accept,
        reason: if accept {
            VerdictReason::Ok
        } else {
            VerdictReason::WeightsMismatch
        } as i32,
        measured_validation_loss: 0.0,
        relative_distance: 0.0,
        measured_validation_accuracy: 0.0,
        detail,
        ..VerdictEntry::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::training::extension::check_form;

    fn pending(ids: &[u64]) -> Vec<Update> {
        ids.iter()
            .map(|&id| Update {
                id,
                ..Default::default()
            })
            .collect()
    }

    #[test]
    fn modes_parse_and_unknown_ones_are_refused() {
        assert_eq!("".parse::<Byzantine>().unwrap(), Byzantine::default());
        let both: Byzantine = "always-reject, forge-verdicts".parse().unwrap();
        assert!(both.always_reject && both.forge_verdicts && !both.always_accept);
        assert!("always-accept,always-reject".parse::<Byzantine>().is_err());
        let err = "sometimes".parse::<Byzantine>().unwrap_err();
        assert!(err.contains("unknown byzantine mode"), "{err}");
    }

    /// Lies of form are caught by the honest VerifyVoteExtension; lies of
    /// opinion are well-formed (the tally outvotes them).
    #[test]
    fn malformed_and_oversized_extensions_fail_the_form_check() {
        let updates = pending(&[3, 5]);
        let malformed: Byzantine = "malformed-extensions".parse().unwrap();
        let err = check_form(&malformed.extension(&updates)).unwrap_err();
        assert!(err.contains("undecodable"), "{err}");
        let oversized: Byzantine = "oversized-extensions".parse().unwrap();
        let err = check_form(&oversized.extension(&updates)).unwrap_err();
        assert!(err.contains("at most"), "{err}");
        for (modes, accept) in [("always-accept", true), ("always-reject", false)] {
            let liar: Byzantine = modes.parse().unwrap();
            let extension = check_form(&liar.extension(&updates)).unwrap();
            let ids: Vec<u64> = extension.verdicts.iter().map(|v| v.update_id).collect();
            assert_eq!(ids, [3, 5]);
            assert!(extension.verdicts.iter().all(|v| v.accept == accept));
        }
    }

    /// The forged verdict tx is exactly what ProcessProposal's check refuses.
    #[test]
    fn a_forged_verdict_tx_fails_the_proposal_check() {
        use crate::gov::validators::{record_set_from, PowerMap};
        use crate::store::Store;
        use crate::training::extension::{build_injected, check_injected};
        use ed25519_consensus::SigningKey;
        use tendermint_proto::v0_38::abci as pb;
        use um_proto::um::abci::v1::CanonicalVoteExtension;

        let key = SigningKey::from([9; 32]);
        let pubkey = key.verification_key().to_bytes();
        let store = Store::temporary().unwrap();
        let mut state = store.view();
        let set: PowerMap = [(pubkey.to_vec(), 10)].into_iter().collect();
        record_set_from(&mut state, 1, &set);
        let honest_extension = VoteExtension {
            verdicts: vec![verdict(4, false, String::new())],
        }
        .encode_to_vec();
        let sign_bytes = CanonicalVoteExtension {
            extension: honest_extension.clone(),
            height: 5,
            round: 0,
            chain_id: "um-test".into(),
        }
        .sign_bytes();
        let commit = pb::ExtendedCommitInfo {
            round: 0,
            votes: vec![pb::ExtendedVoteInfo {
                validator: Some(pb::Validator {
                    address: crate::training::extension::consensus_address(&pubkey).into(),
                    power: 10,
                }),
                vote_extension: honest_extension.into(),
                extension_signature: key.sign(&sign_bytes).to_bytes().to_vec().into(),
                block_id_flag: BlockIdFlag::Commit as i32,
            }],
        };
        let honest = build_injected(5, &commit);
        check_injected(&state, "um-test", &honest, 5).unwrap();
        let forger: Byzantine = "forge-verdicts".parse().unwrap();
        let forged =
            InjectedVerdicts::decode_tx(&forger.forged_verdict_tx(honest, &pending(&[4]))).unwrap();
        let err = check_injected(&state, "um-test", &forged, 5).unwrap_err();
        assert!(err.contains("bad extension signature"), "{err}");
    }
}

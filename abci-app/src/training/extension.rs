//! Vote extensions and the injected verdict tx.
//!
//! `ExtendVote(H)` returns a [`VoteExtension`]; CometBFT signs it. The
//! proposer of H+1 turns the extended commit of H into an
//! [`InjectedVerdicts`] tx, first in the block, and every validator checks
//! it with [`check_injected`] in ProcessProposal: the same validator set
//! the chain recorded for H in the same order, CometBFT's signature on each
//! extension, and more than 2/3 of the power behind it. The proposer runs
//! the same check on what it builds, so an honest proposer never proposes
//! a block the others refuse.

use ed25519_consensus::{Signature, VerificationKey};
use prost::Message;
use tendermint_proto::v0_38::abci as pb;
use um_proto::um::abci::v1::{
    BlockIdFlag, CanonicalVoteExtension, ExtendedVote, InjectedVerdicts, VoteExtension,
};
use um_proto::um::training::v1::VerdictReason;

pub use crate::gov::validators::consensus_address;

use crate::codes::TxError;
use crate::gov::validators;
use crate::store::StateView;

/// Most verdicts one extension may carry.
pub const MAX_VERDICTS: usize = 256;
/// Longest verdict detail, in bytes.
pub const MAX_DETAIL_BYTES: usize = 256;
/// Most segments one verdict may say it re-executed (a contribution has at
/// most `local_steps` ≤ 10,000 segments, but a verdict only carries the
/// sample; hashes, verdicts and losses keep extensions small).
pub const MAX_SEGMENTS: usize = 64;

/// What VerifyVoteExtension checks: the form only, never the verdicts' merit.
pub fn check_form(bytes: &[u8]) -> Result<VoteExtension, String> {
    let extension =
        VoteExtension::decode(bytes).map_err(|e| format!("undecodable vote extension: {e}"))?;
    if extension.verdicts.len() > MAX_VERDICTS {
        return Err(format!(
            "{} verdicts; at most {MAX_VERDICTS}",
            extension.verdicts.len()
        ));
    }
    let mut previous = 0u64;
    for verdict in &extension.verdicts {
        if verdict.update_id <= previous {
            return Err("update ids must be ascending and distinct".into());
        }
        previous = verdict.update_id;
        let reason = VerdictReason::try_from(verdict.reason).map_err(|_| {
            format!(
                "update {}: unknown reason {}",
                verdict.update_id, verdict.reason
            )
        })?;
        if reason == VerdictReason::Unspecified {
            return Err(format!("update {}: reason not set", verdict.update_id));
        }
        if verdict.accept != reason.is_accept() {
            return Err(format!(
                "update {}: accept must equal (reason == OK)",
                verdict.update_id
            ));
        }
        let finite = verdict.measured_validation_loss.is_finite()
            && verdict.relative_distance.is_finite()
            && verdict.measured_validation_accuracy.is_finite();
        if !finite {
            return Err(format!(
                "update {}: measurements must be finite",
                verdict.update_id
            ));
        }
        if verdict.detail.len() > MAX_DETAIL_BYTES {
            return Err(format!("update {}: detail too long", verdict.update_id));
        }
        if verdict.segments_checked.len() > MAX_SEGMENTS {
            return Err(format!("update {}: too many segments", verdict.update_id));
        }
        let ascending = verdict.segments_checked.windows(2).all(|w| w[0] < w[1]);
        let failed_checked = verdict
            .failed_segment
            .is_none_or(|failed| !verdict.accept && verdict.segments_checked.contains(&failed));
        if !ascending || !failed_checked {
            return Err(format!(
                "update {}: segments must ascend and a failed one be among them, on a rejection",
                verdict.update_id
            ));
        }
    }
    Ok(extension)
}

/// The verdict tx for the extended commit of `height`.
pub fn build_injected(height: i64, commit: &pb::ExtendedCommitInfo) -> InjectedVerdicts {
    let votes = commit
        .votes
        .iter()
        .map(|vote| {
            let (address, power) = vote
                .validator
                .as_ref()
                .map(|v| (v.address.to_vec(), v.power))
                .unwrap_or_default();
            ExtendedVote {
                validator_address: address,
                power,
                extension: vote.vote_extension.to_vec(),
                extension_signature: vote.extension_signature.to_vec(),
                block_id_flag: vote.block_id_flag,
            }
        })
        .collect();
    InjectedVerdicts::new(height, commit.round, votes)
}

/// A validator of the recorded set, in CometBFT's order.
struct Member {
    address: Vec<u8>,
    key: Option<VerificationKey>,
    power: i64,
}

/// Checks a verdict tx for the extended commit of `expected_height`.
pub fn check_injected(
    state: &StateView,
    chain_id: &str,
    injected: &InjectedVerdicts,
    expected_height: u64,
) -> Result<(), String> {
    if u64::try_from(injected.height).ok() != Some(expected_height) {
        return Err(format!(
            "verdicts for height {} in the block after height {expected_height}",
            injected.height
        ));
    }
    let set = validators::set_at(state, expected_height)
        .map_err(|e: TxError| e.log)?
        .ok_or_else(|| format!("no validator set recorded for height {expected_height}"))?;
    let mut members: Vec<Member> = set
        .iter()
        .map(|(pubkey, power)| Member {
            address: consensus_address(pubkey),
            key: <[u8; 32]>::try_from(pubkey.as_slice())
                .ok()
                .and_then(|bytes| VerificationKey::try_from(bytes).ok()),
            power: i64::try_from(*power).unwrap_or(i64::MAX),
        })
        .collect();
    // CometBFT orders a validator set by power descending, then address.
    members.sort_by(|a, b| b.power.cmp(&a.power).then(a.address.cmp(&b.address)));
    if injected.votes.len() != members.len() {
        return Err(format!(
            "{} votes for a set of {} validators",
            injected.votes.len(),
            members.len()
        ));
    }
    let total: i64 = members.iter().map(|m| m.power).sum();
    let mut signed_power = 0i64;
    for (index, (vote, member)) in injected.votes.iter().zip(&members).enumerate() {
        if vote.validator_address != member.address || vote.power != member.power {
            return Err(format!(
                "vote {index} is not the recorded validator {} with power {}",
                hex::encode_upper(&member.address),
                member.power
            ));
        }
        if vote.block_id_flag != BlockIdFlag::Commit as i32 {
            if !vote.extension.is_empty() || !vote.extension_signature.is_empty() {
                return Err(format!(
                    "vote {index} carries an extension without a commit"
                ));
            }
            continue;
        }
        let key = member
            .key
            .ok_or_else(|| format!("vote {index}: recorded key is not ed25519"))?;
        let signature = <[u8; 64]>::try_from(vote.extension_signature.as_slice())
            .map(Signature::from)
            .map_err(|_| format!("vote {index}: signature is not 64 bytes"))?;
        let sign_bytes = CanonicalVoteExtension {
            extension: vote.extension.clone(),
            height: injected.height,
            round: i64::from(injected.round),
            chain_id: chain_id.to_string(),
        }
        .sign_bytes();
        key.verify(&signature, &sign_bytes)
            .map_err(|_| format!("vote {index}: bad extension signature"))?;
        check_form(&vote.extension).map_err(|e| format!("vote {index}: {e}"))?;
        signed_power = signed_power.saturating_add(member.power);
    }
    if signed_power.saturating_mul(3) <= total.saturating_mul(2) {
        return Err(format!(
            "signed extensions carry {signed_power} of {total} power; more than 2/3 needed"
        ));
    }
    Ok(())
}

/// The validator's verdicts from each signed extension, in vote order.
pub fn signed_verdicts(injected: &InjectedVerdicts) -> Vec<(&ExtendedVote, VoteExtension)> {
    injected
        .votes
        .iter()
        .filter(|vote| vote.block_id_flag == BlockIdFlag::Commit as i32)
        .filter_map(|vote| check_form(&vote.extension).ok().map(|ext| (vote, ext)))
        .collect()
}

#[cfg(test)]
mod tests {
    use ed25519_consensus::SigningKey;
    use um_proto::um::abci::v1::VerdictEntry;

    use super::*;
    use crate::gov::validators::{record_set_from, PowerMap};
    use crate::store::Store;

    const CHAIN: &str = "um-test";

    fn key(seed: u8) -> SigningKey {
        SigningKey::from([seed; 32])
    }

    fn extension(update_id: u64) -> Vec<u8> {
        VoteExtension {
            verdicts: vec![VerdictEntry {
                update_id,
                accept: true,
                reason: VerdictReason::Ok as i32,
                measured_validation_loss: 0.5,
                relative_distance: 0.0,
                measured_validation_accuracy: 0.9,
                detail: String::new(),
                ..VerdictEntry::default()
            }],
        }
        .encode_to_vec()
    }

    /// The extended commit CometBFT would hand the next proposer: keys with
    /// powers, every one signing its extension for (height, round).
    fn commit(keys: &[(SigningKey, i64)], height: i64, round: i32) -> pb::ExtendedCommitInfo {
        let mut votes: Vec<pb::ExtendedVoteInfo> = keys
            .iter()
            .map(|(key, power)| {
                let pubkey = key.verification_key().to_bytes();
                let ext = extension(1);
                let sign_bytes = CanonicalVoteExtension {
                    extension: ext.clone(),
                    height,
                    round: i64::from(round),
                    chain_id: CHAIN.into(),
                }
                .sign_bytes();
                pb::ExtendedVoteInfo {
                    validator: Some(pb::Validator {
                        address: consensus_address(&pubkey).into(),
                        power: *power,
                    }),
                    vote_extension: ext.into(),
                    extension_signature: key.sign(&sign_bytes).to_bytes().to_vec().into(),
                    block_id_flag: BlockIdFlag::Commit as i32,
                }
            })
            .collect();
        votes.sort_by(|a, b| {
            let (a, b) = (a.validator.as_ref().unwrap(), b.validator.as_ref().unwrap());
            b.power.cmp(&a.power).then(a.address.cmp(&b.address))
        });
        pb::ExtendedCommitInfo { round, votes }
    }

    fn state_with(keys: &[(SigningKey, i64)], from: u64) -> StateView {
        let store = Store::temporary().unwrap();
        let mut state = store.view();
        let set: PowerMap = keys
            .iter()
            .map(|(k, p)| (k.verification_key().to_bytes().to_vec(), *p as u64))
            .collect();
        record_set_from(&mut state, from, &set);
        state
    }

    #[test]
    fn a_genuine_extended_commit_passes_and_tampering_fails() {
        let keys = vec![(key(1), 10), (key(2), 30), (key(3), 20)];
        let state = state_with(&keys, 1);
        let good = build_injected(7, &commit(&keys, 7, 2));
        check_injected(&state, CHAIN, &good, 7).unwrap();
        assert_eq!(signed_verdicts(&good).len(), 3);

        let wrong_height = check_injected(&state, CHAIN, &good, 8).unwrap_err();
        assert!(wrong_height.contains("height"), "{wrong_height}");
        let wrong_chain = check_injected(&state, "other", &good, 7).unwrap_err();
        assert!(wrong_chain.contains("signature"), "{wrong_chain}");

        let mut forged = good.clone();
        forged.votes[1].extension = extension(2);
        let err = check_injected(&state, CHAIN, &forged, 7).unwrap_err();
        assert!(err.contains("bad extension signature"), "{err}");

        let mut reordered = good.clone();
        reordered.votes.swap(0, 1);
        let err = check_injected(&state, CHAIN, &reordered, 7).unwrap_err();
        assert!(err.contains("not the recorded validator"), "{err}");

        let mut inflated = good.clone();
        inflated.votes[2].power += 100;
        assert!(check_injected(&state, CHAIN, &inflated, 7).is_err());

        let mut dropped = good.clone();
        dropped.votes.pop();
        assert!(check_injected(&state, CHAIN, &dropped, 7).is_err());
    }

    #[test]
    fn absent_votes_count_against_the_two_thirds() {
        let keys = vec![(key(1), 10), (key(2), 30), (key(3), 20)];
        let state = state_with(&keys, 1);
        let mut injected = build_injected(4, &commit(&keys, 4, 0));
        // The power-30 validator (first in order) did not vote: 30 of 60 signed.
        injected.votes[0].block_id_flag = BlockIdFlag::Absent as i32;
        injected.votes[0].extension.clear();
        injected.votes[0].extension_signature.clear();
        let err = check_injected(&state, CHAIN, &injected, 4).unwrap_err();
        assert!(err.contains("more than 2/3"), "{err}");
        // The power-10 one absent instead: 50 of 60 signed.
        let mut injected = build_injected(4, &commit(&keys, 4, 0));
        injected.votes[2].block_id_flag = BlockIdFlag::Absent as i32;
        injected.votes[2].extension.clear();
        injected.votes[2].extension_signature.clear();
        check_injected(&state, CHAIN, &injected, 4).unwrap();
        assert_eq!(signed_verdicts(&injected).len(), 2);
        // An absent vote may not smuggle an extension in.
        injected.votes[2].extension = extension(1);
        assert!(check_injected(&state, CHAIN, &injected, 4).is_err());
    }

    #[test]
    fn form_checks_catch_malformed_extensions() {
        assert!(check_form(&[]).unwrap().verdicts.is_empty());
        assert!(check_form(&[0xff, 0xff]).is_err());
        let entry = |update_id, accept, reason: VerdictReason, loss: f32| VerdictEntry {
            update_id,
            accept,
            reason: reason as i32,
            measured_validation_loss: loss,
            ..Default::default()
        };
        let encode = |verdicts| VoteExtension { verdicts }.encode_to_vec();
        let ok = encode(vec![
            entry(1, true, VerdictReason::Ok, 0.1),
            entry(3, false, VerdictReason::WeightsMismatch, 0.2),
        ]);
        assert_eq!(check_form(&ok).unwrap().verdicts.len(), 2);
        for (bad, why) in [
            (
                encode(vec![
                    entry(3, true, VerdictReason::Ok, 0.1),
                    entry(1, true, VerdictReason::Ok, 0.1),
                ]),
                "ascending",
            ),
            (
                encode(vec![entry(1, false, VerdictReason::Ok, 0.1)]),
                "accept",
            ),
            (
                encode(vec![entry(1, false, VerdictReason::Unspecified, 0.1)]),
                "not set",
            ),
            (
                encode(vec![entry(1, true, VerdictReason::Ok, f32::NAN)]),
                "finite",
            ),
        ] {
            let err = check_form(&bad).unwrap_err();
            assert!(err.contains(why), "{err} should mention {why}");
        }
    }
}

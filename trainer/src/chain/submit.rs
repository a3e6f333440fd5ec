//! `MsgSubmitUpdate` and `MsgClaimShard`: signing, broadcasting, and
//! finding the update id in the delivered result.

use cosmos_sdk_proto::cosmos::base::abci::v1beta1::TxMsgData;
use um_client::keys::Key;
use um_client::rpc::TxResult;
use um_client::tx_builder::{sign_tx, signer_data, TxOptions};
use um_proto::prost::Message;
use um_proto::prost::Name;
use um_proto::um::training::v1::{MsgClaimShard, MsgSubmitUpdate, MsgSubmitUpdateResponse};

use super::{unreachable, ChainClient, ChainError};

/// Type URL of `MsgSubmitUpdate` inside `TxBody.messages`.
pub const SUBMIT_UPDATE_TYPE_URL: &str = "/um.training.v1.MsgSubmitUpdate";
/// Type URL of its response inside `TxMsgData.msg_responses`.
pub const SUBMIT_UPDATE_RESPONSE_TYPE_URL: &str = "/um.training.v1.MsgSubmitUpdateResponse";
/// Events that name the new update in an `update_id` attribute: umd's
/// `submit_update`, and `um.update_submitted` as the design sketch named it.
pub const UPDATE_EVENTS: [&str; 2] = ["submit_update", "um.update_submitted"];

/// Type URL of `MsgClaimShard` inside `TxBody.messages`.
pub const CLAIM_SHARD_TYPE_URL: &str = "/um.training.v1.MsgClaimShard";

/// Gas limit of a `MsgClaimShard`. What umd charges for one is small and
/// does not grow with the model: about 3,000 for the tx's ~300 bytes (10 a
/// byte), 20,000 for the fee deduction, the bonded check (a smart query of
/// nrn-staking: 60,000 to load the contract and its execution) and a few
/// thousand for the claim stored in the round (30 a byte); well under
/// 150,000 in all. Twice that leaves room for a larger staking contract
/// while the fee, which is this limit at the gas price, stays small.
/// `--gas` is for the submission, whose cost grows with the weights, and
/// does not apply here.
pub const CLAIM_SHARD_GAS: u64 = 300_000;

/// Gas beyond the weights: signature check, the staking query, state writes.
pub const SUBMIT_GAS_BASE: u64 = 2_000_000;
/// Gas per byte of weights: umd charges 10 per tx byte (auth
/// `tx_size_cost_per_byte`) plus 30 per stored weights byte (training
/// `weights_cost_per_byte`, the chain's one price of state); 42 leaves room
/// for the rest of the tx. The fee is this limit at the gas price.
pub const SUBMIT_GAS_PER_BYTE: u64 = 42;

/// A gas limit that covers a `MsgSubmitUpdate` carrying `weights_len` bytes
/// of weights under umd's default parameters (about 23 M for 500 KB). A
/// contribution's checkpoints are weights to umd (charged per byte alike):
/// pass their bytes in `weights_len` too.
pub fn submit_gas(weights_len: usize) -> u64 {
    SUBMIT_GAS_BASE.saturating_add(SUBMIT_GAS_PER_BYTE.saturating_mul(weights_len as u64))
}

/// The id of the update a delivered `MsgSubmitUpdate` tx created: from the
/// `MsgSubmitUpdateResponse` in the result data (`TxMsgData.msg_responses`),
/// else from an [`UPDATE_EVENTS`] event's `update_id` attribute.
pub fn update_id(result: &TxResult) -> Option<u64> {
    let from_data = TxMsgData::decode(result.data.as_slice())
        .ok()
        .and_then(|data| {
            data.msg_responses
                .iter()
                .find(|any| any.type_url == SUBMIT_UPDATE_RESPONSE_TYPE_URL)
                .and_then(|any| MsgSubmitUpdateResponse::decode(any.value.as_slice()).ok())
        })
        .map(|response| response.update_id);
    from_data.or_else(|| {
        UPDATE_EVENTS.iter().find_map(|kind| {
            result
                .event_value(kind, "update_id")
                .and_then(|v| v.parse().ok())
        })
    })
}

impl ChainClient {
    /// Signs `msg` with `key` (SIGN_MODE_DIRECT, the account's current
    /// sequence, `gas_limit` at the default gas price), broadcasts it and waits until it is
    /// in a block. A tx refused by CheckTx or by delivery comes back with its
    /// non-zero code and log, not as an error.
    pub fn submit_update(
        &self,
        key: &Key,
        msg: &MsgSubmitUpdate,
        gas_limit: u64,
    ) -> Result<TxResult, ChainError> {
        self.sign_and_broadcast(key, msg, gas_limit)
    }

    /// Claims `msg.shard` of round `msg.round` for `key` (the trainer in
    /// `msg`) like [`ChainClient::submit_update`] sends an update, with
    /// [`CLAIM_SHARD_GAS`]. A refusal (the shard or round is taken, closed,
    /// or the trainer holds a claim already) comes back as a non-zero code
    /// and log, not as an error.
    pub fn claim_shard(&self, key: &Key, msg: &MsgClaimShard) -> Result<TxResult, ChainError> {
        self.sign_and_broadcast(key, msg, CLAIM_SHARD_GAS)
    }

    fn sign_and_broadcast<M: Message + Name>(
        &self,
        key: &Key,
        msg: &M,
        gas_limit: u64,
    ) -> Result<TxResult, ChainError> {
        let chain_id = self.chain_id()?;
        let signer = signer_data(&self.rpc, &chain_id, &key.address).map_err(unreachable)?;
        let message = um_client::msgs::any(msg);
        let options = TxOptions {
            gas_limit,
            ..TxOptions::default()
        };
        let tx = sign_tx(key, vec![message], &signer, &options)?;
        if let Some(endpoint) = &self.grpc {
            return super::grpc::broadcast_and_wait(endpoint, tx, self.tx_timeout);
        }
        self.rpc
            .broadcast_and_wait(&tx, self.tx_timeout)
            .map_err(unreachable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cosmos_sdk_proto::Any;

    fn result(data: Vec<u8>, events: Vec<(&str, &str, &str)>) -> TxResult {
        TxResult {
            hash: String::new(),
            height: 5,
            code: 0,
            codespace: String::new(),
            log: String::new(),
            gas_wanted: 0,
            gas_used: 0,
            data,
            events: events
                .into_iter()
                .map(|(a, b, c)| (a.into(), b.into(), c.into()))
                .collect(),
        }
    }

    #[test]
    fn type_urls_are_the_generated_ones() {
        assert_eq!(SUBMIT_UPDATE_TYPE_URL, MsgSubmitUpdate::type_url());
        assert_eq!(CLAIM_SHARD_TYPE_URL, MsgClaimShard::type_url());
        assert_eq!(
            SUBMIT_UPDATE_RESPONSE_TYPE_URL,
            MsgSubmitUpdateResponse::type_url()
        );
    }

    #[test]
    fn update_id_from_data_or_events() {
        // As umd fills it (abci-app/src/app/tx.rs): one response per message.
        let data = TxMsgData {
            #[allow(deprecated)]
            data: Vec::new(),
            msg_responses: vec![Any {
                type_url: SUBMIT_UPDATE_RESPONSE_TYPE_URL.into(),
                value: MsgSubmitUpdateResponse { update_id: 42 }.encode_to_vec(),
            }],
        }
        .encode_to_vec();
        assert_eq!(update_id(&result(data.clone(), vec![])), Some(42));
        // The data wins over an event.
        let events = vec![("submit_update", "update_id", "7")];
        assert_eq!(update_id(&result(data, events.clone())), Some(42));
        assert_eq!(update_id(&result(vec![], events)), Some(7));
        let other = vec![
            ("transfer", "update_id", "1"),
            ("um.update_submitted", "update_id", "9"),
        ];
        assert_eq!(update_id(&result(vec![], other)), Some(9));
        assert_eq!(update_id(&result(vec![0xff, 0x01], vec![])), None);
        let garbage = vec![("submit_update", "update_id", "x")];
        assert_eq!(update_id(&result(vec![], garbage)), None);
    }

    #[test]
    fn gas_grows_with_the_weights() {
        assert_eq!(submit_gas(0), SUBMIT_GAS_BASE);
        let mlp = submit_gas(436_000);
        assert!(mlp > 40 * 436_000, "covers 40 gas per byte: {mlp}");
        assert!(mlp < 100_000_000, "within umd's max_tx_gas: {mlp}");
        // A claim carries no weights: a fraction of the smallest submission.
        const { assert!(CLAIM_SHARD_GAS < SUBMIT_GAS_BASE / 4) };
    }
}

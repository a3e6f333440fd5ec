//! Wire types of our own tx messages, from `um-proto`, and packing any
//! message as a tx's `Any`.

use cosmos_sdk_proto::Any;
use prost::{Message, Name};

pub use um_proto::type_urls::MSG_REGISTER_GOVERNANCE;
pub use um_proto::um::gov::v1::MsgRegisterGovernance;

/// `msg` as an `Any` under its own type URL (`/` and the full protobuf
/// name, e.g. `/cosmwasm.wasm.v1.MsgExecuteContract`).
pub fn any<M: Message + Name>(msg: &M) -> Any {
    Any {
        type_url: M::type_url(),
        value: msg.encode_to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cosmos_sdk_proto::cosmwasm::wasm::v1::{
        MsgExecuteContract, MsgInstantiateContract, MsgMigrateContract, MsgStoreCode,
        MsgUpdateAdmin,
    };
    use um_proto::um::dataset::v1::MsgProposeDatasetDelta;
    use um_proto::um::training::v1::MsgSubmitUpdate;

    /// The type URLs the chain routes on, as the callers once spelled them.
    #[test]
    fn type_urls() {
        let packed = [
            (
                any(&MsgStoreCode::default()),
                "/cosmwasm.wasm.v1.MsgStoreCode",
            ),
            (
                any(&MsgInstantiateContract::default()),
                "/cosmwasm.wasm.v1.MsgInstantiateContract",
            ),
            (
                any(&MsgExecuteContract::default()),
                "/cosmwasm.wasm.v1.MsgExecuteContract",
            ),
            (
                any(&MsgMigrateContract::default()),
                "/cosmwasm.wasm.v1.MsgMigrateContract",
            ),
            (
                any(&MsgUpdateAdmin::default()),
                "/cosmwasm.wasm.v1.MsgUpdateAdmin",
            ),
            (
                any(&MsgRegisterGovernance::default()),
                MSG_REGISTER_GOVERNANCE,
            ),
            (
                any(&MsgSubmitUpdate::default()),
                "/um.training.v1.MsgSubmitUpdate",
            ),
            (
                any(&um_proto::um::auth::v1::ChainIdHint::default()),
                um_proto::type_urls::CHAIN_ID_HINT,
            ),
            (
                any(&MsgProposeDatasetDelta::default()),
                "/um.dataset.v1.MsgProposeDatasetDelta",
            ),
        ];
        for (packed, url) in packed {
            assert_eq!(packed.type_url, url);
        }
        let msg = MsgSubmitUpdate {
            model_id: "m".into(),
            ..Default::default()
        };
        assert_eq!(any(&msg).value, msg.encode_to_vec());
    }
}

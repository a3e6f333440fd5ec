//! `cosmwasm.wasm.v1.Msg…` tx messages: decoding, the signer and funds
//! checks, and the hand-off to the keeper.

use cosmos_sdk_proto::cosmwasm::wasm::v1::{
    MsgClearAdmin, MsgExecuteContract, MsgInstantiateContract, MsgInstantiateContract2,
    MsgMigrateContract, MsgStoreCode, MsgUpdateAdmin,
};
use cosmos_sdk_proto::Any;
use prost::{Message, Name};

use super::keeper::{require_no_funds, Action, Done, Keeper, Salt};
use crate::codes::{Code, TxError};
use crate::context::GasMeter;

/// Type URLs of the messages this module handles.
pub const TYPE_URLS: [&str; 7] = [
    "/cosmwasm.wasm.v1.MsgStoreCode",
    "/cosmwasm.wasm.v1.MsgInstantiateContract",
    "/cosmwasm.wasm.v1.MsgInstantiateContract2",
    "/cosmwasm.wasm.v1.MsgExecuteContract",
    "/cosmwasm.wasm.v1.MsgMigrateContract",
    "/cosmwasm.wasm.v1.MsgUpdateAdmin",
    "/cosmwasm.wasm.v1.MsgClearAdmin",
];

/// A decoded message: who claims to send it, and what it asks for.
struct Decoded {
    sender: String,
    action: Action,
    /// Native coins attached; refused after the signer check.
    has_funds: bool,
}

pub(crate) fn handle(
    keeper: &Keeper<'_>,
    gas: &mut GasMeter,
    signer: &str,
    msg: &Any,
) -> Result<Done, TxError> {
    let Decoded {
        sender,
        action,
        has_funds,
    } = decode(msg)?;
    if sender != signer {
        return Err(TxError::new(
            Code::WrongSigner,
            format!("message sender {sender} is not the tx signer {signer}"),
        ));
    }
    require_no_funds(!has_funds)?;
    keeper.run(gas, 0, &sender, action)
}

fn decode(msg: &Any) -> Result<Decoded, TxError> {
    let url = msg.type_url.as_str();
    let decoded = if url == MsgStoreCode::type_url() {
        let m: MsgStoreCode = parse(msg)?;
        Decoded {
            sender: m.sender,
            has_funds: false,
            action: Action::StoreCode {
                wasm: m.wasm_byte_code,
            },
        }
    } else if url == MsgInstantiateContract::type_url() {
        let m: MsgInstantiateContract = parse(msg)?;
        Decoded {
            sender: m.sender,
            has_funds: !m.funds.is_empty(),
            action: Action::Instantiate {
                admin: Some(m.admin),
                code_id: m.code_id,
                label: m.label,
                msg: m.msg,
                salt: None,
            },
        }
    } else if url == MsgInstantiateContract2::type_url() {
        let m: MsgInstantiateContract2 = parse(msg)?;
        Decoded {
            sender: m.sender,
            has_funds: !m.funds.is_empty(),
            action: Action::Instantiate {
                admin: Some(m.admin),
                code_id: m.code_id,
                label: m.label,
                msg: m.msg,
                salt: Some(Salt {
                    salt: m.salt,
                    fix_msg: m.fix_msg,
                }),
            },
        }
    } else if url == MsgExecuteContract::type_url() {
        let m: MsgExecuteContract = parse(msg)?;
        Decoded {
            sender: m.sender,
            has_funds: !m.funds.is_empty(),
            action: Action::Execute {
                contract: m.contract,
                msg: m.msg,
            },
        }
    } else if url == MsgMigrateContract::type_url() {
        let m: MsgMigrateContract = parse(msg)?;
        Decoded {
            sender: m.sender,
            has_funds: false,
            action: Action::Migrate {
                contract: m.contract,
                code_id: m.code_id,
                msg: m.msg,
            },
        }
    } else if url == MsgUpdateAdmin::type_url() {
        let m: MsgUpdateAdmin = parse(msg)?;
        if m.new_admin.is_empty() {
            return Err(TxError::new(
                Code::InvalidAddress,
                "new_admin must not be empty (use MsgClearAdmin)",
            ));
        }
        Decoded {
            sender: m.sender,
            has_funds: false,
            action: Action::UpdateAdmin {
                contract: m.contract,
                new_admin: Some(m.new_admin),
            },
        }
    } else if url == MsgClearAdmin::type_url() {
        let m: MsgClearAdmin = parse(msg)?;
        Decoded {
            sender: m.sender,
            has_funds: false,
            action: Action::UpdateAdmin {
                contract: m.contract,
                new_admin: None,
            },
        }
    } else {
        return Err(TxError::new(
            Code::UnknownMessage,
            format!("unknown wasm message type {url}"),
        ));
    };
    Ok(decoded)
}

fn parse<M: Message + Name + Default>(msg: &Any) -> Result<M, TxError> {
    M::decode(msg.value.as_slice()).map_err(|e| {
        TxError::new(
            Code::InvalidRequest,
            format!("cannot decode {}: {e}", M::full_name()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_urls_match_the_proto_names() {
        assert_eq!(TYPE_URLS[0], MsgStoreCode::type_url());
        assert_eq!(TYPE_URLS[2], MsgInstantiateContract2::type_url());
        assert_eq!(TYPE_URLS[6], MsgClearAdmin::type_url());
    }

    #[test]
    fn undecodable_and_unknown_messages_are_refused() {
        let garbage = Any {
            type_url: MsgExecuteContract::type_url(),
            value: vec![0xff, 0xff, 0xff],
        };
        assert_eq!(
            decode(&garbage).err().map(|e| e.code),
            Some(Code::InvalidRequest)
        );
        let unknown = Any {
            type_url: "/cosmwasm.wasm.v1.MsgSudoContract".to_string(),
            value: Vec::new(),
        };
        assert_eq!(
            decode(&unknown).err().map(|e| e.code),
            Some(Code::UnknownMessage)
        );
    }
}

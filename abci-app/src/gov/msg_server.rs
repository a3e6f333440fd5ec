//! `MsgRegisterGovernance`: the one tx the gov module takes.

use cosmos_sdk_proto::Any;
use prost::Message;
use um_proto::type_urls::MSG_REGISTER_GOVERNANCE;
use um_proto::um::gov::v1::MsgRegisterGovernance;

use super::Registry;
use crate::codes::{Code, TxError};
use crate::context::{Event, MsgResult, TxContext};

pub fn handles(type_url: &str) -> bool {
    type_url == MSG_REGISTER_GOVERNANCE
}

pub fn handle(ctx: &mut TxContext<'_>, signer: &str, msg: &Any) -> Result<MsgResult, TxError> {
    let msg = MsgRegisterGovernance::decode(msg.value.as_slice())
        .map_err(|e| TxError::new(Code::TxDecode, format!("MsgRegisterGovernance: {e}")))?;
    if msg.sender != signer {
        return Err(TxError::new(
            Code::WrongSigner,
            format!("message sender {} did not sign the tx", msg.sender),
        ));
    }
    // Without a registrar named at genesis, whoever sent the first
    // registration would own the chain's governance (its DAO decides what
    // the chain mints and whom it slashes): only a genesis suite governs.
    let params = super::params(ctx.state)?;
    match &params.registrar {
        Some(registrar) if registrar == &msg.sender => {}
        Some(registrar) => {
            return Err(TxError::new(
                Code::NotPermitted,
                format!("only the registrar {registrar} may register governance contracts"),
            ))
        }
        None => {
            return Err(TxError::new(
                Code::NotPermitted,
                "this chain named no registrar at genesis: governance is the suite deployed in genesis (`umd genesis deploy-governance`), or the one a registrar named there (`umd genesis set-registrar`) registers",
            ))
        }
    }
    let versions = Some(msg.versions.clone()).filter(|v| !v.is_empty());
    let mut roles = vec![
        ("token", &msg.token),
        ("staking", &msg.staking),
        ("dao", &msg.dao),
    ];
    if let Some(versions) = &versions {
        roles.push(("versions", versions));
    }
    for (role, address) in roles {
        let creator = ctx
            .wasm
            .contract_creator(ctx.state, address)?
            .ok_or_else(|| {
                TxError::new(
                    Code::NotFound,
                    format!("{role} contract {address} not found"),
                )
            })?;
        if creator != msg.sender {
            return Err(TxError::new(
                Code::NotPermitted,
                format!("{role} contract {address} was created by {creator}, not by the sender"),
            ));
        }
    }
    let registry = Registry {
        token: msg.token,
        staking: msg.staking,
        dao: msg.dao,
        versions,
    };
    super::register(ctx.state, &registry)?;
    let event = Event::new("register_governance")
        .attr("token", &registry.token)
        .attr("staking", &registry.staking)
        .attr("dao", &registry.dao);
    Ok(MsgResult {
        response: Some(Any {
            type_url: "/um.gov.v1.MsgRegisterGovernanceResponse".into(),
            value: Vec::new(),
        }),
        events: vec![match &registry.versions {
            Some(versions) => event.attr("versions", versions),
            None => event,
        }],
    })
}

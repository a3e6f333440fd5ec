//! The chain's modules and the message router between them.

use cosmos_sdk_proto::Any;

use crate::codes::{Code, TxError};
use crate::context::{MsgResult, TxContext};
use crate::gov;
use crate::training;
use crate::wasm::WasmModule;

pub struct Modules {
    pub wasm: WasmModule,
}

impl Modules {
    pub fn route(
        &self,
        ctx: &mut TxContext<'_>,
        signer: &str,
        msg: &Any,
    ) -> Result<MsgResult, TxError> {
        if WasmModule::handles(&msg.type_url) {
            return self.wasm.handle_msg(ctx, signer, msg);
        }
        if gov::msg_server::handles(&msg.type_url) {
            return gov::msg_server::handle(&self.wasm, ctx, signer, msg);
        }
        if training::submit::handles(&msg.type_url) {
            return training::submit::handle(&self.wasm, ctx, signer, msg);
        }
        if crate::dataset::msg_server::handles(&msg.type_url) {
            return crate::dataset::msg_server::handle(&self.wasm, ctx, signer, msg);
        }
        Err(TxError::new(
            Code::UnknownMessage,
            format!("unknown message type {:?}", msg.type_url),
        ))
    }

    pub fn module_name(&self, type_url: &str) -> &'static str {
        if WasmModule::handles(type_url) {
            "wasm"
        } else if gov::msg_server::handles(type_url) {
            "gov"
        } else if training::submit::handles(type_url) {
            "training"
        } else if crate::dataset::msg_server::handles(type_url) {
            "dataset"
        } else {
            "unknown"
        }
    }
}

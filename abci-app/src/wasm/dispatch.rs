//! What happens after a contract returns: its events are emitted and its
//! sub-messages dispatched, each in its own checkpoint, with `reply` called
//! as the contract asked; semantics of wasmd's `DispatchSubmessages`.

use cosmwasm_std_vm::{
    CosmosMsg, MsgResponse, Reply, ReplyOn, SubMsg, SubMsgResponse, SubMsgResult, WasmMsg,
};
use cosmwasm_vm::call_reply;

use super::events;
use super::keeper::{require_no_funds, Action, Done, Keeper, Salt};
use super::limits::MAX_DISPATCH_DEPTH;
use super::vm::{ContractResponse, CustomJson};
use crate::codes::{Code, TxError, CODESPACE};
use crate::context::{Event, GasMeter};

/// Flat SDK gas for a custom chain message; what the chain does with it is
/// bounded state work (a few small records).
const CUSTOM_MSG_COST: u64 = 20_000;

impl Keeper<'_> {
    /// Applies a contract's response: emits its events, dispatches its
    /// sub-messages in order and returns the resulting data (a reply's data
    /// overrides the contract's) with all events.
    pub(super) fn finish(
        &self,
        gas: &mut GasMeter,
        depth: u32,
        contract: &str,
        response: ContractResponse,
        mut events: Vec<Event>,
    ) -> Result<(Option<Vec<u8>>, Vec<Event>), TxError> {
        let (emitted, cost) =
            events::from_response(contract, &response.attributes, &response.events)?;
        gas.consume(cost, "contract events")?;
        events.extend(emitted);
        let mut data = response.data.map(|data| data.to_vec());
        for sub_msg in response.messages {
            if let Some(reply_data) = self.dispatch(gas, depth, contract, sub_msg, &mut events)? {
                data = Some(reply_data);
            }
        }
        Ok((data, events))
    }

    /// Runs one sub-message of `contract` in its own checkpoint and calls
    /// `reply` as `reply_on` asks, like wasmd's `DispatchSubmessages`.
    fn dispatch(
        &self,
        gas: &mut GasMeter,
        depth: u32,
        contract: &str,
        sub_msg: SubMsg<CustomJson>,
        events: &mut Vec<Event>,
    ) -> Result<Option<Vec<u8>>, TxError> {
        let SubMsg {
            id,
            payload,
            msg,
            gas_limit,
            reply_on,
        } = sub_msg;
        let used_before = gas.used();
        // A gas limit only matters below what is left anyway.
        let limit = gas_limit.filter(|limit| *limit < gas.remaining());
        self.host.write(|s| s.checkpoint())?;
        let result = match limit {
            None => self.dispatch_msg(gas, depth + 1, contract, msg),
            Some(limit) => {
                // The tx's contract allowance goes on in the sub-message.
                let mut limited =
                    GasMeter::new(limit).with_contract_limit(gas.contract_remaining());
                let result = self.dispatch_msg(&mut limited, depth + 1, contract, msg);
                gas.note_contract(limited.contract_used());
                match gas.consume(limited.used(), "sub-message") {
                    Ok(()) => result,
                    Err(parent_out_of_gas) => {
                        self.host.write(|s| s.discard_checkpoint())?;
                        return Err(parent_out_of_gas);
                    }
                }
            }
        };
        let gas_used = gas.used().saturating_sub(used_before);

        let done = match result {
            Ok(done) => {
                self.host.write(|s| s.keep_checkpoint())?;
                done
            }
            Err(err) => {
                self.host.write(|s| s.discard_checkpoint())?;
                // Running out of the tx's own gas, or the node failing, ends
                // the whole tx; only a sub-message's own gas limit is the
                // contract's business.
                let fatal =
                    err.code == Code::Internal || (err.code == Code::OutOfGas && limit.is_none());
                if fatal || !matches!(reply_on, ReplyOn::Always | ReplyOn::Error) {
                    return Err(err);
                }
                let reply = Reply {
                    id,
                    payload,
                    gas_used,
                    result: SubMsgResult::Err(reply_error(&err)),
                };
                return self.reply(gas, depth, contract, reply, events);
            }
        };

        events.extend(done.events.iter().cloned());
        if !matches!(reply_on, ReplyOn::Always | ReplyOn::Success) {
            return Ok(None);
        }
        #[allow(deprecated)] // `data` is what contracts built for CosmWasm 1.x read.
        let response = SubMsgResponse {
            events: events::to_vm(&done.events),
            data: Some(done.response.value.clone().into()),
            msg_responses: vec![MsgResponse {
                type_url: done.response.type_url.clone(),
                value: done.response.value.into(),
            }],
        };
        let reply = Reply {
            id,
            payload,
            gas_used,
            result: SubMsgResult::Ok(response),
        };
        self.reply(gas, depth, contract, reply, events)
    }

    /// Turns a contract's message into an action with the contract as sender.
    fn dispatch_msg(
        &self,
        gas: &mut GasMeter,
        depth: u32,
        contract: &str,
        msg: CosmosMsg<CustomJson>,
    ) -> Result<Done, TxError> {
        if depth > MAX_DISPATCH_DEPTH {
            return Err(TxError::new(
                Code::InvalidRequest,
                format!("sub-message depth limit of {MAX_DISPATCH_DEPTH} exceeded"),
            ));
        }
        let action = match msg {
            CosmosMsg::Wasm(msg) => wasm_action(msg)?,
            CosmosMsg::Bank(_) => {
                return Err(unsupported("bank messages (the chain has no native coins)"))
            }
            CosmosMsg::Custom(CustomJson(custom)) => {
                return self.custom(gas, depth, contract, &custom)
            }
            CosmosMsg::Staking(_) => return Err(unsupported("staking messages")),
            CosmosMsg::Distribution(_) => return Err(unsupported("distribution messages")),
            CosmosMsg::Any(any) => {
                return Err(unsupported(&format!("Any messages ({})", any.type_url)))
            }
            _ => return Err(unsupported("this message type")),
        };
        self.run(gas, depth, contract, action)
    }

    /// Hands a contract's `CosmosMsg::Custom` to the chain's modules,
    /// which decide whether this contract may send it, then runs the
    /// contract calls they ask for as their module accounts.
    fn custom(
        &self,
        gas: &mut GasMeter,
        depth: u32,
        contract: &str,
        custom: &serde_json::Value,
    ) -> Result<Done, TxError> {
        let msg = serde_json::to_vec(custom)
            .map_err(|e| TxError::new(Code::InvalidRequest, format!("custom message: {e}")))?;
        gas.consume(CUSTOM_MSG_COST, "custom chain message")?;
        let host = self.host;
        let outcome =
            host.write(|state| host.bindings.execute(state, &host.block, contract, &msg))??;
        gas.consume(outcome.gas, "custom chain message work")?;
        let mut events = outcome.events;
        if let Some(wasm) = &outcome.store_code {
            events.extend(self.store_code_trusted(gas, contract, wasm)?.events);
        }
        for call in outcome.calls {
            let action = Action::Execute {
                contract: call.contract,
                msg: call.msg,
            };
            events.extend(self.run(gas, depth, &call.sender, action)?.events);
        }
        for call in outcome.sudo_calls {
            events.extend(self.sudo(gas, depth, &call.contract, &call.msg)?.events);
        }
        Ok(Done {
            response: cosmos_sdk_proto::Any {
                type_url: "/um.bindings.UmMsgResponse".to_string(),
                value: Vec::new(),
            },
            events,
        })
    }

    fn reply(
        &self,
        gas: &mut GasMeter,
        depth: u32,
        contract: &str,
        reply: Reply,
        events: &mut Vec<Event>,
    ) -> Result<Option<Vec<u8>>, TxError> {
        let (target, _) = self.contract(contract)?;
        let env = self.host.env(contract);
        let response = self.call(gas, &target, "reply", |instance| {
            call_reply(instance, &env, &reply)
        })?;
        let initial = vec![events::reply(contract)];
        let (data, reply_events) = self.finish(gas, depth, contract, response, initial)?;
        events.extend(reply_events);
        Ok(data)
    }
}

fn wasm_action(msg: WasmMsg) -> Result<Action, TxError> {
    Ok(match msg {
        WasmMsg::Execute {
            contract_addr,
            msg,
            funds,
        } => {
            require_no_funds(funds.is_empty())?;
            Action::Execute {
                contract: contract_addr,
                msg: msg.to_vec(),
            }
        }
        WasmMsg::Instantiate {
            admin,
            code_id,
            msg,
            funds,
            label,
        } => {
            require_no_funds(funds.is_empty())?;
            Action::Instantiate {
                admin,
                code_id,
                label,
                msg: msg.to_vec(),
                salt: None,
            }
        }
        WasmMsg::Instantiate2 {
            admin,
            code_id,
            label,
            msg,
            funds,
            salt,
        } => {
            require_no_funds(funds.is_empty())?;
            Action::Instantiate {
                admin,
                code_id,
                label,
                msg: msg.to_vec(),
                salt: Some(Salt {
                    salt: salt.to_vec(),
                    fix_msg: false,
                }),
            }
        }
        WasmMsg::Migrate {
            contract_addr,
            new_code_id,
            msg,
        } => Action::Migrate {
            contract: contract_addr,
            code_id: new_code_id,
            msg: msg.to_vec(),
        },
        WasmMsg::UpdateAdmin {
            contract_addr,
            admin,
        } => Action::UpdateAdmin {
            contract: contract_addr,
            new_admin: Some(admin),
        },
        WasmMsg::ClearAdmin { contract_addr } => Action::UpdateAdmin {
            contract: contract_addr,
            new_admin: None,
        },
        _ => return Err(unsupported("this wasm message")),
    })
}

/// The string a `reply` gets for a failed sub-message; a contract may
/// store it (the DAO records why a proposal's action failed), so it enters
/// consensus. VM failures and the node's own faults are reduced to their
/// code, as wasmd redacts them: their wording comes from the VM or the store
/// (a sled I/O error differs from node to node). The rest is the chain's own
/// text or a contract's, both functions of the input.
fn reply_error(err: &TxError) -> String {
    match err.code {
        Code::VmError | Code::Internal => {
            format!("codespace: {CODESPACE}, code: {}", err.code.value())
        }
        _ => err.log.clone(),
    }
}

fn unsupported(what: &str) -> TxError {
    TxError::new(
        Code::UnknownMessage,
        format!("{what} are not supported by this chain"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_and_node_errors_are_redacted_in_replies() {
        let vm = TxError::new(Code::VmError, "wasmer said something");
        assert_eq!(reply_error(&vm), "codespace: um, code: 24");
        let contract = TxError::new(Code::ContractError, "contract error: no");
        assert_eq!(reply_error(&contract), "contract error: no");
        let store = TxError::new(Code::Internal, "state access failed: disk on fire");
        assert_eq!(reply_error(&store), "codespace: um, code: 99");
    }
}

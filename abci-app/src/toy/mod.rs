//! A toy module that exists only in tests: the whole of what a new module
//! needs, a folder like this one plus one line in the module list, and its
//! messages, queries, genesis and end-block work through the real ABCI
//! shell.

use cosmos_sdk_proto::Any;
use prost::Message;

use crate::codes::{Code, TxError};
use crate::context::{Event, MsgResult, TxContext};
use crate::genesis::parse_section;
use crate::module::{BlockContext, BlockEffects, GenesisContext, Module, QueryContext};
use crate::store::StateView;

pub const MSG_ADD: &str = "/um.toy.v1.MsgAdd";
pub const COUNTER_PATH: &str = "custom/toy/counter";
const COUNTER_KEY: &[u8] = b"toy/counter";

/// Adds `amount` to the counter.
#[derive(Clone, PartialEq, Message)]
pub struct MsgAdd {
    #[prost(string, tag = "1")]
    pub sender: String,
    #[prost(uint64, tag = "2")]
    pub amount: u64,
}

#[derive(Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ToyGenesis {
    start: u64,
}

pub struct ToyModule;

fn counter(state: &StateView) -> Result<u64, TxError> {
    Ok(state
        .get(COUNTER_KEY)?
        .and_then(|bytes| <[u8; 8]>::try_from(bytes.as_slice()).ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0))
}

fn set_counter(state: &mut StateView, value: u64) {
    state.set(COUNTER_KEY, value.to_be_bytes().to_vec());
}

impl Module for ToyModule {
    fn name(&self) -> &'static str {
        "toy"
    }

    fn handles(&self, type_url: &str) -> bool {
        type_url == MSG_ADD
    }

    fn deliver(
        &self,
        ctx: &mut TxContext<'_>,
        signer: &str,
        msg: &Any,
    ) -> Result<MsgResult, TxError> {
        let msg = MsgAdd::decode(msg.value.as_slice())
            .map_err(|e| TxError::new(Code::TxDecode, format!("MsgAdd: {e}")))?;
        if msg.sender != signer {
            return Err(TxError::new(Code::WrongSigner, "sender did not sign"));
        }
        let value = counter(ctx.state)?.saturating_add(msg.amount);
        set_counter(ctx.state, value);
        Ok(MsgResult {
            response: None,
            events: vec![Event::new("toy_add").attr("counter", value.to_string())],
        })
    }

    fn query(
        &self,
        ctx: &QueryContext<'_>,
        path: &str,
        _data: &[u8],
    ) -> Option<Result<Vec<u8>, TxError>> {
        (path == COUNTER_PATH).then(|| {
            counter(ctx.state).map(|value| {
                serde_json::json!({ "counter": value })
                    .to_string()
                    .into_bytes()
            })
        })
    }

    fn init_genesis(
        &self,
        ctx: &mut GenesisContext<'_>,
        section: &serde_json::Value,
    ) -> Result<(), TxError> {
        let genesis: ToyGenesis = parse_section(self.name(), section)?;
        set_counter(ctx.state, genesis.start);
        Ok(())
    }

    fn end_block(&self, ctx: &mut BlockContext<'_>) -> Result<BlockEffects, TxError> {
        let value = counter(ctx.state)?;
        Ok(vec![Event::new("toy_tick").attr("counter", value.to_string())].into())
    }
}

#[cfg(test)]
mod tests {
    use tendermint_abci::Application;
    use tendermint_proto::v0_38::abci as pb;
    use um_client::keys::Key;
    use um_client::tx_builder::{sign_tx, SignerData, TxOptions};

    use super::*;
    use crate::app::modules::Modules;
    use crate::app::{App, Node};
    use crate::store::Store;
    use crate::wasm::WasmVm;

    const CHAIN: &str = "toy-1";

    fn key() -> Key {
        Key::from_mnemonic(
            "k",
            "surround miss nominee dream gap cross assault thank captain prosper drop duty group candy wealth weather scale put",
        )
        .unwrap()
    }

    fn add_tx(key: &Key, sender: &str, amount: u64, sequence: u64) -> Vec<u8> {
        let msg = Any {
            type_url: MSG_ADD.into(),
            value: MsgAdd {
                sender: sender.into(),
                amount,
            }
            .encode_to_vec(),
        };
        let signer = SignerData {
            chain_id: CHAIN.into(),
            account_number: 0,
            sequence,
        };
        sign_tx(key, vec![msg], &signer, &TxOptions::default()).unwrap()
    }

    fn query_counter(app: &App) -> serde_json::Value {
        let response = app.query(pb::RequestQuery {
            path: COUNTER_PATH.into(),
            ..Default::default()
        });
        assert_eq!(response.code, 0, "{}", response.log);
        serde_json::from_slice(&response.value).unwrap()
    }

    #[test]
    fn a_module_added_in_one_line_gets_its_messages_queries_genesis_and_end_block() {
        let cache = tempfile::tempdir().unwrap();
        let wasm = WasmVm::new(cache.path()).unwrap();
        // The one line.
        let modules = Modules::standard(wasm).with(Box::new(ToyModule));
        let app = App::new(Node::with_modules(Store::temporary().unwrap(), modules).unwrap());
        app.init_chain(pb::RequestInitChain {
            chain_id: CHAIN.into(),
            initial_height: 1,
            app_state_bytes: br#"{"toy":{"start":5}}"#.to_vec().into(),
            ..Default::default()
        });
        let key = key();
        let response = app.finalize_block(pb::RequestFinalizeBlock {
            height: 1,
            txs: vec![
                add_tx(&key, &key.address, 3, 0).into(),
                add_tx(&key, "um1someoneelse", 3, 1).into(),
            ],
            ..Default::default()
        });
        app.commit();
        let ok = &response.tx_results[0];
        assert_eq!(ok.code, 0, "{}", ok.log);
        let message = ok.events.iter().find(|e| e.r#type == "message").unwrap();
        assert!(message
            .attributes
            .iter()
            .any(|a| a.key == "module" && a.value == "toy"));
        assert!(ok.events.iter().any(|e| e.r#type == "toy_add"));
        assert_eq!(response.tx_results[1].code, Code::WrongSigner.value());
        let tick = response
            .events
            .iter()
            .find(|e| e.r#type == "toy_tick")
            .expect("end-block ran");
        assert_eq!(tick.attributes[0].value, "8");
        assert_eq!(query_counter(&app)["counter"], 8);
    }

    #[test]
    fn a_chain_without_the_module_refuses_its_genesis_section() {
        let cache = tempfile::tempdir().unwrap();
        let modules = Modules::standard(WasmVm::new(cache.path()).unwrap());
        let store = Store::temporary().unwrap();
        let app_state = crate::genesis::AppState::from_json(br#"{"toy":{"start":5}}"#).unwrap();
        let err = modules
            .init_genesis(
                &mut store.view(),
                &crate::context::BlockInfo::default(),
                &[],
                &app_state,
            )
            .unwrap_err();
        assert!(err.contains("unknown section `toy`"), "{err}");
        let with_toy = modules.with(Box::new(ToyModule));
        let mut state = store.view();
        with_toy
            .init_genesis(
                &mut state,
                &crate::context::BlockInfo::default(),
                &[],
                &app_state,
            )
            .unwrap();
        assert_eq!(counter(&state).unwrap(), 5);
        let bad = crate::genesis::AppState::from_json(br#"{"toy":{"begin":5}}"#).unwrap();
        let err = with_toy
            .init_genesis(
                &mut store.view(),
                &crate::context::BlockInfo::default(),
                &[],
                &bad,
            )
            .unwrap_err();
        assert!(err.contains("genesis toy: invalid app_state.toy"), "{err}");
    }
}

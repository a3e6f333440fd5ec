//! Running one tx: ante checks, then its messages, each tx atomic.

use cosmos_sdk_proto::cosmos::base::abci::v1beta1::TxMsgData;
use prost::Message;

use super::modules::Modules;
use crate::auth::{self, AuthParams, Mode};
use crate::codes::{Code, TxError};
use crate::context::{BlockInfo, Event, GasMeter, MsgResult, TxContext};
use crate::store::StateView;

/// The result of a tx, ready to become an `ExecTxResult` or a simulation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxOutcome {
    pub code: Code,
    pub log: String,
    pub gas_wanted: u64,
    pub gas_used: u64,
    pub events: Vec<Event>,
    /// `TxMsgData` with one response per message.
    pub data: Vec<u8>,
    pub msg_responses: Vec<cosmos_sdk_proto::Any>,
}

impl TxOutcome {
    /// The ante step's events, which stand when the messages fail.
    fn with_events(mut self, events: Vec<Event>) -> Self {
        self.events = events;
        self
    }

    fn failed(err: TxError, gas_wanted: u64, gas_used: u64) -> Self {
        Self {
            code: err.code,
            log: err.log,
            gas_wanted,
            gas_used,
            events: Vec::new(),
            data: Vec::new(),
            msg_responses: Vec::new(),
        }
    }
}

/// Executes `tx_bytes` against `state`.
///
/// The signer's sequence moves and the fee stays paid even when a message
/// fails (as in the Cosmos SDK), so a failed tx cannot be replayed and its
/// block space was paid for; everything the messages wrote is dropped on
/// failure.
pub fn execute(
    modules: &Modules,
    state: &mut StateView,
    block: &BlockInfo,
    params: &AuthParams,
    tx_bytes: &[u8],
    tx_index: u32,
    mode: Mode,
) -> TxOutcome {
    let tx = match auth::decode(tx_bytes, params, mode) {
        Ok(tx) => tx,
        Err(err) => return TxOutcome::failed(err, 0, 0),
    };
    if let Err(err) = auth::check_timeout(&tx, block.height) {
        return TxOutcome::failed(err, tx.gas_limit, 0);
    }
    let mut gas = GasMeter::new(tx.gas_limit).with_contract_limit(params.max_tx_contract_gas);

    state.checkpoint();
    let (signer, fee) = match super::ante::run(state, block, &tx, params, &mut gas, mode, None) {
        Ok(paid) => {
            state.keep_checkpoint();
            paid
        }
        Err(err) => {
            state.discard_checkpoint();
            return TxOutcome::failed(err, tx.gas_limit, gas.used());
        }
    };
    // As the SDK's ante handler: who paid what, on a failed tx too.
    let ante_events = vec![
        Event::new("tx").attr("acc_seq", format!("{}/{}", signer.address, signer.sequence)),
        Event::new("tx")
            .attr("fee", format!("{}{}", fee.amount, crate::fee::FEE_DENOM))
            .attr("fee_payer", &signer.address),
    ];

    state.checkpoint();
    let mut events = ante_events.clone();
    let mut msg_responses = Vec::new();
    for (index, msg) in tx.messages().iter().enumerate() {
        let mut ctx = TxContext {
            state,
            block,
            gas: &mut gas,
            tx_index,
            wasm: modules.wasm(),
            simulate: mode == Mode::Simulate,
        };
        match modules.route(&mut ctx, &signer.address, msg) {
            Ok(MsgResult {
                response,
                events: msg_events,
            }) => {
                events.push(
                    Event::new("message")
                        .attr("action", &msg.type_url)
                        .attr("sender", &signer.address)
                        .attr("module", modules.module_name(&msg.type_url))
                        .attr("msg_index", index.to_string()),
                );
                events.extend(msg_events);
                msg_responses.extend(response);
            }
            Err(err) => {
                state.discard_checkpoint();
                let log = format!(
                    "failed to execute message; message index: {index}: {}",
                    err.log
                );
                return TxOutcome::failed(TxError::new(err.code, log), tx.gas_limit, gas.used())
                    .with_events(ante_events);
            }
        }
    }
    if let Err(err) = open_recipient_accounts(state, &mut gas, &events) {
        state.discard_checkpoint();
        return TxOutcome::failed(err, tx.gas_limit, gas.used()).with_events(ante_events);
    }
    state.keep_checkpoint();
    #[allow(deprecated)]
    let data = TxMsgData {
        data: Vec::new(),
        msg_responses: msg_responses.clone(),
    }
    .encode_to_vec();
    TxOutcome {
        code: Code::Ok,
        log: String::new(),
        gas_wanted: tx.gas_limit,
        gas_used: gas.used(),
        events,
        data,
        msg_responses,
    }
}

/// NRN received opens the recipient's account (see `auth::receive`).
fn open_recipient_accounts(
    state: &mut StateView,
    gas: &mut GasMeter,
    events: &[Event],
) -> Result<(), TxError> {
    // Only a contract's events can name a recipient; most txs have none,
    // and need not read the registry.
    if !events.iter().any(|event| event.kind == "wasm") {
        return Ok(());
    }
    if let Some(registry) = crate::gov::registry(state)? {
        auth::receive::open_recipient_accounts(state, gas, &registry.token, events)?;
    }
    Ok(())
}

//! What a message handler sees: the state, the block, the gas meter.

use crate::codes::{Code, TxError};
use crate::store::StateView;

/// The block being executed, as CometBFT reported it.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BlockInfo {
    pub chain_id: String,
    pub height: u64,
    /// Block time in nanoseconds since the Unix epoch (consensus time, not the
    /// node's clock).
    pub time_nanos: u64,
    /// The block's hash; empty where there is no block yet (CheckTx,
    /// simulation, genesis). Agreed by every node once the block is
    /// decided, yet unknown to whoever sent a transaction into it.
    #[serde(default)]
    pub hash: Vec<u8>,
}

/// Gas in Cosmos SDK units.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GasMeter {
    limit: u64,
    used: u64,
    /// Of `used`, the most that contract code may spend (a tx's
    /// `max_tx_contract_gas`; unbounded for the chain's own calls).
    contract_limit: u64,
    contract_used: u64,
}

impl GasMeter {
    pub fn new(limit: u64) -> Self {
        Self {
            limit,
            used: 0,
            contract_limit: u64::MAX,
            contract_used: 0,
        }
    }

    /// The same meter, of which contract code may spend at most `limit`.
    pub fn with_contract_limit(mut self, limit: u64) -> Self {
        self.contract_limit = limit;
        self
    }

    pub fn contract_limit(&self) -> u64 {
        self.contract_limit
    }

    pub fn contract_used(&self) -> u64 {
        self.contract_used
    }

    /// What contract code may still spend: the contract allowance, within
    /// what is left of the meter.
    pub fn contract_remaining(&self) -> u64 {
        self.contract_limit
            .saturating_sub(self.contract_used)
            .min(self.remaining())
    }

    /// Counts `amount` (charged with `consume`) as spent in contract code.
    pub fn note_contract(&mut self, amount: u64) {
        self.contract_used = self.contract_used.saturating_add(amount);
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    pub fn used(&self) -> u64 {
        self.used
    }

    pub fn remaining(&self) -> u64 {
        self.limit.saturating_sub(self.used)
    }

    /// Charges `amount`; past the limit the meter stays full and the tx fails.
    pub fn consume(&mut self, amount: u64, what: &str) -> Result<(), TxError> {
        let used = self.used.saturating_add(amount);
        if used > self.limit {
            self.used = self.limit;
            return Err(TxError::new(
                Code::OutOfGas,
                format!("out of gas in {what}: limit {}, needed {used}", self.limit),
            ));
        }
        self.used = used;
        Ok(())
    }
}

/// An ABCI event before conversion to CometBFT's type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub kind: String,
    pub attributes: Vec<(String, String)>,
}

impl Event {
    pub fn new(kind: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            attributes: Vec::new(),
        }
    }

    pub fn attr(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.attributes.push((key.into(), value.into()));
        self
    }
}

/// What a successful message leaves behind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MsgResult {
    /// The message's `Msg…Response`, packed as `Any` in `TxMsgData`.
    pub response: Option<cosmos_sdk_proto::Any>,
    pub events: Vec<Event>,
}

/// Everything a message handler may touch while executing one tx.
pub struct TxContext<'a> {
    pub state: &'a mut StateView,
    pub block: &'a BlockInfo,
    pub gas: &'a mut GasMeter,
    /// Position of the tx in its block, for contracts' `env.transaction`.
    pub tx_index: u32,
    /// The contracts, for modules that call or query them.
    pub wasm: &'a dyn Contracts,
    /// A simulation (the unsigned `Simulate` query): nothing it does may
    /// outlast it, not even this node's derived data such as compiled code
    /// on disk.
    pub simulate: bool,
}

/// The wasm VM as the chain's modules reach it (`wasm::WasmVm` in a node).
/// A trait here, below every module, so that the modules that call
/// contracts and the wasm module itself depend on this file and not on
/// each other.
pub trait Contracts: Send + Sync {
    /// Executes one `cosmwasm.wasm.v1.Msg…` as `signer`, metered by
    /// `ctx.gas`. On error, writes made before the failure may remain in
    /// `ctx.state`: the caller discards its checkpoint.
    fn execute(
        &self,
        ctx: &mut TxContext<'_>,
        signer: &str,
        msg: &cosmos_sdk_proto::Any,
    ) -> Result<MsgResult, TxError>;

    /// Calls `contract`'s `sudo` entry point as the chain (minting rewards,
    /// slashing), metered by `ctx.gas`; errors as [`Self::execute`].
    fn sudo(
        &self,
        ctx: &mut TxContext<'_>,
        contract: &str,
        msg: &[u8],
    ) -> Result<MsgResult, TxError>;

    /// A smart query of `contract` against `state`, with the VM's query gas
    /// limit; returns the contract's JSON answer.
    fn query_smart(
        &self,
        state: &StateView,
        block: &BlockInfo,
        contract: &str,
        msg: &[u8],
    ) -> Result<Vec<u8>, TxError>;

    /// Who instantiated `contract` (`None` if there is no such contract).
    fn contract_creator(
        &self,
        state: &StateView,
        contract: &str,
    ) -> Result<Option<String>, TxError>;

    /// Answers a `cosmwasm.wasm.v1.Query` path; `None` for other paths.
    fn abci_query(
        &self,
        state: &StateView,
        block: &BlockInfo,
        path: &str,
        data: &[u8],
    ) -> Option<Result<Vec<u8>, TxError>>;

    /// Stores the genesis codes and instantiates the genesis contracts of
    /// `app_state.wasm`.
    fn init_genesis(
        &self,
        state: &mut StateView,
        block: &BlockInfo,
        section: &serde_json::Value,
    ) -> Result<(), TxError>;
}

/// A contract execution a module asks for as its own module account, e.g.
/// paying back a cw20 deposit it holds in escrow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModuleCall {
    /// The module account that sends the execute message.
    pub sender: String,
    pub contract: String,
    /// The JSON execute message.
    pub msg: Vec<u8>,
}

/// A `sudo` call the chain makes into a contract.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SudoCall {
    pub contract: String,
    /// The JSON sudo message.
    pub msg: Vec<u8>,
}

/// What a custom message did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CustomOutcome {
    pub events: Vec<Event>,
    /// Run by the wasm module right after the custom message, in order, as
    /// part of it: the state is already moved into the VM host while the
    /// bindings run, so they cannot call contracts themselves. If one call
    /// fails, the custom message fails.
    pub calls: Vec<ModuleCall>,
    /// `sudo` calls into contracts the chain itself makes as part of the
    /// message, after `calls`, e.g. the DAO's royalty rule into
    /// nrn-versions. If one fails, the custom message fails.
    pub sudo_calls: Vec<SudoCall>,
    /// Gas for work that grows with the state or the message (keys read,
    /// bytes written), on top of the flat price of a custom message.
    pub gas: u64,
    /// Wasm code the DAO uploads (`UmMsg::StoreCode`), stored by the wasm
    /// module after the message as the contract that sent it, whatever the
    /// upload rule (the bindings cannot compile: the VM holds the state).
    pub store_code: Option<Vec<u8>>,
}

impl From<Vec<Event>> for CustomOutcome {
    fn from(events: Vec<Event>) -> Self {
        Self {
            events,
            ..Self::default()
        }
    }
}

/// The chain side of CosmWasm custom messages (`CosmosMsg::Custom`) and
/// queries (`QueryRequest::Custom`): the wasm module hands them over as
/// JSON and the chain's modules decide.
pub trait CustomBindings: Send + Sync {
    /// Runs a custom message emitted by `contract`.
    fn execute(
        &self,
        state: &mut StateView,
        block: &BlockInfo,
        contract: &str,
        msg: &[u8],
    ) -> Result<CustomOutcome, TxError>;

    /// Answers a custom query with the JSON of its response.
    fn query(&self, state: &StateView, request: &[u8]) -> Result<Vec<u8>, TxError>;
}

/// Bindings for a chain without custom messages (unit tests of the VM).
pub struct NoCustomBindings;

impl CustomBindings for NoCustomBindings {
    fn execute(
        &self,
        _state: &mut StateView,
        _block: &BlockInfo,
        _contract: &str,
        _msg: &[u8],
    ) -> Result<CustomOutcome, TxError> {
        Err(TxError::new(
            Code::UnknownMessage,
            "this chain handles no custom messages",
        ))
    }

    fn query(&self, _state: &StateView, _request: &[u8]) -> Result<Vec<u8>, TxError> {
        Err(TxError::new(
            Code::UnknownMessage,
            "this chain answers no custom queries",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gas_meter_refuses_past_limit() {
        let mut gas = GasMeter::new(100);
        gas.consume(60, "a").unwrap();
        let err = gas.consume(41, "b").unwrap_err();
        assert_eq!(err.code, Code::OutOfGas);
        assert_eq!(gas.used(), 100);
        assert_eq!(gas.remaining(), 0);
    }
}

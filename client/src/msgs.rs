//! Wire types of our own tx messages that the proto crate will take over.

use prost::Message;

pub const MSG_REGISTER_GOVERNANCE: &str = "/um.gov.v1.MsgRegisterGovernance";

/// Registers the governance suite with the chain (once). The sender must
/// have created all three contracts, and be the genesis `registrar` when
/// genesis names one.
#[derive(Clone, PartialEq, Message)]
pub struct MsgRegisterGovernance {
    #[prost(string, tag = "1")]
    pub sender: String,
    #[prost(string, tag = "2")]
    pub token: String,
    #[prost(string, tag = "3")]
    pub staking: String,
    #[prost(string, tag = "4")]
    pub dao: String,
}

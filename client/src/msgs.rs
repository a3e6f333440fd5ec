//! Wire types of our own tx messages, from `um-proto`.

pub use um_proto::type_urls::MSG_REGISTER_GOVERNANCE;
pub use um_proto::um::gov::v1::MsgRegisterGovernance;

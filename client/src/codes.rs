//! Result codes returned to CometBFT and clients: the chain's wire
//! contract, defined in `um-proto` with the other wire types.

pub use um_proto::codes::*;

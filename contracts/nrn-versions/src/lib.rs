//! `nrn-versions`: every accepted model version is a cw721 token.
//!
//! - The chain mints (through `sudo`, which no account can reach) one token
//!   per owner of an accepted version: the trainer of a version, or each
//!   merged contributor of a collaborative round. The token's on-chain
//!   metadata ([`cw721::NftExtension`]) carries what the chain recorded of
//!   the version (weights hash, validation loss and accuracy, height,
//!   dataset version). Minter and creator of the collection are the
//!   contract itself, so no account can mint, burn or rewrite a token.
//! - Holders use the standard cw721 messages (transfer, send, approvals);
//!   mint, burn and the collection/ownership updates are not part of
//!   [`msg::ExecuteMsg`]: a version's token is its record, and burning one
//!   would also drop its share of the royalties.
//! - Anyone tips NRN on a lineage with a cw20 `Send` carrying
//!   [`msg::ReceiveMsg::Tip`]: the tip goes in equal parts to the lineage's
//!   last `royalty_last_versions` versions that have tokens, a version's
//!   part in equal parts to its tokens' *current* holders, the remainder to
//!   the holder of the newest version's first token.
//!
//! The chain's side of the interface is `um_bindings::versions`, re-exported
//! in [`msg`].

pub mod contract;
pub mod error;
pub mod msg;
pub mod state;
#[cfg(test)]
mod tests;

pub use crate::error::ContractError;

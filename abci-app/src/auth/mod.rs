//! Accounts, tx decoding and signature checks (Cosmos SDK's x/auth).

pub mod account;
pub mod ante;
mod module;
pub mod params;
pub mod query;
pub mod receive;
pub mod state_key;

pub use ante::{authenticate, check_timeout, decode, DecodedTx, Mode, Signer};
pub use module::{AuthGenesis, AuthModule};
pub use params::AuthParams;

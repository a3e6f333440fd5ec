//! Entry points of `nrn-token` only the chain can call.

use cosmwasm_schema::cw_serde;
use cosmwasm_std::Uint128;

#[cw_serde]
pub enum SudoMsg {
    /// Mints rewards; still bounded by the token's cap.
    MintReward { recipient: String, amount: Uint128 },
    /// The chain moves NRN between accounts: it collects each tx's fee from
    /// the signer into the fee-collector module account, and pays collected
    /// fees out to validators. Refused when `from` holds less than
    /// `amount`; the total supply does not change.
    Transfer {
        from: String,
        to: String,
        amount: Uint128,
    },
}

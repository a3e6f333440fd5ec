//! Messages of the versions contract. The chain's entries (instantiate and
//! sudo) are `um_bindings::versions`; execute and query carry the standard
//! cw721 messages in their standard JSON shapes, so cw721 clients (CosmJS,
//! CLIs, explorers) work unchanged, plus the tip entries of this contract.

use cosmwasm_schema::{cw_serde, QueryResponses};
use cosmwasm_std::{Addr, Binary, Empty, Uint128};
// The response types of the cw721 queries are named by path in `#[returns]`:
// the `QueryResponses` impl is left out of wasm builds.
use cw721::msg::{Cw721ExecuteMsg, Cw721QueryMsg};
use cw721::{
    DefaultOptionalCollectionExtension, DefaultOptionalCollectionExtensionMsg,
    DefaultOptionalNftExtension, DefaultOptionalNftExtensionMsg, Expiration,
};

pub use cw20::Cw20ReceiveMsg;
pub use um_bindings::versions::{InstantiateMsg, SudoMsg, VersionMint};

/// The cw721 execute message of the library, with this contract's extensions.
pub type Cw721Execute =
    Cw721ExecuteMsg<DefaultOptionalNftExtensionMsg, DefaultOptionalCollectionExtensionMsg, Empty>;
/// The cw721 query message of the library, with this contract's extensions.
pub type Cw721Query =
    Cw721QueryMsg<DefaultOptionalNftExtension, DefaultOptionalCollectionExtension, Empty>;

/// Only the holders' cw721 messages, and the cw20 hook that pays tips.
/// `mint`, `burn`, `update_nft_info`, `update_collection_info`, the minter
/// and creator ownership changes, additional minters and withdrawals are
/// not here, so they are refused as unknown variants.
#[cw_serde]
pub enum ExecuteMsg {
    /// Moves a token to another account (the owner, an approved spender or
    /// an operator of the owner).
    TransferNft {
        recipient: String,
        token_id: String,
    },
    /// Moves a token to a contract and calls its `receive_nft` with `msg`.
    SendNft {
        contract: String,
        token_id: String,
        msg: Binary,
    },
    /// Lets `spender` transfer or send one token until `expires` (never by
    /// default).
    Approve {
        spender: String,
        token_id: String,
        expires: Option<Expiration>,
    },
    Revoke {
        spender: String,
        token_id: String,
    },
    /// Lets `operator` transfer or send every token of the sender.
    ApproveAll {
        operator: String,
        expires: Option<Expiration>,
    },
    RevokeAll {
        operator: String,
    },
    /// The cw20 `Send` hook: only the configured token (NRN) may call it,
    /// with a [`ReceiveMsg`] payload.
    Receive(Cw20ReceiveMsg),
}

impl ExecuteMsg {
    /// The library's message for a standard cw721 variant; `None` for ours.
    pub fn into_cw721(self) -> Option<Cw721Execute> {
        Some(match self {
            ExecuteMsg::TransferNft {
                recipient,
                token_id,
            } => Cw721Execute::TransferNft {
                recipient,
                token_id,
            },
            ExecuteMsg::SendNft {
                contract,
                token_id,
                msg,
            } => Cw721Execute::SendNft {
                contract,
                token_id,
                msg,
            },
            ExecuteMsg::Approve {
                spender,
                token_id,
                expires,
            } => Cw721Execute::Approve {
                spender,
                token_id,
                expires,
            },
            ExecuteMsg::Revoke { spender, token_id } => Cw721Execute::Revoke { spender, token_id },
            ExecuteMsg::ApproveAll { operator, expires } => {
                Cw721Execute::ApproveAll { operator, expires }
            }
            ExecuteMsg::RevokeAll { operator } => Cw721Execute::RevokeAll { operator },
            ExecuteMsg::Receive(_) => return None,
        })
    }
}

/// Payload of a cw20 `Send` to this contract.
#[cw_serde]
pub enum ReceiveMsg {
    /// Shares the sent NRN among the current holders of the lineage's
    /// latest version tokens (see [`QueryMsg::TipShares`]).
    Tip { model_id: String },
}

#[cw_serde]
#[derive(QueryResponses)]
pub enum QueryMsg {
    // ---- the standard cw721 queries ----
    /// The owner of a token and its approvals; an error if it does not exist.
    #[returns(cw721::msg::OwnerOfResponse)]
    OwnerOf {
        token_id: String,
        include_expired: Option<bool>,
    },
    #[returns(cw721::msg::ApprovalResponse)]
    Approval {
        token_id: String,
        spender: String,
        include_expired: Option<bool>,
    },
    #[returns(cw721::msg::ApprovalsResponse)]
    Approvals {
        token_id: String,
        include_expired: Option<bool>,
    },
    #[returns(cw721::msg::OperatorResponse)]
    Operator {
        owner: String,
        operator: String,
        include_expired: Option<bool>,
    },
    #[returns(cw721::msg::OperatorsResponse)]
    AllOperators {
        owner: String,
        include_expired: Option<bool>,
        start_after: Option<String>,
        limit: Option<u32>,
    },
    #[returns(cw721::msg::NumTokensResponse)]
    NumTokens {},
    /// The collection's name and symbol (older name of
    /// `GetCollectionInfoAndExtension`, which many clients still ask).
    #[returns(cw721::msg::CollectionInfoAndExtensionResponse<DefaultOptionalCollectionExtension>)]
    ContractInfo {},
    #[returns(cw721::msg::CollectionInfoAndExtensionResponse<DefaultOptionalCollectionExtension>)]
    GetCollectionInfoAndExtension {},
    /// A token's metadata: `extension` is a [`cw721::NftExtension`] whose
    /// `attributes` hold the version's record.
    #[returns(cw721::msg::NftInfoResponse<DefaultOptionalNftExtension>)]
    NftInfo { token_id: String },
    #[returns(cw721::msg::AllNftInfoResponse<DefaultOptionalNftExtension>)]
    AllNftInfo {
        token_id: String,
        include_expired: Option<bool>,
    },
    /// Token ids owned by `owner`, in lexicographic order.
    #[returns(cw721::msg::TokensResponse)]
    Tokens {
        owner: String,
        start_after: Option<String>,
        limit: Option<u32>,
    },
    #[returns(cw721::msg::TokensResponse)]
    AllTokens {
        start_after: Option<String>,
        limit: Option<u32>,
    },
    /// The minter: this contract itself.
    #[returns(cw721::Ownership<Addr>)]
    GetMinterOwnership {},
    /// The collection creator: this contract itself.
    #[returns(cw721::Ownership<Addr>)]
    GetCreatorOwnership {},
    /// Older form of `GetMinterOwnership`.
    #[returns(cw721::msg::MinterResponse)]
    Minter {},

    // ---- this contract's queries ----
    #[returns(ConfigResponse)]
    Config {},
    /// The versions of a lineage that have tokens, ascending by version.
    #[returns(VersionTokensResponse)]
    VersionTokens {
        model_id: String,
        start_after: Option<u64>,
        limit: Option<u32>,
    },
    /// What a tip of `amount` on the lineage would pay to whom right now
    /// (the split the tip itself computes).
    #[returns(TipSharesResponse)]
    TipShares { model_id: String, amount: Uint128 },
    /// Tips paid, ascending by id.
    #[returns(TipsResponse)]
    Tips {
        start_after: Option<u64>,
        limit: Option<u32>,
    },
    /// Royalties an address has received from tips, in total.
    #[returns(EarnedResponse)]
    Earned { address: String },
    /// Tips paid on a lineage, in total.
    #[returns(TippedResponse)]
    Tipped { model_id: String },
}

impl QueryMsg {
    /// The library's message for a standard cw721 query; `None` for ours.
    #[allow(deprecated)]
    pub fn into_cw721(self) -> Option<Cw721Query> {
        Some(match self {
            QueryMsg::OwnerOf {
                token_id,
                include_expired,
            } => Cw721Query::OwnerOf {
                token_id,
                include_expired,
            },
            QueryMsg::Approval {
                token_id,
                spender,
                include_expired,
            } => Cw721Query::Approval {
                token_id,
                spender,
                include_expired,
            },
            QueryMsg::Approvals {
                token_id,
                include_expired,
            } => Cw721Query::Approvals {
                token_id,
                include_expired,
            },
            QueryMsg::Operator {
                owner,
                operator,
                include_expired,
            } => Cw721Query::Operator {
                owner,
                operator,
                include_expired,
            },
            QueryMsg::AllOperators {
                owner,
                include_expired,
                start_after,
                limit,
            } => Cw721Query::AllOperators {
                owner,
                include_expired,
                start_after,
                limit,
            },
            QueryMsg::NumTokens {} => Cw721Query::NumTokens {},
            QueryMsg::ContractInfo {} => Cw721Query::ContractInfo {},
            QueryMsg::GetCollectionInfoAndExtension {} => {
                Cw721Query::GetCollectionInfoAndExtension {}
            }
            QueryMsg::NftInfo { token_id } => Cw721Query::NftInfo { token_id },
            QueryMsg::AllNftInfo {
                token_id,
                include_expired,
            } => Cw721Query::AllNftInfo {
                token_id,
                include_expired,
            },
            QueryMsg::Tokens {
                owner,
                start_after,
                limit,
            } => Cw721Query::Tokens {
                owner,
                start_after,
                limit,
            },
            QueryMsg::AllTokens { start_after, limit } => {
                Cw721Query::AllTokens { start_after, limit }
            }
            QueryMsg::GetMinterOwnership {} => Cw721Query::GetMinterOwnership {},
            QueryMsg::GetCreatorOwnership {} => Cw721Query::GetCreatorOwnership {},
            QueryMsg::Minter {} => Cw721Query::Minter {},
            QueryMsg::Config {}
            | QueryMsg::VersionTokens { .. }
            | QueryMsg::TipShares { .. }
            | QueryMsg::Tips { .. }
            | QueryMsg::Earned { .. }
            | QueryMsg::Tipped { .. } => return None,
        })
    }
}

#[cw_serde]
pub struct ConfigResponse {
    /// The cw20 token tips are paid in.
    pub token: Addr,
    /// Tips are shared over the lineage's last this many versions.
    pub royalty_last_versions: u32,
}

#[cw_serde]
pub struct VersionTokens {
    pub version: u64,
    pub token_ids: Vec<String>,
}

#[cw_serde]
pub struct VersionTokensResponse {
    pub versions: Vec<VersionTokens>,
}

/// What one holder gets (or got) of a tip.
#[cw_serde]
pub struct Share {
    pub address: Addr,
    pub amount: Uint128,
}

#[cw_serde]
pub struct TipSharesResponse {
    /// One entry per holder, ordered by address; their amounts add up to
    /// the tip.
    pub shares: Vec<Share>,
}

/// A tip as it was paid.
#[cw_serde]
pub struct TipRecord {
    /// 1, 2, ... in the order tips were paid.
    pub id: u64,
    pub model_id: String,
    /// The cw20 sender of the tip.
    pub payer: Addr,
    pub amount: Uint128,
    /// Block height of the tip.
    pub height: u64,
    pub shares: Vec<Share>,
}

#[cw_serde]
pub struct TipsResponse {
    pub tips: Vec<TipRecord>,
}

#[cw_serde]
pub struct EarnedResponse {
    pub address: Addr,
    pub amount: Uint128,
}

#[cw_serde]
pub struct TippedResponse {
    pub model_id: String,
    pub amount: Uint128,
}

/// Migrating needs no parameters: the stored cw2 info says where we come from.
#[cw_serde]
pub struct MigrateMsg {}

//! Wire types of Unstoppable Models, generated from the `.proto` files under
//! `proto/um/` with prost (messages) and tonic (gRPC clients and servers).
//!
//! - [`um::common::v1`]: `PageRequest` / `PageResponse`, wire-compatible with
//!   `cosmos.base.query.v1beta1`'s.
//! - [`um::training::v1`]: lineages, versions, updates, verdicts;
//!   `MsgSubmitUpdate`; the `Query` service (`query_client`, `query_server`).
//! - [`um::dataset::v1`]: datasets, records, deltas; `MsgProposeDatasetDelta`;
//!   the `Query` service.
//! - [`um::trainer::v1`]: the `Trainer` service of um-trainer
//!   (`trainer_client`, `trainer_server`).
//! - [`um::abci::v1`]: `VoteExtension`, `InjectedVerdicts` (the first tx of a
//!   block) and `CanonicalVoteExtension` (CometBFT's extension sign bytes).
//! - [`um::gov::v1`]: `MsgRegisterGovernance`; [`um::auth::v1`]: `ChainIdHint`.
//! - [`codes`]: the frozen result codes the chain answers with.
//! - [`address`]: bech32 `um1…` addresses; [`account`]: the Cosmos account
//!   shapes (public key `Any`, the account query path) chain and clients share.
//! - [`FILE_DESCRIPTOR_SET`]: every file above, for gRPC server reflection;
//!   [`COSMOS_FILE_DESCRIPTOR_SET`]: the same for the Cosmos and CosmWasm
//!   services umd also serves (from the vendored `third_party/` files).
//!
//! Every message implements [`prost::Name`], so `Any` packing uses type URLs
//! such as `/um.training.v1.MsgSubmitUpdate`. `prost` and `tonic` are
//! re-exported so that dependents use the very versions the code was
//! generated for.

pub use prost;
pub use tonic;

pub mod account;
pub mod address;
pub mod codes;

/// Type URLs of our messages that code matches on as constants (each is
/// also `prost::Name::type_url()` of its message).
pub mod type_urls {
    pub const MSG_REGISTER_GOVERNANCE: &str = "/um.gov.v1.MsgRegisterGovernance";
    pub const CHAIN_ID_HINT: &str = "/um.auth.v1.ChainIdHint";
    pub const SECP256K1_PUBKEY: &str = "/cosmos.crypto.secp256k1.PubKey";
}

/// Generated code, one module per protobuf package.
pub mod um {
    /// Package `um.gov.v1`.
    pub mod gov {
        /// Package `um.gov.v1`: registering the governance suite.
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/um.gov.v1.rs"));
        }
    }
    /// Package `um.auth.v1`.
    pub mod auth {
        /// Package `um.auth.v1`: the chain-id hint of a tx.
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/um.auth.v1.rs"));
        }
    }
    /// Package `um.common.v1`.
    pub mod common {
        /// Package `um.common.v1`: pagination.
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/um.common.v1.rs"));
        }
    }
    /// Package `um.training.v1`.
    pub mod training {
        /// Package `um.training.v1`: model lineages, versions, updates, verdicts.
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/um.training.v1.rs"));
        }
    }
    /// Package `um.dataset.v1`.
    pub mod dataset {
        /// Package `um.dataset.v1`: datasets, records, deltas.
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/um.dataset.v1.rs"));
        }
    }
    /// Package `um.trainer.v1`.
    pub mod trainer {
        /// Package `um.trainer.v1`: the `Trainer` gRPC service.
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/um.trainer.v1.rs"));
        }
    }
    /// Package `um.karma.v1`.
    pub mod karma {
        /// Package `um.karma.v1`: contributions per address, score, badges.
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/um.karma.v1.rs"));
        }
    }
    /// Package `um.abci.v1`.
    pub mod abci {
        /// Package `um.abci.v1`: vote extensions and the injected verdict tx.
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/um.abci.v1.rs"));
        }
    }
}

/// The encoded `google.protobuf.FileDescriptorSet` of every `.proto` file of
/// this crate, for `tonic-reflection`
/// (`Builder::register_encoded_file_descriptor_set`).
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/um_descriptor.bin"));

/// The encoded `google.protobuf.FileDescriptorSet` of the upstream files
/// defining `cosmos.tx.v1beta1.Service`, `cosmos.auth.v1beta1.Query` and
/// `cosmwasm.wasm.v1.Query` with all their imports (cosmos-sdk v0.50.9,
/// wasmd v0.52.0, vendored under `proto/third_party/`), for gRPC server
/// reflection. Only descriptors: the Rust types of these packages are
/// `cosmos-sdk-proto`'s. Shares no file with [`FILE_DESCRIPTOR_SET`].
pub const COSMOS_FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/cosmos_descriptor.bin"));

mod abci_ext {
    use crate::um::abci::v1::{CanonicalVoteExtension, ExtendedVote, InjectedVerdicts};
    use prost::Message;

    impl InjectedVerdicts {
        /// The value of field 1 (`fixed64 magic`): the little-endian bytes of
        /// ASCII `UMVRDCT1`.
        pub const MAGIC: u64 = u64::from_le_bytes(*b"UMVRDCT1");

        /// The first 9 bytes of every encoding: tag byte `0x09` (field 1,
        /// wire type 1 = fixed64), then [`Self::MAGIC`] little-endian. No
        /// `cosmos.tx.v1beta1.TxRaw` can start with it (its field 1 is
        /// length-delimited, tag byte `0x0A`).
        pub const PREFIX: [u8; 9] = {
            let m = Self::MAGIC.to_le_bytes();
            [0x09, m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7]]
        };

        /// A verdict tx for the extended commit of `height`, committed in
        /// `round`, with the magic set.
        pub fn new(height: i64, round: i32, votes: Vec<ExtendedVote>) -> Self {
            Self {
                magic: Self::MAGIC,
                height,
                round,
                votes,
            }
        }

        /// Whether a tx claims to be the verdict tx: a byte-prefix test,
        /// nothing decoded. CheckTx refuses such txs; ProcessProposal
        /// expects exactly one, first.
        pub fn has_prefix(tx: &[u8]) -> bool {
            tx.starts_with(&Self::PREFIX)
        }

        /// Decodes a verdict tx, requiring the prefix and the magic.
        pub fn decode_tx(tx: &[u8]) -> Result<Self, prost::DecodeError> {
            if !Self::has_prefix(tx) {
                return Err(prost::DecodeError::new(
                    "not an InjectedVerdicts tx: missing prefix",
                ));
            }
            let decoded = Self::decode(tx)?;
            if decoded.magic != Self::MAGIC {
                // Possible only with a second field 1 later in the bytes
                // (protobuf's last-one-wins), which overrides the prefix's.
                return Err(prost::DecodeError::new("InjectedVerdicts: wrong magic"));
            }
            Ok(decoded)
        }
    }

    impl CanonicalVoteExtension {
        /// The bytes CometBFT v0.38 signs for a vote extension: this message
        /// length-delimited (varint length, then the encoding), as
        /// `protoio.MarshalDelimited` writes it.
        pub fn sign_bytes(&self) -> Vec<u8> {
            self.encode_length_delimited_to_vec()
        }
    }
}

mod training_ext {
    use crate::um::training::v1::{Hyperparams, VerdictReason};
    use prost::Message;
    use sha2::{Digest, Sha256};

    impl Hyperparams {
        /// SHA-256 of the protobuf encoding: what `MsgSubmitUpdate` names.
        /// prost encodes fields in number order and omits defaults, so equal
        /// values always give equal bytes.
        pub fn sha256(&self) -> Vec<u8> {
            Sha256::digest(self.encode_to_vec()).to_vec()
        }
    }

    impl VerdictReason {
        /// Whether a rejection for this reason is fraud (the trainer's stake
        /// is slashed when enough power agrees), as the `.proto` documents
        /// each value. A reason number this crate does not know (it fails
        /// `VerdictReason::try_from`) must be treated as a non-fraud rejection.
        pub fn is_fraud(self) -> bool {
            matches!(
                self,
                VerdictReason::WeightsMismatch
                    | VerdictReason::NonFinite
                    | VerdictReason::ShapeMismatch
                    | VerdictReason::MalformedWeights
            )
        }

        /// Whether this reason accepts the update.
        pub fn is_accept(self) -> bool {
            self == VerdictReason::Ok
        }
    }
}

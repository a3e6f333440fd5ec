//! Builds and signs `TxRaw` bytes (SIGN_MODE_DIRECT, fee in unrn).

use cosmos_sdk_proto::cosmos::auth::v1beta1::{
    BaseAccount, QueryAccountRequest, QueryAccountResponse,
};
use cosmos_sdk_proto::cosmos::base::v1beta1::Coin;
use cosmos_sdk_proto::cosmos::tx::signing::v1beta1::SignMode;
use cosmos_sdk_proto::cosmos::tx::v1beta1::{
    mode_info, AuthInfo, Fee, ModeInfo, SignDoc, SignerInfo, TxBody, TxRaw,
};
use cosmos_sdk_proto::Any;
use prost::Message;

use crate::codes::Code;
use crate::fees::{GasPrice, FEE_DENOM};
use crate::keys::Key;
use crate::rpc::RpcClient;
use crate::ClientError;

pub use um_proto::account::{pubkey_any, ACCOUNT_QUERY_PATH, SECP256K1_PUBKEY_TYPE_URL};

/// Type URL of the optional non-critical extension in which a client states
/// the chain id it signed for. The chain id is otherwise only inside the
/// signed bytes, where a mismatch is indistinguishable from a bad signature.
pub use um_proto::type_urls::CHAIN_ID_HINT as CHAIN_ID_HINT_TYPE_URL;

pub use um_proto::um::auth::v1::ChainIdHint;

/// What goes into the SignDoc besides the messages.
#[derive(Clone, Debug)]
pub struct SignerData {
    pub chain_id: String,
    pub account_number: u64,
    pub sequence: u64,
}

#[derive(Clone, Debug)]
pub struct TxOptions {
    pub gas_limit: u64,
    pub memo: String,
    /// States the chain id in a non-critical extension so a chain with
    /// another id refuses the tx by name rather than as a bad signature.
    pub chain_id_hint: bool,
    /// The last height whose block may include the tx (0: none).
    pub timeout_height: u64,
    /// The fee is `gas_limit` at this price, rounded up, unless `fee` says.
    pub gas_price: GasPrice,
    /// A fee in unrn that replaces the one `gas_price` gives.
    pub fee: Option<u128>,
}

impl TxOptions {
    /// The unrn this tx offers.
    pub fn fee_amount(&self) -> u128 {
        self.fee
            .unwrap_or_else(|| self.gas_price.fee_for(self.gas_limit))
    }
}

impl Default for TxOptions {
    fn default() -> Self {
        Self {
            gas_limit: 2_000_000,
            memo: String::new(),
            chain_id_hint: true,
            timeout_height: 0,
            gas_price: GasPrice::default(),
            fee: None,
        }
    }
}

pub fn sign_tx(
    key: &Key,
    messages: Vec<Any>,
    signer: &SignerData,
    options: &TxOptions,
) -> Result<Vec<u8>, ClientError> {
    let mut non_critical_extension_options = Vec::new();
    if options.chain_id_hint {
        non_critical_extension_options.push(crate::msgs::any(&ChainIdHint {
            chain_id: signer.chain_id.clone(),
        }));
    }
    let body = TxBody {
        messages,
        memo: options.memo.clone(),
        timeout_height: options.timeout_height,
        extension_options: Vec::new(),
        non_critical_extension_options,
    };
    #[allow(deprecated)]
    let auth_info = AuthInfo {
        signer_infos: vec![SignerInfo {
            public_key: Some(pubkey_any(&key.public_key_bytes())),
            mode_info: Some(ModeInfo {
                sum: Some(mode_info::Sum::Single(mode_info::Single {
                    mode: SignMode::Direct as i32,
                })),
            }),
            sequence: signer.sequence,
        }],
        fee: Some(Fee {
            amount: fee_coins(options.fee_amount()),
            gas_limit: options.gas_limit,
            payer: String::new(),
            granter: String::new(),
        }),
        tip: None,
    };
    let body_bytes = body.encode_to_vec();
    let auth_info_bytes = auth_info.encode_to_vec();
    let sign_doc = SignDoc {
        body_bytes: body_bytes.clone(),
        auth_info_bytes: auth_info_bytes.clone(),
        chain_id: signer.chain_id.clone(),
        account_number: signer.account_number,
    };
    let signature = key
        .signing_key
        .sign(&sign_doc.encode_to_vec())
        .map_err(|e| ClientError::Signing(e.to_string()))?;
    Ok(TxRaw {
        body_bytes,
        auth_info_bytes,
        signatures: vec![signature.to_vec()],
    }
    .encode_to_vec())
}

/// The fee as coins: none for a zero fee, else one amount of unrn.
fn fee_coins(amount: u128) -> Vec<Coin> {
    if amount == 0 {
        return Vec::new();
    }
    vec![Coin {
        denom: FEE_DENOM.to_string(),
        amount: amount.to_string(),
    }]
}

/// The account as the chain knows it, or `None` before its first tx.
pub fn query_account(rpc: &RpcClient, address: &str) -> Result<Option<BaseAccount>, ClientError> {
    let request = QueryAccountRequest {
        address: address.to_string(),
    }
    .encode_to_vec();
    let result = rpc.abci_query(ACCOUNT_QUERY_PATH, &request)?;
    if result.code == Code::NotFound.value() {
        return Ok(None);
    }
    if result.code != 0 {
        return Err(ClientError::Query {
            path: ACCOUNT_QUERY_PATH.to_string(),
            code: result.code,
            log: result.log,
        });
    }
    let response = QueryAccountResponse::decode(result.value.as_slice())
        .map_err(|e| ClientError::Response(e.to_string()))?;
    let any = response
        .account
        .ok_or_else(|| ClientError::Response("account response without account".into()))?;
    BaseAccount::decode(any.value.as_slice())
        .map(Some)
        .map_err(|e| ClientError::Response(e.to_string()))
}

/// Account number and sequence to sign with; a new account signs with 0/0.
pub fn signer_data(
    rpc: &RpcClient,
    chain_id: &str,
    address: &str,
) -> Result<SignerData, ClientError> {
    let (account_number, sequence) = match query_account(rpc, address)? {
        Some(account) => (account.account_number, account.sequence),
        None => (0, 0),
    };
    Ok(SignerData {
        chain_id: chain_id.to_string(),
        account_number,
        sequence,
    })
}

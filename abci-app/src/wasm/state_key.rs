//! Every state key of the wasm module, in one place.
//!
//! All keys start with `wasm/`, except the code bytes (a blob). Numbers
//! are big-endian so that byte order is numeric order; contract addresses
//! are length-prefixed so that no address is a prefix of another one's
//! keys.

/// Prefix of everything this module writes.
pub const MODULE_PREFIX: &[u8] = b"wasm/";

/// Last code id handed out (u64 big-endian; absent = none yet).
pub fn code_sequence() -> &'static [u8] {
    b"wasm/seq/code"
}

/// Last instance id handed out, for classic contract addresses.
pub fn instance_sequence() -> &'static [u8] {
    b"wasm/seq/instance"
}

/// Prefix of all [`code_info`] keys; the suffix is the code id (8 bytes).
pub fn code_info_prefix() -> &'static [u8] {
    b"wasm/code/"
}

/// `cosmwasm.wasm.v1.CodeInfo` of a code id.
pub fn code_info(code_id: u64) -> Vec<u8> {
    join(code_info_prefix(), &code_id.to_be_bytes())
}

/// The Wasm bytes (unzipped) whose sha256 is `checksum`, kept in state so
/// that any node can rebuild its VM cache. Keyed by checksum, not by code id:
/// every code id with the same bytes shares one copy (its `CodeInfo` names
/// the checksum), so uploading the same code again adds no bytes. Content
/// addressed, so they live in the store's blob space beside the Merkle tree
/// ([`crate::store::blob_key`]): the tree proves the checksum in `CodeInfo`,
/// and no proof carries hundreds of kilobytes of a neighbouring code.
pub fn code_bytes(checksum: &[u8]) -> Vec<u8> {
    crate::store::blob_key(checksum)
}

/// The length in bytes of the Wasm code whose sha256 is `checksum` (u64
/// big-endian), so that an instance's load cost is known without reading
/// the code.
pub fn code_len(checksum: &[u8]) -> Vec<u8> {
    join(b"wasm/code_len_by_checksum/", checksum)
}

/// Present (empty value) when calls to `contract` are priced as pinned:
/// its module stays compiled in every node's memory (the governance
/// suite's contracts), so an instance costs its measured time rather than
/// a load from disk and a whole instance's memory.
pub fn pinned_contract(contract: &[u8]) -> Vec<u8> {
    join(b"wasm/pinned/", &len_prefixed(contract))
}

/// The module's parameters (JSON of `WasmParams`; absent = the defaults).
pub fn params() -> &'static [u8] {
    b"wasm/params"
}

/// `cosmwasm.wasm.v1.ContractInfo` of a contract.
pub fn contract_info(contract: &[u8]) -> Vec<u8> {
    join(b"wasm/contract/", &len_prefixed(contract))
}

/// Prefix of the history entries of one contract; the suffix is the entry's
/// position (u64 big-endian, from 0).
pub fn contract_history_prefix(contract: &[u8]) -> Vec<u8> {
    let mut key = join(b"wasm/history/", &len_prefixed(contract));
    key.push(b'/');
    key
}

/// One `cosmwasm.wasm.v1.ContractCodeHistoryEntry`.
pub fn contract_history(contract: &[u8], position: u64) -> Vec<u8> {
    join(&contract_history_prefix(contract), &position.to_be_bytes())
}

/// Prefix of the index from a code id to the contracts that run it.
pub fn contracts_by_code_prefix(code_id: u64) -> Vec<u8> {
    let mut key = join(b"wasm/by_code/", &code_id.to_be_bytes());
    key.push(b'/');
    key
}

/// Index entry: the contract runs `code_id` since (`height`, `tx_index`), so a
/// range over [`contracts_by_code_prefix`] lists contracts in that order. The
/// value is the contract's address bytes.
pub fn contracts_by_code(code_id: u64, height: u64, tx_index: u64, contract: &[u8]) -> Vec<u8> {
    let mut key = contracts_by_code_prefix(code_id);
    key.extend_from_slice(&height.to_be_bytes());
    key.extend_from_slice(&tx_index.to_be_bytes());
    key.extend_from_slice(&len_prefixed(contract));
    key
}

/// Prefix of a contract's own storage: the contract's keys follow it as is.
pub fn contract_store_prefix(contract: &[u8]) -> Vec<u8> {
    let mut key = join(b"wasm/store/", &len_prefixed(contract));
    key.push(b'/');
    key
}

/// The smallest key above every key that starts with `prefix`, or `None` if
/// there is none (the prefix is all 0xff).
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// Addresses are at most 255 bytes (checked where they are decoded), so one
/// length byte suffices; a longer input is cut, which can only happen for
/// addresses that never reach state.
fn len_prefixed(bytes: &[u8]) -> Vec<u8> {
    let len = u8::try_from(bytes.len()).unwrap_or(u8::MAX);
    let mut out = Vec::with_capacity(1 + usize::from(len));
    out.push(len);
    out.extend(bytes.iter().take(usize::from(len)));
    out
}

fn join(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(a.len() + b.len());
    key.extend_from_slice(a);
    key.extend_from_slice(b);
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_under_the_module_prefix_and_separate_contracts() {
        let a = [1u8; 20];
        let b = [1u8; 21];
        for key in [
            code_sequence().to_vec(),
            instance_sequence().to_vec(),
            code_info(7),
            code_len(&[7; 32]),
            pinned_contract(&a),
            params().to_vec(),
            contract_info(&a),
            contract_history(&a, 0),
            contracts_by_code(1, 2, 3, &a),
            contract_store_prefix(&a),
        ] {
            assert!(key.starts_with(MODULE_PREFIX), "{key:?}");
        }
        // Code bytes are a blob, beside the tree.
        assert_eq!(code_bytes(&[7; 32]), crate::store::blob_key(&[7; 32]));
        // One address being a prefix of another must not mix their storage.
        assert!(!contract_store_prefix(&b).starts_with(&contract_store_prefix(&a)));
        assert!(code_info(1) < code_info(2) && code_info(255) < code_info(256));
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(&[7, 0xff]), Some(vec![8]));
        assert_eq!(prefix_end(&[0xff]), None);
    }
}

//! The VM's view of the chain: address conversion ([`ChainApi`]) and one
//! contract's storage ([`ContractStorage`]).
//!
//! Gas is reported to the VM in CW gas. Storage gas is reported as
//! "externally used" (wasmd's convention); the keeper charges the instance's
//! whole report (internal + external) to the tx's meter after the call, so
//! every unit is counted exactly once.

use std::sync::Arc;

use cosmwasm_std_vm::{Order, Record};
use cosmwasm_vm::{BackendApi, BackendError, BackendResult, GasInfo, Storage};

use super::address;
use super::gas;
use super::host::Host;
use super::state_key;

/// Bech32 `um` addresses.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ChainApi;

impl BackendApi for ChainApi {
    fn addr_validate(&self, input: &str) -> BackendResult<()> {
        let (canonical, mut gas_info) = self.addr_canonicalize(input);
        let canonical = match canonical {
            Ok(canonical) => canonical,
            Err(err) => return (Err(err), gas_info),
        };
        let (human, humanize_gas) = self.addr_humanize(&canonical);
        gas_info += humanize_gas;
        let result = match human {
            Ok(human) if human == input => Ok(()),
            Ok(_) => Err(BackendError::user_err("address is not normalized")),
            Err(err) => Err(err),
        };
        (result, gas_info)
    }

    fn addr_canonicalize(&self, human: &str) -> BackendResult<Vec<u8>> {
        let gas_info = GasInfo::with_cost(gas::to_cw(gas::CANONICALIZE_COST));
        (
            address::decode(human).map_err(BackendError::user_err),
            gas_info,
        )
    }

    fn addr_humanize(&self, canonical: &[u8]) -> BackendResult<String> {
        let gas_info = GasInfo::with_cost(gas::to_cw(gas::HUMANIZE_COST));
        (
            address::encode(canonical).map_err(BackendError::user_err),
            gas_info,
        )
    }
}

/// Open iterators one contract call may hold. An iterator is a cursor (its
/// bounds and the last key it returned), never a copy of its range, so this
/// bounds the memory of a call that opens ranges in a loop: at most this many
/// cursors of keys the VM caps at 64 KiB each.
pub(crate) const MAX_OPEN_ITERATORS: usize = 256;

/// A range being walked: each `next` reads one record past `last`.
struct Cursor {
    start: Vec<u8>,
    end: Option<Vec<u8>>,
    descending: bool,
    last: Option<Vec<u8>>,
    done: bool,
}

/// One contract's storage: the tx's state under the contract's prefix.
pub(crate) struct ContractStorage {
    host: Arc<Host>,
    prefix: Vec<u8>,
    /// Open iterators; the id of `iterators[i]` is `i + 1`, so ids are
    /// deterministic per instance.
    iterators: Vec<Cursor>,
}

impl ContractStorage {
    pub fn new(host: Arc<Host>, contract: &[u8]) -> Self {
        Self {
            host,
            prefix: state_key::contract_store_prefix(contract),
            iterators: Vec::new(),
        }
    }

    fn full_key(&self, key: &[u8]) -> Vec<u8> {
        let mut full = Vec::with_capacity(self.prefix.len() + key.len());
        full.extend_from_slice(&self.prefix);
        full.extend_from_slice(key);
        full
    }

    /// Turns a state failure into an opaque backend error and remembers it,
    /// so that the keeper reports it as the node's fault (see [`Host`]).
    fn fail(&self, message: String) -> BackendError {
        self.host.record_failure(message.clone());
        BackendError::unknown(message)
    }
}

fn externally_used(sdk_gas: u64) -> GasInfo {
    GasInfo::with_externally_used(gas::to_cw(sdk_gas))
}

impl Storage for ContractStorage {
    fn get(&self, key: &[u8]) -> BackendResult<Option<Vec<u8>>> {
        let full = self.full_key(key);
        match self.host.read(|state| state.get(&full)) {
            Ok(Ok(value)) => {
                let cost = gas::read_cost(full.len(), value.as_ref().map_or(0, Vec::len));
                (Ok(value), externally_used(cost))
            }
            Ok(Err(err)) => (
                Err(self.fail(format!("contract storage read: {err}"))),
                externally_used(gas::READ_COST_FLAT),
            ),
            Err(err) => (Err(self.fail(err.log)), GasInfo::free()),
        }
    }

    /// Opens a cursor; nothing is read until `next`. The bounds' bytes are
    /// paid for, since the cursor keeps them.
    fn scan(
        &mut self,
        start: Option<&[u8]>,
        end: Option<&[u8]>,
        order: Order,
    ) -> BackendResult<u32> {
        let start = self.full_key(start.unwrap_or_default());
        let end = match end {
            Some(end) => Some(self.full_key(end)),
            None => state_key::prefix_end(&self.prefix),
        };
        let gas_info = externally_used(gas::iter_next_cost(
            start.len(),
            end.as_ref().map_or(0, Vec::len),
        ));
        if self.iterators.len() >= MAX_OPEN_ITERATORS {
            return (
                Err(BackendError::user_err(format!(
                    "a contract call may open at most {MAX_OPEN_ITERATORS} iterators"
                ))),
                gas_info,
            );
        }
        self.iterators.push(Cursor {
            start,
            end,
            descending: matches!(order, Order::Descending),
            last: None,
            done: false,
        });
        match u32::try_from(self.iterators.len()) {
            Ok(id) => (Ok(id), gas_info),
            Err(_) => (Err(BackendError::unknown("too many iterators")), gas_info),
        }
    }

    /// Reads the next record lazily; the contract pays per record and per
    /// byte, and for every pending deletion the step passed over.
    fn next(&mut self, iterator_id: u32) -> BackendResult<Option<Record>> {
        let prefix_len = self.prefix.len();
        let Some((index, cursor)) = usize::try_from(iterator_id)
            .ok()
            .and_then(|id| id.checked_sub(1))
            .and_then(|index| Some((index, self.iterators.get(index)?)))
        else {
            return (
                Err(BackendError::iterator_does_not_exist(iterator_id)),
                GasInfo::free(),
            );
        };
        if cursor.done {
            return (Ok(None), externally_used(gas::ITER_NEXT_COST_FLAT));
        }
        let step = self.host.read(|state| {
            state.next_in_range(
                Some(&cursor.start),
                cursor.end.as_deref(),
                cursor.last.as_deref(),
                cursor.descending,
            )
        });
        let (found, skipped) = match step {
            Ok(Ok(step)) => step,
            Ok(Err(err)) => {
                let err = self.fail(format!("contract storage scan: {err}"));
                return (Err(err), externally_used(gas::ITER_NEXT_COST_FLAT));
            }
            Err(err) => return (Err(self.fail(err.log)), GasInfo::free()),
        };
        let skipped_cost = gas::ITER_NEXT_COST_FLAT.saturating_mul(skipped);
        let Some(cursor) = self.iterators.get_mut(index) else {
            return (
                Err(BackendError::iterator_does_not_exist(iterator_id)),
                GasInfo::free(),
            );
        };
        let record = found.and_then(|(key, value)| {
            let suffix = key.get(prefix_len..)?.to_vec();
            key.starts_with(&self.prefix)
                .then_some((key, suffix, value))
        });
        match record {
            Some((key, suffix, value)) => {
                let cost = gas::iter_next_cost(key.len(), value.len()).saturating_add(skipped_cost);
                cursor.last = Some(key);
                (Ok(Some((suffix, value))), externally_used(cost))
            }
            None => {
                cursor.done = true;
                let cost = gas::ITER_NEXT_COST_FLAT.saturating_add(skipped_cost);
                (Ok(None), externally_used(cost))
            }
        }
    }

    fn set(&mut self, key: &[u8], value: &[u8]) -> BackendResult<()> {
        let full = self.full_key(key);
        let cost = gas::write_cost(full.len(), value.len());
        match self.host.write(|state| state.set(&full, value.to_vec())) {
            Ok(()) => (Ok(()), externally_used(cost)),
            Err(err) => (Err(self.fail(err.log)), externally_used(cost)),
        }
    }

    fn remove(&mut self, key: &[u8]) -> BackendResult<()> {
        let full = self.full_key(key);
        match self.host.write(|state| state.remove(&full)) {
            Ok(()) => (Ok(()), externally_used(gas::DELETE_COST)),
            Err(err) => (Err(self.fail(err.log)), externally_used(gas::DELETE_COST)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::BlockInfo;
    use crate::store::Store;

    #[test]
    fn api_round_trips_and_rejects_foreign_addresses() {
        let api = ChainApi;
        let human = address::encode(&[3u8; 20]).unwrap();
        let (canonical, gas_info) = api.addr_canonicalize(&human);
        assert_eq!(canonical.unwrap(), vec![3u8; 20]);
        assert_eq!(gas_info.cost, gas::to_cw(gas::CANONICALIZE_COST));
        assert_eq!(api.addr_humanize(&[3u8; 20]).0.unwrap(), human);
        let (valid, gas_info) = api.addr_validate(&human);
        assert!(valid.is_ok());
        assert_eq!(
            gas_info.cost,
            gas::to_cw(gas::CANONICALIZE_COST + gas::HUMANIZE_COST)
        );
        for bad in [
            human.to_uppercase(),
            "cosmos1qqqq".to_string(),
            String::new(),
        ] {
            assert!(matches!(
                api.addr_validate(&bad).0,
                Err(BackendError::UserErr { .. })
            ));
        }
        assert!(api.addr_humanize(&[]).0.is_err());
    }

    #[test]
    fn storage_is_confined_to_the_contract_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let module = crate::wasm::WasmVm::new(dir.path()).unwrap();
        let store = Store::temporary().unwrap();
        let mut view = store.view();
        let other = state_key::contract_store_prefix(&[2u8; 32]);
        view.set(&[other.as_slice(), b"b"].concat(), b"foreign".to_vec());
        Host::with_owned_state(
            &module.cache(),
            &super::super::host::no_bindings(),
            &mut view,
            &BlockInfo::default(),
            Some(0),
            |host| {
                let mut storage = ContractStorage::new(Arc::clone(host), &[1u8; 32]);
                let (result, gas_info) = storage.set(b"b", b"1");
                result.unwrap();
                assert!(gas_info.externally_used > 0);
                storage.set(b"a", b"2").0.unwrap();
                storage.set(b"c", b"3").0.unwrap();
                storage.remove(b"c").0.unwrap();
                assert_eq!(storage.get(b"b").0.unwrap(), Some(b"1".to_vec()));
                assert_eq!(storage.get(b"zz").0.unwrap(), None);

                let id = storage.scan(None, None, Order::Descending).0.unwrap();
                assert_eq!(id, 1);
                assert_eq!(
                    storage.next(id).0.unwrap(),
                    Some((b"b".to_vec(), b"1".to_vec()))
                );
                assert_eq!(
                    storage.next(id).0.unwrap(),
                    Some((b"a".to_vec(), b"2".to_vec()))
                );
                assert_eq!(storage.next(id).0.unwrap(), None);
                let id = storage
                    .scan(Some(b"b"), Some(b"c"), Order::Ascending)
                    .0
                    .unwrap();
                assert_eq!(id, 2);
                assert_eq!(
                    storage.next(id).0.unwrap().map(|r| r.0),
                    Some(b"b".to_vec())
                );
                assert_eq!(storage.next(id).0.unwrap(), None);
                assert!(matches!(
                    storage.next(9).0,
                    Err(BackendError::IteratorDoesNotExist { id: 9 })
                ));
            },
        );
        assert_eq!(
            view.get(
                &[
                    state_key::contract_store_prefix(&[1u8; 32]).as_slice(),
                    b"a"
                ]
                .concat()
            )
            .unwrap(),
            Some(b"2".to_vec())
        );
    }
}

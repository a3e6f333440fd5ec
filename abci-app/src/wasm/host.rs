//! What all VM backends of one message (or one query) share: the state, the
//! block, the VM cache.
//!
//! `cosmwasm-vm` wants owned, `'static` backends, while message handlers get
//! a `&mut StateView` and queries a `&StateView`. A [`Host`] bridges the two:
//! for a message the view is moved into the host and moved back when the
//! message is done (also on error or panic); for a query it is lent for the
//! duration of a closure and the loan is revoked before the closure returns.
//! Every access takes a short lock and never spans a VM call, so nested calls
//! (a contract querying another contract) cannot deadlock.

use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use cosmwasm_std_vm::TransactionInfo;
use cosmwasm_std_vm::{Addr, Binary, BlockInfo as VmBlockInfo, ContractInfo, Env, Timestamp};
use cosmwasm_vm::Cache;

use super::backend::{ChainApi, ContractStorage};
use super::querier::ChainQuerier;
use crate::codes::{Code, TxError};
use crate::context::{BlockInfo, CustomBindings};
use crate::store::StateView;

/// The VM cache with this chain's backend types.
pub(crate) type VmCache = Cache<ChainApi, ContractStorage, ChainQuerier>;

pub(crate) struct Host {
    pub cache: Arc<VmCache>,
    /// The chain's answer to `CosmosMsg::Custom` and `QueryRequest::Custom`.
    pub bindings: Arc<dyn CustomBindings>,
    pub block: BlockInfo,
    /// `None` outside a tx (ABCI queries): contracts then see no
    /// `env.transaction`, as on wasmd.
    pub tx_index: Option<u32>,
    state: StateHandle,
    /// First node-local failure (state unreadable) seen by a backend. The VM
    /// only sees an opaque error, so the keeper checks this after each call
    /// and aborts the message instead of blaming the contract.
    failure: Mutex<Option<String>>,
    /// Set for a simulation: code compiles in memory and is not written to
    /// the cache on disk (an unsigned query must not fill this node's disk).
    code_in_memory_only: AtomicBool,
}

enum StateHandle {
    Owned(Mutex<StateView>),
    Lent(LentView),
}

impl Host {
    /// Compiles code in memory only, for the rest of this host's life.
    pub fn keep_code_in_memory(&self) {
        self.code_in_memory_only.store(true, Ordering::Relaxed);
    }

    /// Whether stored code may be written to the cache on disk.
    pub fn persists_code(&self) -> bool {
        !self.code_in_memory_only.load(Ordering::Relaxed)
    }

    /// Moves `*slot` into a host for the duration of `run`, then moves it
    /// back, whatever `run` returns (or if it panics).
    pub fn with_owned_state<R>(
        cache: &Arc<VmCache>,
        bindings: &Arc<dyn CustomBindings>,
        slot: &mut StateView,
        block: &BlockInfo,
        tx_index: Option<u32>,
        run: impl FnOnce(&Arc<Host>) -> R,
    ) -> R {
        let host = Arc::new(Host {
            cache: Arc::clone(cache),
            bindings: Arc::clone(bindings),
            block: block.clone(),
            tx_index,
            state: StateHandle::Owned(Mutex::new(std::mem::take(slot))),
            failure: Mutex::new(None),
            code_in_memory_only: AtomicBool::new(false),
        });
        let _give_back = GiveBack { slot, host: &host };
        run(&host)
    }

    /// Lends `state` read-only to a host for the duration of `run`.
    pub fn with_lent_state<R>(
        cache: &Arc<VmCache>,
        bindings: &Arc<dyn CustomBindings>,
        state: &StateView,
        block: &BlockInfo,
        run: impl FnOnce(&Arc<Host>) -> R,
    ) -> R {
        let host = Arc::new(Host {
            cache: Arc::clone(cache),
            bindings: Arc::clone(bindings),
            block: block.clone(),
            tx_index: None,
            state: StateHandle::Lent(LentView::new(state)),
            failure: Mutex::new(None),
            code_in_memory_only: AtomicBool::new(false),
        });
        let _revoke = Revoke(&host);
        run(&host)
    }

    /// Reads the state.
    pub fn read<R>(&self, f: impl FnOnce(&StateView) -> R) -> Result<R, TxError> {
        match &self.state {
            StateHandle::Owned(view) => Ok(f(&lock(view))),
            StateHandle::Lent(lent) => lent
                .read(f)
                .ok_or_else(|| TxError::new(Code::Internal, "state loan already ended")),
        }
    }

    /// Writes the state; a lent (query) state is read-only.
    pub fn write<R>(&self, f: impl FnOnce(&mut StateView) -> R) -> Result<R, TxError> {
        match &self.state {
            StateHandle::Owned(view) => Ok(f(&mut lock(view))),
            StateHandle::Lent(_) => Err(TxError::new(
                Code::Internal,
                "state is read-only in queries",
            )),
        }
    }

    pub fn record_failure(&self, message: String) {
        lock(&self.failure).get_or_insert(message);
    }

    pub fn take_failure(&self) -> Option<String> {
        lock(&self.failure).take()
    }

    /// The `Env` a contract at `address` sees.
    pub fn env(&self, address: &str) -> Env {
        Env {
            block: VmBlockInfo {
                height: self.block.height,
                time: Timestamp::from_nanos(self.block.time_nanos),
                chain_id: self.block.chain_id.clone(),
            },
            // The tx hash is not known to message handlers; contracts built
            // against cosmwasm-std < 3 never see the field anyway.
            transaction: self
                .tx_index
                .map(|index| TransactionInfo::new(index, Binary::default())),
            contract: ContractInfo {
                address: Addr::unchecked(address),
            },
        }
    }
}

/// Poisoning only means another thread panicked while holding the lock; the
/// state view has no invariant that a panic could break halfway.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Puts an owned state back into its slot.
struct GiveBack<'a> {
    slot: &'a mut StateView,
    host: &'a Arc<Host>,
}

impl Drop for GiveBack<'_> {
    fn drop(&mut self) {
        if let StateHandle::Owned(view) = &self.host.state {
            *self.slot = std::mem::take(&mut *lock(view));
        }
    }
}

/// Ends a loan.
struct Revoke<'a>(&'a Arc<Host>);

impl Drop for Revoke<'_> {
    fn drop(&mut self) {
        if let StateHandle::Lent(lent) = &self.0.state {
            lent.revoke();
        }
    }
}

/// A `&StateView` whose lifetime the type system cannot see.
///
/// The pointer is `Some` only inside [`Host::with_lent_state`], while the
/// caller's shared borrow of the view is alive; [`Revoke`] clears it before
/// that borrow ends (also on unwinding). Readers hold the mutex while they
/// use the reference, so a revoke cannot happen under them. A backend that
/// outlived the loan would only find `None`.
struct LentView {
    view: Mutex<Option<NonNull<StateView>>>,
}

// SAFETY: the pointer is only dereferenced as a shared reference, under the
// mutex, while the borrow it came from is alive (see above); `StateView` is
// `Sync` (checked below), so reading it from another thread is fine as well.
unsafe impl Send for LentView {}
unsafe impl Sync for LentView {}

const _: () = {
    const fn assert_sync<T: Sync>() {}
    assert_sync::<StateView>();
};

impl LentView {
    fn new(view: &StateView) -> Self {
        Self {
            view: Mutex::new(Some(NonNull::from(view))),
        }
    }

    fn read<R>(&self, f: impl FnOnce(&StateView) -> R) -> Option<R> {
        let guard = lock(&self.view);
        // SAFETY: see the type's documentation.
        guard.map(|view| f(unsafe { view.as_ref() }))
    }

    fn revoke(&self) {
        *lock(&self.view) = None;
    }
}

/// Bindings for VM unit tests: the chain answers no custom message or query.
#[cfg(test)]
pub(crate) fn no_bindings() -> Arc<dyn CustomBindings> {
    Arc::new(crate::context::NoCustomBindings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn cache() -> (tempfile::TempDir, Arc<VmCache>) {
        let dir = tempfile::tempdir().unwrap();
        let module = crate::wasm::WasmVm::new(dir.path()).unwrap();
        let cache = module.cache();
        (dir, cache)
    }

    #[test]
    fn owned_state_comes_back_even_on_error_and_lent_state_is_read_only() {
        let (_dir, cache) = cache();
        let store = Store::temporary().unwrap();
        let mut view = store.view();
        view.set(b"k", b"v".to_vec());
        let block = BlockInfo::default();
        let result: Result<(), TxError> =
            Host::with_owned_state(&cache, &no_bindings(), &mut view, &block, Some(3), |host| {
                // Inside, the slot is empty and the host has the data.
                assert_eq!(
                    host.read(|s| s.get(b"k").unwrap()).unwrap(),
                    Some(b"v".to_vec())
                );
                host.write(|s| s.set(b"k2", b"v2".to_vec()))?;
                assert_eq!(host.env("c").transaction.map(|t| t.index), Some(3));
                Err(TxError::new(Code::ContractError, "boom"))
            });
        assert!(result.is_err());
        assert_eq!(view.get(b"k").unwrap(), Some(b"v".to_vec()));
        assert_eq!(view.get(b"k2").unwrap(), Some(b"v2".to_vec()));

        let escaped = Host::with_lent_state(&cache, &no_bindings(), &view, &block, |host| {
            assert_eq!(
                host.read(|s| s.get(b"k2").unwrap()).unwrap(),
                Some(b"v2".to_vec())
            );
            assert_eq!(
                host.write(|s| s.remove(b"k")).unwrap_err().code,
                Code::Internal
            );
            assert!(host.env("c").transaction.is_none());
            Arc::clone(host)
        });
        // A host that outlives its loan reads nothing.
        assert_eq!(escaped.read(|_| ()).unwrap_err().code, Code::Internal);
    }
}

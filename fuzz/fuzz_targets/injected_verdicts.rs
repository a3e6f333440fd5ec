//! Any bytes as the verdict tx a proposer injects: decoding, the
//! ProcessProposal check against a recorded validator set and the reading
//! of signed verdicts refuse with a reason, never panic.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use um_app::gov::validators::{record_set_from, PowerMap};
use um_app::store::{StateView, Store};
use um_app::training::extension::{check_injected, signed_verdicts};
use um_proto::um::abci::v1::InjectedVerdicts;

const CHAIN: &str = "um-fuzz";

/// An empty store; each input gets a view with a three-validator set
/// recorded from height 1 (nothing is ever committed).
static STORE: LazyLock<Store> = LazyLock::new(|| Store::temporary().expect("temporary store"));

fn state() -> StateView {
    let mut state = STORE.view();
    let set: PowerMap = (1u8..=3)
        .map(|i| (vec![i; 32], u64::from(i) * 10))
        .collect();
    record_set_from(&mut state, 1, &set);
    state
}

fuzz_target!(|data: &[u8]| {
    let Ok(injected) = InjectedVerdicts::decode_tx(data) else {
        return;
    };
    let state = state();
    let height = u64::try_from(injected.height).unwrap_or(0);
    let _ = check_injected(&state, CHAIN, &injected, height);
    let _ = check_injected(&state, CHAIN, &injected, 1);
    for (_, extension) in signed_verdicts(&injected) {
        let _ = extension.verdicts.len();
    }
    // Decoding the bytes without the prefix check must be as safe.
    let _ = <InjectedVerdicts as prost::Message>::decode(data);
});

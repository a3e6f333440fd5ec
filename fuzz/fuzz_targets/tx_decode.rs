//! Any bytes through the tx decoder CheckTx, PrepareProposal and
//! ProcessProposal run first: an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use um_app::auth::{decode, AuthParams, Mode};

fuzz_target!(|data: &[u8]| {
    let params = AuthParams::default();
    for mode in [Mode::Deliver, Mode::Simulate] {
        if let Ok(tx) = decode(data, &params, mode) {
            // What the app reads of a decoded tx must be readable too.
            for msg in tx.messages() {
                let _ = msg.type_url.len();
            }
        }
    }
});

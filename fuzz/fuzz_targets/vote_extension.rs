//! Any bytes as a validator's vote extension: VerifyVoteExtension's form
//! check refuses with a reason, never panics, and what it accepts is within
//! its bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use um_app::training::extension::{check_form, MAX_DETAIL_BYTES, MAX_VERDICTS};

fuzz_target!(|data: &[u8]| {
    if let Ok(extension) = check_form(data) {
        assert!(extension.verdicts.len() <= MAX_VERDICTS);
        assert!(extension
            .verdicts
            .iter()
            .all(|v| v.detail.len() <= MAX_DETAIL_BYTES));
    }
});

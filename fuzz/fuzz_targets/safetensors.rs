//! Any bytes as a trainer's weights: `Weights::decode` (what MsgSubmitUpdate
//! checks for evident fraud) and the canonical form must refuse with an
//! error, never panic; what decodes must re-encode and decode again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use um_formats::{ModelSpec, Weights};

/// A small MLP, so random inputs have a chance to hit the right shapes.
const SPEC: &str = r#"{"kind":"mlp","input":[1,2,2],"hidden":[3],"classes":2}"#;

fuzz_target!(|data: &[u8]| {
    let Ok(spec) = ModelSpec::parse(SPEC) else {
        return;
    };
    if let Ok(weights) = Weights::decode(&spec, data) {
        let again = Weights::decode(&spec, &weights.encode()).expect("re-encoded weights decode");
        assert_eq!(again.numel(), weights.numel());
    }
    let _ = Weights::decode_canonical(&spec, data);
    // The spec parser takes JSON from the chain (lineages the DAO creates).
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = ModelSpec::parse(text);
    }
});

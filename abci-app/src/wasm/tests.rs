//! End-to-end tests of the wasm module through the real VM.

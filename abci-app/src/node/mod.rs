//! The node process around the state machine: what runs on threads and
//! talks to other processes, never on consensus' path. Its results reach
//! the chain only as this validator's signed vote extensions.

// Runs inside umd on what other processes answer: no answer may make it
// panic.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod verifier;

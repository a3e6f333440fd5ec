//! The one price of consensus state: gas per byte that a tx leaves stored
//! (code, contract storage, update weights, dataset records).
//!
//! State is paid once and kept by every node for ever, so every module
//! charges the same rate: 30 gas per byte, the Cosmos SDK's `WriteCostPerByte`.
//! At the default minimum gas price of 0.025 unrn per gas a gigabyte costs
//! 30 × 10⁹ × 0.025 = 7.5 × 10⁸ unrn = 750 NRN (README, "Fees").

/// Gas per byte written to consensus state.
pub const GAS_PER_STORED_BYTE: u64 = 30;

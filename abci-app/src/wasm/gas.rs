//! Gas prices of the wasm module, in Cosmos SDK gas unless a name says CW.
//!
//! The values are wasmd's defaults (`x/wasm/types/gas_register.go`) and the
//! SDK's KV-store costs (`store/types/gas.go`), so that gas estimates made
//! against wasmd chains are in the right ballpark here too. Changing any of
//! them is consensus-breaking.

/// CosmWasm gas per SDK gas. Not wasmd's `DefaultGasMultiplier` (140
/// million): there one SDK gas buys ~1.2 million Wasm operations (115 CW gas
/// each), and a measured endless loop ran ~0.23 ms per SDK gas, so one
/// 3M-gas tx (or a free ABCI smart query, which holds the node) stalled the
/// chain for minutes and a block's 400M gas for a day. Here one SDK gas buys
/// ~120 operations (25-100 ns measured): a 3M-gas endless loop ends out of
/// gas in under a second (adversarial_e2e), while ordinary contract calls
/// still cost mostly their storage.
pub const GAS_MULTIPLIER: u64 = 7_000;

/// Charged every time an instance of a contract that is not pinned is
/// created, before it is created. An instance may touch its whole linear
/// memory (`limits::INSTANCE_MEMORY_MIB`) for a few operators' gas, and the
/// page faults and unmapping are the slowest thing a contract can buy
/// (BENCHMARKS.md, gas calibration): this prices that memory at the
/// schedule's rate up front. It also bounds recursion through gas.
pub const INSTANCE_COST: u64 = 600_000;

/// Charged per byte of Wasm code on top of [`INSTANCE_COST`]: a module that
/// is not pinned may have to be loaded from the node's disk cache (nothing
/// deterministic says whether it is in memory), which takes time in
/// proportion to its size.
pub const INSTANCE_LOAD_COST_PER_BYTE: u64 = 1;

/// Charged for an instance of a pinned contract (the governance suite):
/// its module is always in memory and its code is the DAO's, so the
/// instance costs the measured time of creating and dropping one.
pub const PINNED_INSTANCE_COST: u64 = 10_000;

/// Charged per byte of (unzipped) Wasm code that `MsgStoreCode` compiles
/// (wasmd's `DefaultCompileCost`): new code only, code already in state is
/// not compiled again.
pub const COMPILE_COST_PER_BYTE: u64 = 3;

/// Charged per byte of (unzipped) Wasm code on every upload, for inflating
/// and hashing it before it is known whether the bytes are new. The tx's
/// size cost does not cover it: a few KB of gzip can inflate to the 3 MiB
/// limit, and re-uploading stored code pays neither compile nor storage.
pub const HASH_COST_PER_BYTE: u64 = 1;

/// SDK KV-store costs, applied to contract storage access.
pub const READ_COST_FLAT: u64 = 1_000;
pub const READ_COST_PER_BYTE: u64 = 3;
pub const WRITE_COST_FLAT: u64 = 2_000;
/// The chain's one price of state (`storage_gas`), for contract storage as
/// for stored code.
pub const WRITE_COST_PER_BYTE: u64 = crate::storage_gas::GAS_PER_STORED_BYTE;
pub const DELETE_COST: u64 = 1_000;
pub const ITER_NEXT_COST_FLAT: u64 = 120;

/// Address conversions offered to contracts (wasmd's `api.go`).
pub const HUMANIZE_COST: u64 = 5;
pub const CANONICALIZE_COST: u64 = 4;

/// Contract events: a flat price per custom event and a price per byte of
/// attribute keys and values beyond a free tier (wasmd's defaults).
pub const CUSTOM_EVENT_COST: u64 = 20;
pub const EVENT_ATTRIBUTE_DATA_COST_PER_BYTE: u64 = 1;
pub const EVENT_ATTRIBUTE_DATA_FREE_TIER: u64 = 100;

/// SDK gas offered to a smart query that arrives over ABCI (no tx meter).
pub const QUERY_GAS_LIMIT: u64 = 3_000_000;

/// SDK gas offered to each genesis message; genesis is trusted input, the
/// limit only keeps a broken contract from looping forever.
pub const GENESIS_GAS_LIMIT: u64 = 100_000_000_000;

/// SDK gas charged before an instance is created.
pub fn instance_cost(pinned: bool, code_len: u64) -> u64 {
    if pinned {
        PINNED_INSTANCE_COST
    } else {
        INSTANCE_COST.saturating_add(INSTANCE_LOAD_COST_PER_BYTE.saturating_mul(code_len))
    }
}

/// SDK gas to CW gas, saturating (the VM treats the value as a limit).
pub fn to_cw(sdk_gas: u64) -> u64 {
    sdk_gas.saturating_mul(GAS_MULTIPLIER)
}

/// CW gas to SDK gas, rounding up so that any work costs at least one unit.
pub fn to_sdk(cw_gas: u64) -> u64 {
    cw_gas.div_ceil(GAS_MULTIPLIER)
}

/// SDK gas of a storage read of `key` that found `value_len` bytes.
pub fn read_cost(key_len: usize, value_len: usize) -> u64 {
    READ_COST_FLAT.saturating_add(per_byte(READ_COST_PER_BYTE, key_len + value_len))
}

/// SDK gas of a storage write.
pub fn write_cost(key_len: usize, value_len: usize) -> u64 {
    WRITE_COST_FLAT.saturating_add(per_byte(WRITE_COST_PER_BYTE, key_len + value_len))
}

/// SDK gas of one iterator step that returned a record of this size.
pub fn iter_next_cost(key_len: usize, value_len: usize) -> u64 {
    ITER_NEXT_COST_FLAT.saturating_add(per_byte(READ_COST_PER_BYTE, key_len + value_len))
}

/// SDK gas of the events a contract emitted (wasmd's `EventCosts`).
pub fn event_cost(custom_events: usize, attribute_bytes: usize) -> u64 {
    let data = (attribute_bytes as u64).saturating_sub(EVENT_ATTRIBUTE_DATA_FREE_TIER);
    CUSTOM_EVENT_COST
        .saturating_mul(custom_events as u64)
        .saturating_add(data.saturating_mul(EVENT_ATTRIBUTE_DATA_COST_PER_BYTE))
}

fn per_byte(price: u64, bytes: usize) -> u64 {
    price.saturating_mul(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_round_up_and_saturate() {
        assert_eq!(to_sdk(0), 0);
        assert_eq!(to_sdk(1), 1);
        assert_eq!(to_sdk(GAS_MULTIPLIER), 1);
        assert_eq!(to_sdk(GAS_MULTIPLIER + 1), 2);
        assert_eq!(to_cw(3), 3 * GAS_MULTIPLIER);
        assert_eq!(to_cw(u64::MAX), u64::MAX);
        assert_eq!(read_cost(10, 5), 1_000 + 45);
        assert_eq!(write_cost(10, 5), 2_000 + 450);
        assert_eq!(event_cost(2, 150), 40 + 50);
        assert_eq!(event_cost(0, 20), 0);
    }
}

//! Every storage path of the fee module.

/// JSON [`super::FeeParams`].
pub const PARAMS: &[u8] = b"fee/params";

/// unrn the fee collector holds for the validators and has not paid out
/// yet (16 bytes, big-endian): fees of the blocks so far, the validators'
/// share of training rewards and forfeited verification fees, less what
/// begin-blocks have paid.
pub const UNDISTRIBUTED: &[u8] = b"fee/undistributed";

//! Process-wide libtorch settings that make CPU training reproducible bit
//! for bit, whatever the number of intra-op threads.
//!
//! Two things depend on the thread count in a stock libtorch 2.13 (measured
//! on the MLP and CNN of the tests, 1 vs 2 threads):
//!
//! - MKL's `sgemm` (matmuls in linear layers and their gradients): fixed by
//!   MKL's strict conditional numerical reproducibility, the environment
//!   variable `MKL_CBWR=AUTO,STRICT`. MKL reads it at its first call, so it
//!   must be in the environment before the first matmul: `.cargo/config.toml`
//!   sets it for `cargo test` / `cargo run`; a binary calls
//!   [`prepare_process_env`] first thing in `main`.
//! - oneDNN (mkldnn) convolution gradients: [`init`] turns mkldnn off (like
//!   `torch.backends.mkldnn.enabled = False`) so convolutions use PyTorch's
//!   native im2col + BLAS kernels. Every [`crate::model::Model`] calls it.
//!
//! Results still differ between CPU families (different MKL code paths) and
//! between CPU and CUDA; verification compares within a tolerance for that.

use std::sync::Once;

extern "C" {
    fn um_trainer_disable_mkldnn();
    fn um_trainer_mkldnn_enabled() -> std::os::raw::c_int;
    fn um_trainer_torch_version() -> *const std::os::raw::c_char;
}

/// The `MKL_CBWR` value that makes MKL results independent of the thread count.
pub const MKL_CBWR: &str = "AUTO,STRICT";

/// Turns mkldnn off once per process (idempotent, cheap).
pub fn init() {
    static INIT: Once = Once::new();
    // SAFETY: a plain call into our C++ shim (src/runtime.cpp) that flips a
    // flag of libtorch's global context; it takes no pointers and cannot throw.
    INIT.call_once(|| unsafe { um_trainer_disable_mkldnn() });
}

/// Whether libtorch may use mkldnn (false after [`init`]).
pub fn mkldnn_enabled() -> bool {
    // SAFETY: reads a flag of libtorch's global context.
    unsafe { um_trainer_mkldnn_enabled() != 0 }
}

/// The libtorch version, e.g. `"2.13.0"`.
pub fn torch_version() -> &'static str {
    // SAFETY: returns a pointer to a NUL-terminated string literal of the
    // shim (static storage, never freed or written).
    let version = unsafe { std::ffi::CStr::from_ptr(um_trainer_torch_version()) };
    version.to_str().unwrap_or("unknown")
}

/// Whether `MKL_CBWR` asks for strict reproducibility in this process.
pub fn mkl_strict() -> bool {
    std::env::var("MKL_CBWR").is_ok_and(|v| v.to_ascii_uppercase().contains("STRICT"))
}

/// Sets `MKL_CBWR` to [`MKL_CBWR`] and `OMP_WAIT_POLICY` to `PASSIVE`,
/// each unless already set. Call it at the very start of `main`, before other
/// threads exist and before any libtorch call (changing the environment races
/// with threads reading it, and OpenMP reads it once when it starts).
///
/// `PASSIVE`: the trainer shares its host with umd and CometBFT; OpenMP
/// threads that spin while waiting slowed training ~10x on two busy cores.
pub fn prepare_process_env() {
    if std::env::var_os("MKL_CBWR").is_none() {
        std::env::set_var("MKL_CBWR", MKL_CBWR);
    }
    if std::env::var_os("OMP_WAIT_POLICY").is_none() {
        std::env::set_var("OMP_WAIT_POLICY", "PASSIVE");
    }
}

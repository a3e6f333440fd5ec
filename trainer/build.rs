//! 1. torch-sys links libtorch dynamically but puts no rpath into the final
//!    binaries. It exports the folder of the libtorch shared libraries through
//!    its `links = "tch"` key as `DEP_TCH_LIBTORCH_LIB`; we pass it to the
//!    linker as an rpath so tests and binaries run without `LD_LIBRARY_PATH`.
//! 2. `src/runtime.cpp`: two libtorch switches tch does not expose, compiled
//!    against the same libtorch headers (`<lib>/../include`).

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    println!("cargo:rerun-if-env-changed=LIBTORCH_CXX11_ABI");
    println!("cargo:rerun-if-changed=src/runtime.cpp");
    let lib = PathBuf::from(
        std::env::var("DEP_TCH_LIBTORCH_LIB")
            .expect("torch-sys exports DEP_TCH_LIBTORCH_LIB (links = \"tch\")"),
    );
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());

    let include = lib.join("../include");
    // torch-sys builds its own C++ with the same ABI switch and the same default.
    let cxx11_abi = std::env::var("LIBTORCH_CXX11_ABI").unwrap_or_else(|_| "1".to_owned());
    cc::Build::new()
        .cpp(true)
        .pic(true)
        .warnings(false)
        .include(&include)
        .include(include.join("torch/csrc/api/include"))
        .flag("-std=c++17")
        .flag(format!("-D_GLIBCXX_USE_CXX11_ABI={cxx11_abi}"))
        .flag("-DGLOG_USE_GLOG_EXPORT")
        .file("src/runtime.cpp")
        .compile("um_trainer_runtime");
}

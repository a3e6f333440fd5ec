//! `um-trainer` as a shell runs it.

use std::process::{Command, Output};

fn um_trainer(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_um-trainer"))
        .args(args)
        // Nothing here may reach a keyring or a chain: the refusals come first.
        .env("UMD_KEYRING_BACKEND", "test")
        .env_remove("UMD_KEYRING_PASSPHRASE")
        .output()
        .expect("um-trainer runs")
}

const TRAIN: [&str; 9] = [
    "train",
    "--node",
    "http://127.0.0.1:9",
    "--home",
    "/nonexistent/um-trainer-cli-test",
    "--key",
    "alice",
    "--model",
    "m",
];

/// A server on every address has no address to tell the validators.
#[test]
fn train_refuses_a_checkpoint_server_on_every_address_without_a_url() {
    let out = um_trainer(&[&TRAIN[..], &["--checkpoint-listen", "0.0.0.0:0"]].concat());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("um-trainer: --checkpoint-listen 0.0.0.0:0 listens on every address"),
        "{stderr}"
    );
    assert!(
        stderr.contains("give --checkpoint-url http://HOST:PORT"),
        "{stderr}"
    );
    // Refused before the key was looked for.
    assert!(!stderr.contains("alice"), "{stderr}");
}

#[test]
fn train_refuses_a_checkpoint_url_that_is_not_host_and_port() {
    for bad in [
        &[
            "--checkpoint-listen",
            "127.0.0.1:0",
            "--checkpoint-url",
            "http://a:1/path",
        ][..],
        &["--checkpoint-url", "http://a:1"],
    ] {
        let out = um_trainer(&[&TRAIN[..], bad].concat());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {stderr}");
        assert!(stderr.contains("--checkpoint-"), "{bad:?}: {stderr}");
    }
}

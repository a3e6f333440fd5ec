//! Issue 17: what one unit of gas costs in time, on this machine and build.
//!
//! Each *worst case* is a contract (hand-written WAT) whose `execute` spends
//! its whole contract-gas allowance (`max_tx_contract_gas`) on one resource:
//! an endless loop, storage writes of new keys, reads of one key, range
//! iteration, secp256k1 and ed25519 verifications through the crypto API,
//! and linear memory grown page by page to the instance limit (that one
//! ends before the gas does). The *common* cases are a cw20 transfer of the
//! real nrn-token and a no-op execute (instance creation plus the tx around
//! it). Every case is one signed tx in a FinalizeBlock of the real `App`;
//! its time is the block's minus an empty block's, its gas the tx result's.
//!
//! Instance creation alone is timed on cosmwasm-vm's cache with the
//! nrn-token module: from the file-system cache (a module not in memory),
//! from the memory cache, and pinned.
//!
//! `cargo bench -p um-app --bench gas_calibration` (release); `make bench`
//! runs it and writes its table into BENCHMARKS.md. With
//! `GAS_CALIBRATION_JSONL=FILE` the rows are also appended to FILE.

#[path = "chain_fixture.rs"]
mod chain_fixture;

use std::io::Write;
use std::time::{Duration, Instant};

use chain_fixture::Chain;
use cosmos_sdk_proto::cosmwasm::wasm::v1::MsgExecuteContract;
use cosmwasm_vm::testing::{mock_backend, MockApi, MockQuerier, MockStorage};
use cosmwasm_vm::{capabilities_from_csv, Cache, CacheOptions, InstanceOptions, Size};
use serde_json::json;
use um_app::auth::AuthParams;
use um_client::msgs::any;

/// Repetitions of each block; the median is reported.
const REPS: usize = 7;

/// The response every calibration contract returns.
const EMPTY_OK: &str = r#"{"ok":{"messages":[],"attributes":[],"events":[],"data":null}}"#;

/// Records the read and iteration contracts write at instantiation (what fits in one tx's contract gas).
const ITERATED_RECORDS: u32 = 500;

struct Case {
    name: &'static str,
    what: &'static str,
    body: String,
}

/// A contract whose `instantiate` runs `setup` and whose `execute` runs
/// `body`, then returns [`EMPTY_OK`]. Memory layout: 0..256 scratch
/// regions, 256..512 the key buffer, 1024.. constant data, heap from 64 KiB.
fn contract(data: &str, setup: &str, body: &str) -> Vec<u8> {
    let wat = format!(
        r#"(module
  (import "env" "db_read" (func $db_read (param i32) (result i32)))
  (import "env" "db_write" (func $db_write (param i32 i32)))
  (import "env" "db_scan" (func $db_scan (param i32 i32 i32) (result i32)))
  (import "env" "db_next" (func $db_next (param i32) (result i32)))
  (import "env" "secp256k1_verify" (func $secp256k1_verify (param i32 i32 i32) (result i32)))
  (import "env" "ed25519_verify" (func $ed25519_verify (param i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (global $heap (mut i32) (i32.const 65536))
  (data (i32.const 768) "{ok}")
  {data}
  (func (export "interface_version_8"))
  (func $allocate (export "allocate") (param $size i32) (result i32)
    (local $region i32)
    (local.set $region (global.get $heap))
    (global.set $heap
      (i32.and (i32.add (i32.add (i32.add (local.get $region) (i32.const 12)) (local.get $size))
                        (i32.const 7)) (i32.const -8)))
    (block $enough
      (loop $grow
        (br_if $enough (i32.le_u (global.get $heap) (i32.shl (memory.size) (i32.const 16))))
        (if (i32.eq (memory.grow (i32.const 1)) (i32.const -1)) (then unreachable))
        (br $grow)))
    (i32.store (local.get $region) (i32.add (local.get $region) (i32.const 12)))
    (i32.store offset=4 (local.get $region) (local.get $size))
    (i32.store offset=8 (local.get $region) (i32.const 0))
    (local.get $region))
  (func (export "deallocate") (param i32))
  ;; A region at `at` over `len` bytes at `ptr`.
  (func $region (param $at i32) (param $ptr i32) (param $len i32) (result i32)
    (i32.store (local.get $at) (local.get $ptr))
    (i32.store offset=4 (local.get $at) (local.get $len))
    (i32.store offset=8 (local.get $at) (local.get $len))
    (local.get $at))
  (func $ok (result i32) (call $region (i32.const 0) (i32.const 768) (i32.const {ok_len})))
  (func (export "instantiate") (param i32 i32 i32) (result i32)
    (local $i i32) (local $it i32) (local $r i32)
    {setup}
    (call $ok))
  (func (export "execute") (param i32 i32 i32) (result i32)
    (local $i i32) (local $it i32) (local $r i32)
    {body}
    (call $ok)))"#,
        ok = EMPTY_OK.replace('"', "\\\""),
        ok_len = EMPTY_OK.len(),
    );
    wat::parse_str(wat).expect("calibration contract assembles")
}

/// WAT data string of `bytes` at `offset`.
fn data(offset: u32, bytes: &[u8]) -> String {
    let escaped: String = bytes.iter().map(|b| format!("\\{b:02x}")).collect();
    format!(r#"(data (i32.const {offset}) "{escaped}")"#)
}

/// Key "k" + 4 bytes of `$i` at 256, its region at 16; value of 64 bytes
/// at 512 (zeros), its region at 32.
const KEY_OF_I: &str = "(i32.store8 (i32.const 256) (i32.const 107)) \
     (i32.store (i32.const 257) (local.get $i)) \
     (drop (call $region (i32.const 16) (i32.const 256) (i32.const 5))) \
     (drop (call $region (i32.const 32) (i32.const 512) (i32.const 64)))";

fn cases() -> Vec<(Case, Vec<u8>)> {
    use k256::ecdsa::signature::Signer;
    let secp_key = k256::ecdsa::SigningKey::from_slice(&[7u8; 32]).expect("key");
    let message = [1u8; 32];
    let secp_sig: k256::ecdsa::Signature = secp_key.sign(&message);
    let secp_sig = secp_sig.normalize_s().unwrap_or(secp_sig);
    let digest: [u8; 32] = {
        use sha2::Digest;
        sha2::Sha256::digest(message).into()
    };
    let secp_pub = secp_key.verifying_key().to_sec1_bytes();
    let ed_key = ed25519_consensus::SigningKey::from([9u8; 32]);
    let ed_sig = ed_key.sign(&message);
    let ed_pub = ed_key.verification_key().to_bytes();
    let crypto_data = [
        data(1024, &digest),
        data(1056, &secp_sig.to_bytes()),
        data(1120, &secp_pub),
        data(1160, &message),
        data(1200, &ed_sig.to_bytes()),
        data(1264, &ed_pub),
    ]
    .join("\n  ");
    let write_records = format!(
        "(block $done (loop $l {KEY_OF_I} \
           (call $db_write (i32.const 16) (i32.const 32)) \
           (local.set $i (i32.add (local.get $i) (i32.const 1))) \
           (br_if $done (i32.ge_u (local.get $i) (i32.const {ITERATED_RECORDS}))) (br $l)))"
    );
    let scan = "(local.set $it (call $db_scan (i32.const 0) (i32.const 0) (i32.const 1)))";
    let list = vec![
        Case {
            name: "loop",
            what: "endless `loop`/`br`",
            body: "(loop $l (br $l))".into(),
        },
        Case {
            name: "storage_write",
            what: "`db_write` of new 5-byte keys, 64-byte values",
            body: format!(
                "(loop $l {KEY_OF_I} (call $db_write (i32.const 16) (i32.const 32)) \
                 (local.set $i (i32.add (local.get $i) (i32.const 1))) (br $l))"
            ),
        },
        Case {
            name: "storage_read",
            what: "`db_read` of one stored 64-byte value",
            body: format!("{KEY_OF_I} (loop $l (drop (call $db_read (i32.const 16))) (br $l))"),
        },
        Case {
            name: "range_iteration",
            what: "`db_scan` + `db_next` over 500 records, again and again",
            body: format!(
                "{scan} (loop $l (local.set $r (call $db_next (local.get $it))) \
                 (if (i32.eqz (i32.load offset=8 (local.get $r))) (then {scan})) (br $l))"
            ),
        },
        Case {
            name: "secp256k1_verify",
            what: "`secp256k1_verify` of a valid signature",
            body: "(drop (call $region (i32.const 48) (i32.const 1024) (i32.const 32))) \
                   (drop (call $region (i32.const 64) (i32.const 1056) (i32.const 64))) \
                   (drop (call $region (i32.const 80) (i32.const 1120) (i32.const 33))) \
                   (loop $l (drop (call $secp256k1_verify (i32.const 48) (i32.const 64) (i32.const 80))) (br $l))"
                .into(),
        },
        Case {
            name: "ed25519_verify",
            what: "`ed25519_verify` of a valid signature",
            body: "(drop (call $region (i32.const 48) (i32.const 1160) (i32.const 32))) \
                   (drop (call $region (i32.const 64) (i32.const 1200) (i32.const 64))) \
                   (drop (call $region (i32.const 80) (i32.const 1264) (i32.const 32))) \
                   (loop $l (drop (call $ed25519_verify (i32.const 48) (i32.const 64) (i32.const 80))) (br $l))"
                .into(),
        },
        Case {
            name: "memory_growth",
            what: "`memory.grow` by one page to the instance limit (8 MiB), every 4 KiB touched",
            body: "(block $full (loop $l \
                     (br_if $full (i32.eq (memory.grow (i32.const 1)) (i32.const -1))) \
                     (local.set $i (i32.const 0)) \
                     (loop $touch \
                       (i32.store8 (i32.add (i32.shl (i32.sub (memory.size) (i32.const 1)) (i32.const 16)) (local.get $i)) (i32.const 1)) \
                       (local.set $i (i32.add (local.get $i) (i32.const 4096))) \
                       (br_if $touch (i32.lt_u (local.get $i) (i32.const 65536)))) \
                     (br $l)))"
                .into(),
        },
        Case {
            name: "noop",
            what: "an `execute` that returns at once: instance creation and the tx around it",
            body: String::new(),
        },
    ];
    list.into_iter()
        .map(|case| {
            let setup = if case.name == "storage_read" || case.name == "range_iteration" {
                write_records.clone()
            } else {
                String::new()
            };
            let wasm = contract(&crypto_data, &setup, &case.body);
            (case, wasm)
        })
        .collect()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Median time of FinalizeBlock of `txs` (at the next height) over [`REPS`].
fn block_time(chain: &Chain, txs: &[Vec<u8>]) -> (Duration, Vec<i64>) {
    let height = chain.height + 1;
    let mut gas = Vec::new();
    let times = (0..REPS)
        .map(|_| {
            let started = Instant::now();
            let response = chain.finalize(height, txs);
            let elapsed = started.elapsed();
            gas = response.tx_results.iter().map(|r| r.gas_used).collect();
            elapsed
        })
        .collect();
    (median(times), gas)
}

struct Row {
    class: &'static str,
    name: String,
    what: String,
    gas: u64,
    nanos: f64,
}

impl Row {
    fn ns_per_gas(&self) -> f64 {
        self.nanos / self.gas.max(1) as f64
    }
}

fn tx_cases(rows: &mut Vec<Row>) {
    let mut chain = Chain::new();
    let contract_gas = AuthParams::default().max_tx_contract_gas;
    let (empty, _) = block_time(&chain, &[]);
    for (case, wasm) in cases() {
        let code_id = chain.store_code(wasm);
        let address = chain.instantiate(code_id, &json!({}), 100_000_000);
        let msg = any(&MsgExecuteContract {
            sender: chain.key.address.clone(),
            contract: address,
            msg: b"{}".to_vec(),
            funds: Vec::new(),
        });
        let tx = chain.sign(msg, contract_gas + 500_000, 0);
        let (time, gas) = block_time(&chain, &[tx]);
        rows.push(Row {
            class: if case.name == "noop" {
                "common"
            } else {
                "worst"
            },
            name: case.name.to_string(),
            what: case.what.to_string(),
            gas: gas[0].max(0) as u64,
            nanos: time.saturating_sub(empty).as_nanos() as f64,
        });
    }
    let transfers = chain.transfers(100);
    let (time, gas) = block_time(&chain, &transfers);
    let per_tx_gas = gas.iter().map(|g| g.max(&0)).sum::<i64>() as u64 / 100;
    rows.push(Row {
        class: "common",
        name: "cw20_transfer".into(),
        what: "nrn-token `transfer`, signed tx in FinalizeBlock (mean of 100 in one block)".into(),
        gas: per_tx_gas,
        nanos: time.saturating_sub(empty).as_nanos() as f64 / 100.0,
    });
}

/// Instance creation and drop on cosmwasm-vm's cache, nrn-token module.
fn instance_cases(rows: &mut Vec<Row>) {
    let wasm = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../artifacts/nrn_token.wasm"),
    )
    .expect("artifacts/nrn_token.wasm (make contracts)");
    let dir = tempfile::tempdir().expect("temp dir");
    let options = || {
        CacheOptions::new(
        dir.path(),
        capabilities_from_csv("iterator,staking,cosmwasm_1_1,cosmwasm_1_2,cosmwasm_1_3,cosmwasm_1_4,cosmwasm_2_0,cosmwasm_2_1,cosmwasm_2_2"),
        Size::mebi(100),
        Size::mebi(um_app::wasm::INSTANCE_MEMORY_MIB),
    )
    };
    let new_cache = || -> Cache<MockApi, MockStorage, MockQuerier> {
        // SAFETY (cosmwasm-vm's contract for `Cache::new`): one cache per
        // directory at a time; each is dropped before the next is made.
        unsafe { Cache::new(options()).expect("cache") }
    };
    let checksum = new_cache().store_code(&wasm, true, true).expect("compiles");
    let instance_options = InstanceOptions {
        gas_limit: u64::MAX,
    };
    let time_instances = |cache: &Cache<MockApi, MockStorage, MockQuerier>, n: usize| {
        let started = Instant::now();
        for _ in 0..n {
            let instance = cache
                .get_instance(&checksum, mock_backend(&[]), instance_options)
                .expect("instance");
            drop(instance);
        }
        started.elapsed().as_nanos() as f64 / n as f64
    };
    let from_disk: Vec<f64> = (0..REPS)
        .map(|_| {
            let cache = new_cache();
            time_instances(&cache, 1)
        })
        .collect();
    let cache = new_cache();
    time_instances(&cache, 1);
    let from_memory = time_instances(&cache, 500);
    cache.pin(&checksum).expect("pin");
    let pinned = time_instances(&cache, 500);
    let mut sorted = from_disk;
    sorted.sort_by(f64::total_cmp);
    let unpinned = um_app::wasm::gas::instance_cost(false, wasm.len() as u64);
    let pinned_cost = um_app::wasm::gas::instance_cost(true, wasm.len() as u64);
    for (name, what, nanos, cost) in [
        (
            "instance_from_file_cache",
            "nrn-token instance, module loaded from the file-system cache",
            sorted[sorted.len() / 2],
            unpinned,
        ),
        (
            "instance_from_memory_cache",
            "nrn-token instance, module in the memory cache",
            from_memory,
            unpinned,
        ),
        (
            "instance_pinned",
            "nrn-token instance, module pinned",
            pinned,
            pinned_cost,
        ),
    ] {
        rows.push(Row {
            class: "instance",
            name: name.into(),
            what: what.into(),
            gas: cost,
            nanos,
        });
    }
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is understood.
    let mut rows = Vec::new();
    tx_cases(&mut rows);
    instance_cases(&mut rows);
    let out = std::env::var_os("GAS_CALIBRATION_JSONL");
    let mut jsonl = out.map(|path| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .expect("GAS_CALIBRATION_JSONL opens")
    });
    println!("| class | case | gas | µs | ns per gas |");
    println!("|---|---|---:|---:|---:|");
    for row in &rows {
        println!(
            "| {} | {} | {} | {:.1} | {:.2} |",
            row.class,
            row.name,
            row.gas,
            row.nanos / 1000.0,
            row.ns_per_gas()
        );
        if let Some(file) = jsonl.as_mut() {
            let line = json!({
                "bench": "gas_calibration", "class": row.class, "case": row.name,
                "what": row.what, "gas": row.gas, "ns": row.nanos,
                "ns_per_gas": row.ns_per_gas(),
            });
            writeln!(file, "{line}").expect("GAS_CALIBRATION_JSONL writes");
        }
    }
}

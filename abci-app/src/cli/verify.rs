//! `umd query … --verify`: an answer checked on the user's side instead of
//! trusted. The node's REST gateway answers with `?prove=true`; the header
//! after the answer's height is verified with the light client from a
//! header the user trusts ([`um_client::light`]); every proof op is checked
//! against that header's app hash ([`um_client::proof`]); and the query is
//! re-run here over the proven keys alone, with the chain's own query code,
//! so the node's answer is accepted only if it is what those keys say.

use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde_json::Value;
use um_client::light::{LightClient, LightOptions, TrustRoot};
use um_client::proof::{show_key, verify_ops};
use um_client::rpc::RpcClient;
use um_proto::um::common::v1::ProofOp;

use crate::app::modules::Modules;
use crate::app::query_proof::answer_from;
use crate::codes::TxError;
use crate::store::StateView;
use crate::wasm::WasmVm;

/// How to check an answer instead of trusting the node.
#[derive(clap::Args, Clone, Debug)]
pub struct VerifyArgs {
    /// Verify the answer with a light client from a trusted header
    /// (--trust-height, --trust-hash) instead of trusting the node.
    #[arg(long)]
    pub verify: bool,
    /// umd's REST gateway, which returns answers with their proofs.
    #[arg(long, env = "UMD_REST", default_value = "http://127.0.0.1:1317")]
    pub rest: String,
    /// Height of a header you trust.
    #[arg(long)]
    pub trust_height: Option<u64>,
    /// Hash (hex) of the header you trust at --trust-height, from a source
    /// you trust (`curl <rpc>/commit?height=H` on your own node, a block
    /// explorer, a friend).
    #[arg(long)]
    pub trust_hash: Option<String>,
    /// How long a trusted header may be used, in hours (keep it below the
    /// unbonding period).
    #[arg(long, default_value_t = 336)]
    pub trusting_period_hours: u64,
}

/// An answer that passed every check.
pub struct Verified {
    /// The node's JSON answer (without its `proof`), now shown to be the
    /// chain's; `None` when the chain proved the thing does not exist.
    pub answer: Option<Value>,
    /// The same answer as the chain's query code gave it (protobuf), from
    /// the proven keys.
    pub proven_bytes: Option<Vec<u8>>,
    /// The error the chain gave, for a proven absence.
    pub absent: Option<String>,
    /// The state height the answer is for.
    pub height: u64,
    /// The app hash of header `height + 1` the proofs verified against.
    pub app_hash: String,
}

impl Verified {
    /// The line that says what was checked, for stderr.
    pub fn summary(&self, root: &VerifyArgs) -> String {
        format!(
            "verified: the state after block {} (app hash {} in header {}), light-client verified from trusted header {}",
            self.height,
            self.app_hash,
            self.height + 1,
            root.trust_height.unwrap_or_default()
        )
    }
}

/// One query to verify: where REST serves it and how the chain answers it.
pub struct ProvenQuery<'a> {
    /// The REST path (with its own query string, if any).
    pub rest_path: String,
    /// The ABCI path and protobuf request the REST route runs.
    pub abci_path: &'a str,
    pub request: Vec<u8>,
    /// How REST renders the answer's bytes as JSON.
    pub render: &'a dyn Fn(&[u8]) -> Result<Value, String>,
}

/// Asks the node for `query` with its proof and checks it (see the module).
pub fn verified(args: &VerifyArgs, rpc_url: &str, query: &ProvenQuery) -> anyhow::Result<Verified> {
    let (Some(trust_height), Some(trust_hash)) = (args.trust_height, &args.trust_hash) else {
        bail!("--verify needs --trust-height and --trust-hash: a header you trust, e.g. from `curl <rpc>/commit?height=H` on a node you run");
    };
    let root = TrustRoot::new(trust_height, trust_hash)?;
    let (status, body) = get_proven(&args.rest, &query.rest_path)?;
    let proof = &body["proof"];
    if proof.is_null() {
        bail!("the node answered {status} without a proof: {body}");
    }
    let height: u64 = proof["height"]
        .as_str()
        .and_then(|h| h.parse().ok())
        .ok_or_else(|| anyhow!("the proof has no height: {proof}"))?;
    let ops = proof_ops(proof)?;

    // The app hash of the state after `height` is in the next header, which
    // exists once the next block is committed.
    let rpc = RpcClient::new(rpc_url);
    rpc.wait_for_height(height + 1, Duration::from_secs(30))?;
    let options = LightOptions {
        trusting_period: Duration::from_secs(args.trusting_period_hours * 3600),
        ..LightOptions::default()
    };
    let header = LightClient::new(&rpc, options)
        .verified_header(&root, height + 1)
        .context("verifying the header of the answer's height")?;
    let app_hash = header.app_hash.as_bytes().to_vec();
    let proven = verify_ops(&app_hash, &ops)
        .with_context(|| format!("checking the proofs against header {}", height + 1))?;

    // The answer the proven keys give, by the chain's own query code.
    let mut state = StateView::default();
    for (key, value) in &proven {
        if let Some(value) = value {
            state.set(key, value.clone());
        }
    }
    let state = state.recording();
    let cache = tempfile::tempdir().context("a scratch directory")?;
    let modules = Modules::standard(WasmVm::new(cache.path())?);
    let recomputed = answer_from(&modules, &state, query.abci_path, &query.request);
    if let Some(key) = state.keys_read().iter().find(|k| !proven.contains_key(*k)) {
        bail!(
            "the node's proof does not cover key {}, which the answer depends on",
            show_key(key)
        );
    }
    let app_hash = hex::encode_upper(&app_hash);
    match (status, recomputed) {
        (200, Ok(bytes)) => {
            let expected = (query.render)(&bytes).map_err(|e| anyhow!(e))?;
            let answer = without_proof(body);
            if without_proof(expected.clone()) != answer {
                bail!("the node's answer is not what its proven state says:\n  node:   {answer}\n  proven: {}", without_proof(expected));
            }
            Ok(Verified {
                answer: Some(answer),
                proven_bytes: Some(bytes),
                absent: None,
                height,
                app_hash,
            })
        }
        (200, Err(err)) => bail!(
            "the node answered, but its proven state says: {} (code {})",
            err.log,
            err.code.value()
        ),
        (_, Ok(_)) => {
            bail!("the node refused ({status}: {body}), but its proven state has an answer")
        }
        (_, Err(TxError { code, log })) => {
            if body["code"].as_u64() != Some(code.value() as u64) || body["message"] != log.as_str()
            {
                bail!(
                    "the node's error ({body}) is not what its proven state says: {log} (code {})",
                    code.value()
                );
            }
            Ok(Verified {
                answer: None,
                proven_bytes: None,
                absent: Some(log),
                height,
                app_hash,
            })
        }
    }
}

fn without_proof(mut value: Value) -> Value {
    if let Value::Object(map) = &mut value {
        map.remove("proof");
    }
    value
}

/// GET `path` with `prove=true`: the HTTP status and the JSON body (an
/// error's body too, which carries the proof of an absence).
fn get_proven(rest: &str, path: &str) -> anyhow::Result<(u16, Value)> {
    let separator = if path.contains('?') { '&' } else { '?' };
    let url = format!("{}{path}{separator}prove=true", rest.trim_end_matches('/'));
    let response = match ureq::get(&url).timeout(Duration::from_secs(30)).call() {
        Ok(response) => response,
        Err(ureq::Error::Status(_, response)) => response,
        Err(err) => bail!("GET {url}: {err}"),
    };
    let status = response.status();
    let body: Value = response
        .into_json()
        .with_context(|| format!("GET {url}: the answer is not JSON"))?;
    Ok((status, body))
}

fn proof_ops(proof: &Value) -> anyhow::Result<Vec<ProofOp>> {
    let field = |op: &Value, name: &str| -> anyhow::Result<Vec<u8>> {
        B64.decode(op[name].as_str().unwrap_or_default())
            .with_context(|| format!("proof op {name} is not base64"))
    };
    proof["ops"]
        .as_array()
        .ok_or_else(|| anyhow!("the proof has no ops"))?
        .iter()
        .map(|op| {
            Ok(ProofOp {
                r#type: op["type"].as_str().unwrap_or_default().to_string(),
                key: field(op, "key")?,
                data: field(op, "data")?,
            })
        })
        .collect()
}

/// Downloads `url` (weights) and checks its SHA-256 against `proven`.
pub fn download_checked(url: &str, proven: &[u8]) -> anyhow::Result<Vec<u8>> {
    let response = ureq::get(url)
        .timeout(Duration::from_secs(300))
        .call()
        .with_context(|| format!("GET {url}"))?;
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut response.into_reader(), &mut bytes)
        .with_context(|| format!("reading {url}"))?;
    let digest = crate::training::records::sha256(&bytes);
    if digest.as_slice() != proven {
        bail!(
            "the weights the node sent hash to {}, not to the proven {}",
            hex::encode(digest),
            hex::encode(proven)
        );
    }
    Ok(bytes)
}

/// Verifies `query` and prints the proven answer (JSON on stdout, what was
/// checked on stderr), or `proven absent: <the chain's NotFound>`.
pub fn print_verified(
    args: &VerifyArgs,
    rpc_url: &str,
    query: &ProvenQuery,
) -> anyhow::Result<Value> {
    let verified = verified(args, rpc_url, query)?;
    eprintln!("{}", verified.summary(args));
    match verified.answer {
        Some(answer) => {
            println!("{}", serde_json::to_string_pretty(&answer)?);
            Ok(answer)
        }
        // The check passed and its answer is that nothing is there.
        None => {
            println!("proven absent: {}", verified.absent.unwrap_or_default());
            Ok(Value::Null)
        }
    }
}

/// How REST renders an `um.*` response: its proto3 JSON.
pub fn um_json(response_type: &'static str) -> impl Fn(&[u8]) -> Result<Value, String> {
    move |bytes| crate::api::json::to_json(response_type, bytes)
}

//! The network of a [`ModelSpec`] on a `tch` [`VarStore`]: parameters with the
//! spec's stable names, forward pass, and conversion from and to [`Weights`]
//! (and so safetensors bytes).
//!
//! Inputs of a classifier are `[N, input_len]` float tensors (pixels scaled
//! to `[0, 1]`, see [`crate::dataset`]) and its output `[N, classes]`
//! logits; a `gpt` takes `[N, T]` byte tokens (i64, `T ≤ block_size`) and
//! gives `[N, T, vocab]` next-byte logits.

use tch::nn::{Init, VarStore};
use tch::{Device, Kind, Tensor};

use crate::spec::{ModelSpec, SpecError};
use crate::weights::{Weights, WeightsError};

/// A network with its parameters on one device.
pub struct Model {
    spec: ModelSpec,
    vs: VarStore,
    /// The parameters in the spec's canonical order (shallow handles into `vs`).
    params: Vec<(String, Tensor)>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("spec", &self.spec)
            .field("device", &self.vs.device())
            .finish()
    }
}

impl Model {
    /// A model with all parameters zero (load weights next).
    pub fn zeros(spec: &ModelSpec, device: Device) -> Result<Self, SpecError> {
        spec.validate()?;
        crate::runtime::init();
        let vs = VarStore::new(device);
        let mut params = Vec::new();
        for p in spec.parameters() {
            // "layers.0.weight" → path layers / 0, variable "weight": tch joins with '.'.
            let mut parts: Vec<&str> = p.name.split('.').collect();
            let leaf = parts.pop().expect("names have a leaf");
            let path = parts.iter().fold(vs.root(), |path, part| path.sub(*part));
            let dims: Vec<i64> = p.shape.iter().map(|&d| d as i64).collect();
            let t = path.var(leaf, &dims, Init::Const(0.0));
            params.push((p.name, t));
        }
        Ok(Model {
            spec: spec.clone(),
            vs,
            params,
        })
    }

    /// A model with the deterministic initial weights of `seed` ([`Weights::init`]).
    pub fn init(spec: &ModelSpec, seed: u64, device: Device) -> Result<Self, SpecError> {
        let mut model = Self::zeros(spec, device)?;
        model
            .load_weights(&Weights::init(spec, seed))
            .expect("init weights fit their spec");
        Ok(model)
    }

    /// A model with weights decoded from safetensors bytes (checked against the spec).
    pub fn from_safetensors(
        spec: &ModelSpec,
        bytes: &[u8],
        device: Device,
    ) -> Result<Self, ModelError> {
        let weights = Weights::decode(spec, bytes)?;
        let mut model = Self::zeros(spec, device)?;
        model.load_weights(&weights)?;
        Ok(model)
    }

    /// Copies host weights into the parameters; names and shapes must match exactly.
    pub fn load_weights(&mut self, weights: &Weights) -> Result<(), WeightsError> {
        if weights.tensors.len() != self.params.len() {
            let name = self
                .params
                .iter()
                .find(|(n, _)| !weights.tensors.iter().any(|t| &t.name == n))
                .map(|(n, _)| n.clone())
                .unwrap_or_default();
            return Err(WeightsError::MissingTensor(name));
        }
        for ((name, param), src) in self.params.iter_mut().zip(&weights.tensors) {
            if *name != src.name {
                return Err(WeightsError::UnexpectedTensor(src.name.clone()));
            }
            let expected: Vec<u64> = param.size().iter().map(|&d| d as u64).collect();
            if expected != src.shape || src.data.len() as u64 != expected.iter().product::<u64>() {
                return Err(WeightsError::WrongShape {
                    name: name.clone(),
                    expected,
                    got: src.shape.clone(),
                });
            }
            let dims: Vec<i64> = src.shape.iter().map(|&d| d as i64).collect();
            let host = Tensor::from_slice(&src.data).reshape(dims.as_slice());
            tch::no_grad(|| param.copy_(&host));
        }
        Ok(())
    }

    /// The parameters copied to the host, in canonical order.
    pub fn weights(&self) -> Weights {
        let tensors = self
            .params
            .iter()
            .map(|(name, t)| {
                let flat = t
                    .detach()
                    .to_device(Device::Cpu)
                    .to_kind(Kind::Float)
                    .contiguous()
                    .view(-1);
                let n = flat.numel();
                let mut data = vec![0f32; n];
                flat.copy_data(&mut data, n);
                crate::weights::NamedArray {
                    name: name.clone(),
                    shape: t.size().iter().map(|&d| d as u64).collect(),
                    data,
                }
            })
            .collect();
        Weights { tensors }
    }

    /// The canonical safetensors bytes of the parameters.
    pub fn to_safetensors(&self) -> Vec<u8> {
        self.weights().encode()
    }

    /// The logits the loss is taken of, one row per target: `[N, classes]`
    /// for a classifier, `[N·T, vocab]` for a `gpt` (targets in the order of
    /// [`crate::dataset::task_tensors`]).
    pub fn loss_logits(&self, xs: &Tensor) -> Tensor {
        let logits = self.forward(xs);
        match self.spec {
            ModelSpec::Gpt { vocab, .. } => logits.reshape([-1, i64::from(vocab)]),
            _ => logits,
        }
    }

    /// Forward pass: `[N, input_len]` floats → `[N, classes]` logits, or for
    /// a `gpt` `[N, T]` tokens → `[N, T, vocab]` logits.
    pub fn forward(&self, xs: &Tensor) -> Tensor {
        let p = |i: usize| &self.params[i].1;
        match &self.spec {
            ModelSpec::Mlp { hidden, .. } => {
                let mut x = xs.shallow_clone();
                for i in 0..=hidden.len() {
                    x = x.linear(p(2 * i), Some(p(2 * i + 1)));
                    if i < hidden.len() {
                        x = x.relu();
                    }
                }
                x
            }
            ModelSpec::Cnn {
                input,
                channels,
                kernel,
                ..
            } => {
                let dims = [
                    -1,
                    i64::from(input[0]),
                    i64::from(input[1]),
                    i64::from(input[2]),
                ];
                let pad = i64::from(*kernel / 2);
                let mut x = xs.reshape(dims);
                for i in 0..channels.len() {
                    x = x
                        .conv2d(p(2 * i), Some(p(2 * i + 1)), [1, 1], [pad, pad], [1, 1], 1)
                        .relu()
                        .max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false);
                }
                let j = 2 * channels.len();
                x.flatten(1, -1)
                    .linear(p(j), Some(p(j + 1)))
                    .relu()
                    .linear(p(j + 2), Some(p(j + 3)))
            }
            ModelSpec::Gpt {
                layers,
                heads,
                embed,
                ..
            } => self.gpt_forward(xs, *layers as usize, i64::from(*heads), i64::from(*embed)),
        }
    }

    /// The transformer of a `gpt` spec (see `um_formats::spec`), its
    /// parameters read in the spec's canonical order.
    fn gpt_forward(&self, tokens: &Tensor, layers: usize, heads: i64, embed: i64) -> Tensor {
        let p = |i: usize| &self.params[i].1;
        let (n, t) = match tokens.size()[..] {
            [n, t] => (n, t),
            _ => (1, tokens.numel() as i64),
        };
        let tokens = tokens.reshape([n, t]);
        let device = tokens.device();
        let head_dim = embed / heads;
        let positions = Tensor::arange(t, (Kind::Int64, device));
        let mut x = Tensor::embedding(p(0), &tokens, -1, false, false)
            + Tensor::embedding(p(1), &positions, -1, false, false);
        // True above the diagonal: a position sees itself and the past only.
        let future = Tensor::ones([t, t], (Kind::Bool, device)).triu(1);
        let scale = 1.0 / (head_dim as f64).sqrt();
        let split_heads = |z: &Tensor| z.reshape([n, t, heads, head_dim]).transpose(1, 2);
        // libtorch's fused LayerNorm sums its scale's and shift's gradients
        // in an order that depends on the thread count; normalizing alone
        // and applying them as a product and a sum keeps a step bitwise
        // the same on 1 or 2 threads (the step's determinism test).
        let layer_norm = |x: &Tensor, at: usize| {
            x.layer_norm::<Tensor>([embed], None, None, 1e-5, false) * p(at) + p(at + 1)
        };
        for layer in 0..layers {
            let b = 2 + 12 * layer;
            let h = layer_norm(&x, b);
            let qkv = h.linear(p(b + 2), Some(p(b + 3))).split(embed, -1);
            let (q, k, v) = (
                split_heads(&qkv[0]),
                split_heads(&qkv[1]),
                split_heads(&qkv[2]),
            );
            let scores = q.matmul(&k.transpose(-2, -1)) * scale;
            let attention = scores
                .masked_fill(&future, f64::NEG_INFINITY)
                .softmax(-1, Kind::Float);
            let y = attention
                .matmul(&v)
                .transpose(1, 2)
                .contiguous()
                .reshape([n, t, embed]);
            // Out of place: an in-place add would overwrite what the
            // backward pass of the LayerNorm before it still reads.
            x = &x + y.linear(p(b + 4), Some(p(b + 5)));
            let h = layer_norm(&x, b + 6);
            x = &x
                + h.linear(p(b + 8), Some(p(b + 9)))
                    .gelu("none")
                    .linear(p(b + 10), Some(p(b + 11)));
        }
        let f = 2 + 12 * layers;
        layer_norm(&x, f).linear::<Tensor>(p(f + 2), None)
    }

    /// The spec this model was built from.
    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    /// The device holding the parameters.
    pub fn device(&self) -> Device {
        self.vs.device()
    }

    /// The parameters in canonical order.
    pub fn parameters(&self) -> &[(String, Tensor)] {
        &self.params
    }

    /// The underlying var store.
    pub fn var_store(&self) -> &VarStore {
        &self.vs
    }
}

/// Building or loading a model failed.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(transparent)]
    Weights(#[from] WeightsError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil;

    #[test]
    fn var_store_names_are_the_stable_names() {
        for spec in [testutil::mlp_spec(), testutil::cnn_spec()] {
            let model = Model::init(&spec, 3, Device::Cpu).unwrap();
            let mut in_store: Vec<String> = model.var_store().variables().into_keys().collect();
            in_store.sort();
            let mut expected: Vec<String> = spec.parameters().into_iter().map(|p| p.name).collect();
            expected.sort();
            assert_eq!(in_store, expected);
            assert!(model.parameters().iter().all(|(_, t)| t.requires_grad()));
        }
    }

    #[test]
    fn init_load_and_save_are_bit_exact() {
        for spec in [testutil::mlp_spec(), testutil::cnn_spec()] {
            let w = Weights::init(&spec, 11);
            let model = Model::init(&spec, 11, Device::Cpu).unwrap();
            assert_eq!(model.weights(), w);
            let bytes = model.to_safetensors();
            assert_eq!(bytes, w.encode());
            let again = Model::from_safetensors(&spec, &bytes, Device::Cpu).unwrap();
            assert_eq!(again.to_safetensors(), bytes);
            // A different seed is a different model.
            assert_ne!(
                Model::init(&spec, 12, Device::Cpu)
                    .unwrap()
                    .to_safetensors(),
                bytes
            );
        }
    }

    #[test]
    fn forward_shapes() {
        let xs = Tensor::rand([5, 784], (Kind::Float, Device::Cpu));
        for spec in [testutil::mlp_spec(), testutil::cnn_spec()] {
            let model = Model::init(&spec, 1, Device::Cpu).unwrap();
            let out = model.forward(&xs);
            assert_eq!(out.size(), vec![5, 10]);
            // Rows are different samples: outputs differ.
            let diff = (out.get(0) - out.get(1))
                .abs()
                .sum(Kind::Float)
                .double_value(&[]);
            assert!(diff > 0.0);
        }
    }

    /// Python's `safetensors` reads our bytes with the same names, shapes and
    /// bits, and PyTorch modules with these names compute the same logits.
    #[test]
    fn python_loads_our_safetensors_and_computes_the_same_logits() {
        let python = testutil::repo_root().join(".venv/bin/python");
        assert!(
            python.exists(),
            "{} is missing: run `make setup-venv`",
            python.display()
        );
        let dir = tempfile::tempdir().unwrap();
        let records = &testutil::small_mnist().validation()[..4];
        let pixels: Vec<u8> = records.iter().flat_map(|r| r.pixels).collect();
        std::fs::write(dir.path().join("pixels.bin"), &pixels).unwrap();
        let (xs, _) = crate::dataset::batch_tensors(records, Device::Cpu);
        for (i, spec) in [testutil::mlp_spec(), testutil::cnn_spec()]
            .iter()
            .enumerate()
        {
            let model = Model::init(spec, 21, Device::Cpu).unwrap();
            let file = dir.path().join(format!("model{i}.safetensors"));
            std::fs::write(&file, model.to_safetensors()).unwrap();
            let out = run_python(
                &python,
                PYTHON_CHECK,
                &file,
                &spec.to_json(),
                &dir.path().join("pixels.bin"),
            );
            let report: serde_json::Value = serde_json::from_slice(&out).unwrap();
            // Names, shapes, dtypes and the exact bytes of every tensor.
            let tensors = report["tensors"].as_object().unwrap();
            let weights = model.weights();
            assert_eq!(tensors.len(), weights.tensors.len());
            for t in &weights.tensors {
                let got = &tensors[&t.name];
                let shape: Vec<u64> = serde_json::from_value(got["shape"].clone()).unwrap();
                assert_eq!(shape, t.shape, "{}", t.name);
                assert_eq!(got["dtype"], "torch.float32", "{}", t.name);
                let bytes: Vec<u8> = t.data.iter().flat_map(|v| v.to_le_bytes()).collect();
                let digest = crate::weights::weights_hash(&bytes);
                assert_eq!(got["sha256"].as_str().unwrap(), digest, "{}", t.name);
            }
            // The same forward pass in PyTorch.
            let logits: Vec<Vec<f64>> = serde_json::from_value(report["logits"].clone()).unwrap();
            let ours = model.forward(&xs);
            for (r, row) in logits.iter().enumerate() {
                for (c, &v) in row.iter().enumerate() {
                    let mine = ours.double_value(&[r as i64, c as i64]);
                    assert!((mine - v).abs() < 1e-4, "{spec:?} [{r},{c}]: {mine} vs {v}");
                }
            }
        }
    }

    /// `script` run as `python -c script WEIGHTS SPEC INPUT`; its stdout.
    fn run_python(
        python: &std::path::Path,
        script: &str,
        weights: &std::path::Path,
        spec: &str,
        input: &std::path::Path,
    ) -> Vec<u8> {
        let out = std::process::Command::new(python)
            .arg("-c")
            .arg(script)
            .arg(weights)
            .arg(spec)
            .arg(input)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "python failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    const PYTHON_CHECK: &str = r#"
import hashlib, json, sys
import torch
from safetensors.torch import load_file
path, spec, pixels = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
sd = load_file(path)
tensors = {k: {"shape": list(v.shape), "dtype": str(v.dtype),
               "sha256": hashlib.sha256(v.contiguous().numpy().tobytes()).hexdigest()}
           for k, v in sd.items()}
raw = open(pixels, "rb").read()
x = torch.tensor(list(raw), dtype=torch.uint8).reshape(-1, 784).float() / 255.0
nn = torch.nn
if spec["kind"] == "mlp":
    sizes = [784] + spec["hidden"] + [spec["classes"]]
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))
        def forward(self, x):
            for i, l in enumerate(self.layers):
                x = l(x)
                if i < len(self.layers) - 1:
                    x = torch.relu(x)
            return x
else:
    c, h, w = spec["input"]; k = spec["kernel"]; chans = [c] + spec["channels"]
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.ModuleList(nn.Conv2d(a, b, k, padding=k // 2) for a, b in zip(chans, chans[1:]))
            n = len(spec["channels"]); flat = chans[-1] * (h >> n) * (w >> n)
            self.layers = nn.ModuleList([nn.Linear(flat, spec["hidden"]), nn.Linear(spec["hidden"], spec["classes"])])
        def forward(self, x):
            x = x.reshape(-1, c, h, w)
            for conv in self.conv:
                x = torch.max_pool2d(torch.relu(conv(x)), 2, 2)
            return self.layers[1](torch.relu(self.layers[0](x.flatten(1))))
m = M()
m.load_state_dict(sd, strict=True)
with torch.no_grad():
    logits = m(x).tolist()
print(json.dumps({"tensors": tensors, "logits": logits}))
"#;

    #[test]
    fn a_gpt_predicts_every_position_from_the_past_only() {
        let spec = testutil::gpt_spec();
        let model = Model::init(&spec, 5, Device::Cpu).unwrap();
        let mut in_store: Vec<String> = model.var_store().variables().into_keys().collect();
        in_store.sort();
        let mut expected: Vec<String> = spec.parameters().into_iter().map(|p| p.name).collect();
        expected.sort();
        assert_eq!(in_store, expected);
        assert_eq!(model.weights(), Weights::init(&spec, 5));

        let text: Vec<i64> = b"To be, or not to be, that is the"
            .iter()
            .map(|&b| i64::from(b))
            .collect();
        let xs = Tensor::from_slice(&text).reshape([1, 32]);
        let out = model.forward(&xs);
        assert_eq!(out.size(), vec![1, 32, 256]);
        assert_eq!(model.loss_logits(&xs).size(), vec![32, 256]);
        // Changing the last token changes its own logits and no earlier ones.
        let mut changed = text.clone();
        changed[31] = i64::from(b'X');
        let other = model.forward(&Tensor::from_slice(&changed).reshape([1, 32]));
        let diff = |a: &Tensor, b: &Tensor| (a - b).abs().max().double_value(&[]);
        assert_eq!(diff(&out.narrow(1, 0, 31), &other.narrow(1, 0, 31)), 0.0);
        assert!(diff(&out.narrow(1, 31, 1), &other.narrow(1, 31, 1)) > 0.0);
        // A shorter context is the prefix of the longer one's answer.
        let prefix = model.forward(&xs.narrow(1, 0, 10));
        assert!(diff(&prefix, &out.narrow(1, 0, 10)) < 1e-5);
    }

    /// The same transformer written with PyTorch's own modules
    /// (`nn.Embedding`, `nn.LayerNorm`, `nn.Linear`, `nn.GELU`) loads our
    /// safetensors by name and computes the same logits.
    #[test]
    fn pytorch_modules_compute_the_same_gpt_logits() {
        let python = testutil::repo_root().join(".venv/bin/python");
        assert!(
            python.exists(),
            "{} is missing: run `make setup-venv`",
            python.display()
        );
        let dir = tempfile::tempdir().unwrap();
        let spec = testutil::gpt_spec();
        let model = Model::init(&spec, 8, Device::Cpu).unwrap();
        let file = dir.path().join("gpt.safetensors");
        std::fs::write(&file, model.to_safetensors()).unwrap();
        let text = b"Now is the winter of our discontent made glorious summer by this sun of York";
        let tokens: Vec<i64> = text[..64].iter().map(|&b| i64::from(b)).collect();
        let xs = Tensor::from_slice(&tokens).reshape([2, 32]);
        std::fs::write(dir.path().join("tokens.bin"), &text[..64]).unwrap();
        let out = run_python(
            &python,
            PYTHON_GPT,
            &file,
            &spec.to_json(),
            &dir.path().join("tokens.bin"),
        );
        let theirs: Vec<Vec<Vec<f64>>> = serde_json::from_slice(&out).unwrap();
        let ours = model.forward(&xs);
        let mut worst = 0f64;
        for (n, rows) in theirs.iter().enumerate() {
            for (t, row) in rows.iter().enumerate() {
                for (v, &x) in row.iter().enumerate() {
                    let mine = ours.double_value(&[n as i64, t as i64, v as i64]);
                    worst = worst.max((mine - x).abs());
                }
            }
        }
        assert!(worst < 1e-4, "largest logit difference {worst}");
    }

    const PYTHON_GPT: &str = r#"
import json, math, sys
import torch
from safetensors.torch import load_file
path, spec, tokens = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
nn = torch.nn
V, T, L, H, E = spec["vocab"], spec["block_size"], spec["layers"], spec["heads"], spec["embed"]
class Attn(nn.Module):
    def __init__(self):
        super().__init__()
        self.qkv = nn.Linear(E, 3 * E); self.proj = nn.Linear(E, E)
    def forward(self, x):
        n, t, _ = x.shape
        q, k, v = self.qkv(x).split(E, dim=-1)
        q, k, v = [z.view(n, t, H, E // H).transpose(1, 2) for z in (q, k, v)]
        att = (q @ k.transpose(-2, -1)) / math.sqrt(E // H)
        att = att.masked_fill(torch.triu(torch.ones(t, t, dtype=torch.bool), 1), float("-inf"))
        y = att.softmax(-1) @ v
        return self.proj(y.transpose(1, 2).reshape(n, t, E))
class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(E, 4 * E); self.proj = nn.Linear(4 * E, E)
    def forward(self, x):
        return self.proj(nn.functional.gelu(self.fc(x)))
class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1 = nn.LayerNorm(E); self.attn = Attn(); self.ln2 = nn.LayerNorm(E); self.mlp = Mlp()
    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))
class Gpt(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = nn.Embedding(V, E); self.wpe = nn.Embedding(T, E)
        self.blocks = nn.ModuleList(Block() for _ in range(L))
        self.ln_f = nn.LayerNorm(E); self.head = nn.Linear(E, V, bias=False)
    def forward(self, idx):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        for b in self.blocks:
            x = b(x)
        return self.head(self.ln_f(x))
m = Gpt()
m.load_state_dict(load_file(path), strict=True)
raw = open(tokens, "rb").read()
idx = torch.tensor(list(raw), dtype=torch.long).reshape(-1, T)
with torch.no_grad():
    print(json.dumps(m(idx).tolist()))
"#;

    #[test]
    fn loading_refuses_weights_of_another_spec() {
        let spec = testutil::mlp_spec();
        let other =
            ModelSpec::parse(r#"{"kind":"mlp","input":[784],"hidden":[32],"classes":10}"#).unwrap();
        let bytes = Weights::init(&other, 1).encode();
        let err = Model::from_safetensors(&spec, &bytes, Device::Cpu).unwrap_err();
        assert!(
            matches!(err, ModelError::Weights(WeightsError::WrongShape { .. })),
            "{err:?}"
        );
        let mut model = Model::zeros(&spec, Device::Cpu).unwrap();
        assert!(model.load_weights(&Weights::init(&other, 1)).is_err());
    }
}

//! Model specs: the JSON that a model lineage stores on chain as a string.
//!
//! ```text
//! {"kind":"mlp","input":[1,28,28],"hidden":[128,64],"classes":10}
//! {"kind":"cnn","input":[1,28,28],"channels":[8,16],"kernel":3,"hidden":64,"classes":10}
//! {"kind":"gpt","vocab":256,"block_size":128,"layers":2,"heads":4,"embed":64}
//! ```
//!
//! The spec fixes the parameter names and shapes ([`ModelSpec::parameters`]);
//! `um-trainer`'s `model` builds the network from it.
//!
//! - `mlp`: the input is flattened; one `Linear → ReLU` per entry of `hidden`,
//!   then a `Linear` to `classes` logits. Parameters `layers.{i}.weight`
//!   (`[out, in]`) and `layers.{i}.bias` (`[out]`), `i = 0..=hidden.len()`.
//! - `cnn`: `input` is `[C, H, W]`; per entry of `channels` a
//!   `Conv2d(kernel, stride 1, padding kernel/2) → ReLU → MaxPool2d(2, 2)`
//!   (parameters `conv.{i}.weight` `[out, in, k, k]`, `conv.{i}.bias`), then
//!   flatten, `Linear → ReLU` to `hidden` (`layers.0.*`) and `Linear` to
//!   `classes` (`layers.1.*`).
//! - `gpt`: a decoder-only transformer over bytes (GPT-2's layout without
//!   dropout). Token embedding `wte.weight` `[vocab, embed]` plus position
//!   embedding `wpe.weight` `[block_size, embed]`; per layer `i` a pre-norm
//!   block `x += proj(attn(ln1(x)))`, `x += mlp(ln2(x))`: `blocks.{i}.ln1.*`
//!   and `ln2.*` (LayerNorm weight and bias `[embed]`, eps 1e-5),
//!   `blocks.{i}.attn.qkv.*` (`[3·embed, embed]`: queries, keys, values in
//!   that order, each split into `heads` heads of `embed/heads`),
//!   `blocks.{i}.attn.proj.*` (`[embed, embed]`), `blocks.{i}.mlp.fc.*`
//!   (`[4·embed, embed]`, then GELU, erf form) and `blocks.{i}.mlp.proj.*`
//!   (`[embed, 4·embed]`); attention is causal with scores scaled by
//!   `1/sqrt(embed/heads)`. Then `ln_f.*` and a separate, bias-free head
//!   `head.weight` `[vocab, embed]` to the next-byte logits. The vocabulary
//!   is the 256 byte values (a record is read as bytes, see
//!   `crate::dataset`), so `vocab` must be 256.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Largest number of parameters a spec may ask for (about 200 MB of f32).
pub const MAX_PARAMETERS: u64 = 50_000_000;
/// Largest number of hidden layers of an MLP or conv blocks of a CNN.
pub const MAX_LAYERS: usize = 16;
/// Largest conv kernel.
pub const MAX_KERNEL: u32 = 15;
/// Vocabulary of a `gpt`: one token per byte value.
pub const BYTE_VOCAB: u32 = 256;
/// Longest context of a `gpt`: a record holds 785 bytes, so 784 inputs
/// each predicting the next byte.
pub const MAX_BLOCK_SIZE: u32 = 784;
/// Widest embedding of a `gpt`.
pub const MAX_EMBED: u32 = 4096;

/// An architecture, as stored on chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum ModelSpec {
    /// A multi-layer perceptron with ReLU activations.
    Mlp {
        /// Shape of one sample, e.g. `[1, 28, 28]`; flattened before the first layer.
        input: Vec<u32>,
        /// Widths of the hidden layers (may be empty: a linear classifier).
        hidden: Vec<u32>,
        /// Number of output logits.
        classes: u32,
    },
    /// A small convolutional network.
    Cnn {
        /// `[channels, height, width]` of one sample.
        input: Vec<u32>,
        /// Output channels of each conv block.
        channels: Vec<u32>,
        /// Square kernel size, odd.
        kernel: u32,
        /// Width of the dense hidden layer after the conv blocks.
        hidden: u32,
        /// Number of output logits.
        classes: u32,
    },
    /// A decoder-only transformer language model over bytes.
    Gpt {
        /// Number of tokens: 256, one per byte value.
        vocab: u32,
        /// Context length in tokens (at most [`MAX_BLOCK_SIZE`]).
        block_size: u32,
        /// Number of transformer blocks.
        layers: u32,
        /// Attention heads per block; `embed` must be a multiple of it.
        heads: u32,
        /// Width of the residual stream.
        embed: u32,
    },
}

/// What a model does with a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// `[N, input_len]` pixels in, `[N, classes]` logits out; the record's
    /// label is the target.
    Classify { input_len: usize, classes: u32 },
    /// `[N, block_size]` byte tokens in, `[N, block_size, vocab]` next-byte
    /// logits out; the record's bytes are both input and target.
    NextByte { block_size: u32, vocab: u32 },
}

/// Why a spec was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum SpecError {
    #[error("model spec is not valid JSON for a known kind (mlp, cnn, gpt): {0}")]
    Json(String),
    #[error("model spec: `input` must not be empty")]
    EmptyInput,
    #[error("model spec: `{field}` contains a zero")]
    Zero { field: &'static str },
    #[error("model spec: a cnn `input` must be [channels, height, width], got {got} dimensions")]
    CnnInputRank { got: usize },
    #[error("model spec: `channels` must not be empty")]
    NoConvBlocks,
    #[error("model spec: at most {max} layers in `{field}`, got {got}")]
    TooManyLayers {
        field: &'static str,
        got: usize,
        max: usize,
    },
    #[error("model spec: `classes` must be at least 2, got {0}")]
    TooFewClasses(u32),
    #[error("model spec: `kernel` must be odd and between 1 and {max}, got {got}")]
    BadKernel { got: u32, max: u32 },
    #[error(
        "model spec: input {height}x{width} is too small for {blocks} conv blocks \
         (each halves the height and the width)"
    )]
    SpatialTooSmall {
        height: u32,
        width: u32,
        blocks: usize,
    },
    #[error("model spec: a gpt's `vocab` must be {BYTE_VOCAB} (one token per byte), got {0}")]
    BadVocab(u32),
    #[error("model spec: `{field}` must be between 1 and {max}, got {got}")]
    OutOfRange {
        field: &'static str,
        got: u32,
        max: u32,
    },
    #[error("model spec: `embed` {embed} is not a multiple of `heads` {heads}")]
    HeadsDoNotDivide { embed: u32, heads: u32 },
    #[error("model spec: {count} parameters, more than the limit of {max}")]
    TooManyParameters { count: u64, max: u64 },
}

impl ModelSpec {
    /// Parses and validates a spec.
    pub fn parse(json: &str) -> Result<Self, SpecError> {
        let spec: ModelSpec =
            serde_json::from_str(json).map_err(|e| SpecError::Json(e.to_string()))?;
        spec.validate()?;
        Ok(spec)
    }

    /// The canonical JSON of this spec (fixed key order, no spaces).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a spec always serializes")
    }

    /// Checks every rule; [`ModelSpec::parse`] calls it.
    pub fn validate(&self) -> Result<(), SpecError> {
        let (input, classes) = match self {
            ModelSpec::Mlp { input, classes, .. } | ModelSpec::Cnn { input, classes, .. } => {
                (input, *classes)
            }
            ModelSpec::Gpt { .. } => {
                self.validate_gpt()?;
                return self.check_parameter_count();
            }
        };
        if input.is_empty() {
            return Err(SpecError::EmptyInput);
        }
        if input.contains(&0) {
            return Err(SpecError::Zero { field: "input" });
        }
        if classes < 2 {
            return Err(SpecError::TooFewClasses(classes));
        }
        match self {
            ModelSpec::Mlp { hidden, .. } => {
                if hidden.len() > MAX_LAYERS {
                    return Err(SpecError::TooManyLayers {
                        field: "hidden",
                        got: hidden.len(),
                        max: MAX_LAYERS,
                    });
                }
                if hidden.contains(&0) {
                    return Err(SpecError::Zero { field: "hidden" });
                }
            }
            ModelSpec::Cnn {
                input,
                channels,
                kernel,
                hidden,
                ..
            } => {
                if input.len() != 3 {
                    return Err(SpecError::CnnInputRank { got: input.len() });
                }
                if channels.is_empty() {
                    return Err(SpecError::NoConvBlocks);
                }
                if channels.len() > MAX_LAYERS {
                    return Err(SpecError::TooManyLayers {
                        field: "channels",
                        got: channels.len(),
                        max: MAX_LAYERS,
                    });
                }
                if channels.contains(&0) {
                    return Err(SpecError::Zero { field: "channels" });
                }
                if *hidden == 0 {
                    return Err(SpecError::Zero { field: "hidden" });
                }
                if *kernel == 0 || *kernel % 2 == 0 || *kernel > MAX_KERNEL {
                    return Err(SpecError::BadKernel {
                        got: *kernel,
                        max: MAX_KERNEL,
                    });
                }
                let (height, width) = (input[1], input[2]);
                let blocks = channels.len();
                if (height >> blocks) == 0 || (width >> blocks) == 0 {
                    return Err(SpecError::SpatialTooSmall {
                        height,
                        width,
                        blocks,
                    });
                }
            }
            ModelSpec::Gpt { .. } => {}
        }
        self.check_parameter_count()
    }

    fn validate_gpt(&self) -> Result<(), SpecError> {
        let ModelSpec::Gpt {
            vocab,
            block_size,
            layers,
            heads,
            embed,
        } = *self
        else {
            return Ok(());
        };
        if vocab != BYTE_VOCAB {
            return Err(SpecError::BadVocab(vocab));
        }
        let max_layers = MAX_LAYERS as u32;
        for (field, got, max) in [
            ("block_size", block_size, MAX_BLOCK_SIZE),
            ("layers", layers, max_layers),
            ("embed", embed, MAX_EMBED),
            ("heads", heads, embed.max(1)),
        ] {
            if got == 0 || got > max {
                return Err(SpecError::OutOfRange { field, got, max });
            }
        }
        if embed % heads != 0 {
            return Err(SpecError::HeadsDoNotDivide { embed, heads });
        }
        Ok(())
    }

    fn check_parameter_count(&self) -> Result<(), SpecError> {
        let count = self.parameter_count_checked();
        match count {
            Some(count) if count <= MAX_PARAMETERS => Ok(()),
            Some(count) => Err(SpecError::TooManyParameters {
                count,
                max: MAX_PARAMETERS,
            }),
            None => Err(SpecError::TooManyParameters {
                count: u64::MAX,
                max: MAX_PARAMETERS,
            }),
        }
    }

    /// Number of values in one input sample (the product of `input`; a
    /// `gpt`'s context length).
    pub fn input_len(&self) -> usize {
        match self {
            ModelSpec::Mlp { input, .. } | ModelSpec::Cnn { input, .. } => {
                input.iter().map(|&d| d as usize).product()
            }
            ModelSpec::Gpt { block_size, .. } => *block_size as usize,
        }
    }

    /// Number of output logits (per position for a `gpt`).
    pub fn classes(&self) -> u32 {
        match self {
            ModelSpec::Mlp { classes, .. } | ModelSpec::Cnn { classes, .. } => *classes,
            ModelSpec::Gpt { vocab, .. } => *vocab,
        }
    }

    /// What the model does with a record.
    pub fn task(&self) -> Task {
        match self {
            ModelSpec::Mlp { .. } | ModelSpec::Cnn { .. } => Task::Classify {
                input_len: self.input_len(),
                classes: self.classes(),
            },
            ModelSpec::Gpt {
                block_size, vocab, ..
            } => Task::NextByte {
                block_size: *block_size,
                vocab: *vocab,
            },
        }
    }

    /// Every parameter, in the canonical order: name and shape.
    /// Only meaningful for a validated spec.
    pub fn parameters(&self) -> Vec<ParamInfo> {
        let mut out = Vec::new();
        let linear = |out: &mut Vec<ParamInfo>, prefix: String, fan_in: u64, width: u64| {
            out.push(ParamInfo::uniform(
                format!("{prefix}.weight"),
                vec![width, fan_in],
                fan_in,
            ));
            out.push(ParamInfo::uniform(
                format!("{prefix}.bias"),
                vec![width],
                fan_in,
            ));
        };
        match self {
            ModelSpec::Mlp {
                hidden, classes, ..
            } => {
                let mut fan_in = self.input_len() as u64;
                for (i, &width) in hidden.iter().enumerate() {
                    linear(&mut out, format!("layers.{i}"), fan_in, u64::from(width));
                    fan_in = u64::from(width);
                }
                linear(
                    &mut out,
                    format!("layers.{}", hidden.len()),
                    fan_in,
                    u64::from(*classes),
                );
            }
            ModelSpec::Cnn {
                input,
                channels,
                kernel,
                hidden,
                classes,
            } => {
                let k = u64::from(*kernel);
                let mut c_in = u64::from(input[0]);
                for (i, &c_out) in channels.iter().enumerate() {
                    let fan_in = c_in * k * k;
                    out.push(ParamInfo::uniform(
                        format!("conv.{i}.weight"),
                        vec![u64::from(c_out), c_in, k, k],
                        fan_in,
                    ));
                    out.push(ParamInfo::uniform(
                        format!("conv.{i}.bias"),
                        vec![u64::from(c_out)],
                        fan_in,
                    ));
                    c_in = u64::from(c_out);
                }
                let flat = c_in * self.cnn_output_hw().0 * self.cnn_output_hw().1;
                linear(&mut out, "layers.0".into(), flat, u64::from(*hidden));
                linear(
                    &mut out,
                    "layers.1".into(),
                    u64::from(*hidden),
                    u64::from(*classes),
                );
            }
            ModelSpec::Gpt {
                vocab,
                block_size,
                layers,
                embed,
                ..
            } => {
                let (v, t, e) = (u64::from(*vocab), u64::from(*block_size), u64::from(*embed));
                let layer_norm = |out: &mut Vec<ParamInfo>, prefix: String| {
                    out.push(ParamInfo::constant(
                        format!("{prefix}.weight"),
                        vec![e],
                        InitRule::Ones,
                    ));
                    out.push(ParamInfo::constant(
                        format!("{prefix}.bias"),
                        vec![e],
                        InitRule::Zeros,
                    ));
                };
                // Embeddings are read, not multiplied: their scale is the
                // residual stream's, as if fed by a layer of `embed` inputs.
                out.push(ParamInfo::uniform("wte.weight".into(), vec![v, e], e));
                out.push(ParamInfo::uniform("wpe.weight".into(), vec![t, e], e));
                for i in 0..*layers {
                    let b = format!("blocks.{i}");
                    layer_norm(&mut out, format!("{b}.ln1"));
                    linear(&mut out, format!("{b}.attn.qkv"), e, 3 * e);
                    linear(&mut out, format!("{b}.attn.proj"), e, e);
                    layer_norm(&mut out, format!("{b}.ln2"));
                    linear(&mut out, format!("{b}.mlp.fc"), e, 4 * e);
                    linear(&mut out, format!("{b}.mlp.proj"), 4 * e, e);
                }
                layer_norm(&mut out, "ln_f".into());
                out.push(ParamInfo::uniform("head.weight".into(), vec![v, e], e));
            }
        }
        out
    }

    /// Total number of parameters.
    pub fn parameter_count(&self) -> u64 {
        self.parameters().iter().map(ParamInfo::numel).sum()
    }

    /// Height and width after the conv blocks of a CNN (each halves, rounding down).
    pub(crate) fn cnn_output_hw(&self) -> (u64, u64) {
        match self {
            ModelSpec::Cnn {
                input, channels, ..
            } => {
                let n = channels.len() as u32;
                (
                    u64::from(input[1].checked_shr(n).unwrap_or(0)),
                    u64::from(input[2].checked_shr(n).unwrap_or(0)),
                )
            }
            ModelSpec::Mlp { .. } | ModelSpec::Gpt { .. } => (1, 1),
        }
    }

    /// The parameter count with overflow checks, for validation of untrusted specs.
    fn parameter_count_checked(&self) -> Option<u64> {
        let dense = |fan_in: u64, width: u64| fan_in.checked_mul(width)?.checked_add(width);
        let mut total: u64 = 0;
        match self {
            ModelSpec::Mlp {
                input,
                hidden,
                classes,
            } => {
                let mut fan_in = input
                    .iter()
                    .try_fold(1u64, |acc, &d| acc.checked_mul(u64::from(d)))?;
                for &width in hidden.iter().chain(std::iter::once(classes)) {
                    total = total.checked_add(dense(fan_in, u64::from(width))?)?;
                    fan_in = u64::from(width);
                }
            }
            ModelSpec::Cnn {
                input,
                channels,
                kernel,
                hidden,
                classes,
            } => {
                let k2 = u64::from(*kernel).checked_mul(u64::from(*kernel))?;
                let mut c_in = u64::from(input[0]);
                for &c_out in channels {
                    let w = c_in.checked_mul(k2)?.checked_mul(u64::from(c_out))?;
                    total = total.checked_add(w)?.checked_add(u64::from(c_out))?;
                    c_in = u64::from(c_out);
                }
                let (h, w) = self.cnn_output_hw();
                let flat = c_in.checked_mul(h)?.checked_mul(w)?;
                total = total.checked_add(dense(flat, u64::from(*hidden))?)?;
                total = total.checked_add(dense(u64::from(*hidden), u64::from(*classes))?)?;
            }
            // `validate_gpt` bounds every field first (≈ 3.3 × 10⁹
            // parameters at most): the plain sum cannot overflow.
            ModelSpec::Gpt { .. } => {
                total = self.parameters().iter().map(ParamInfo::numel).sum();
            }
        }
        Some(total)
    }
}

/// One parameter of a model: its stable name, shape and how it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamInfo {
    /// Stable name, e.g. `layers.0.weight`.
    pub name: String,
    /// Shape, outermost first.
    pub shape: Vec<u64>,
    /// Inputs feeding each output unit (for the weight and the bias of a
    /// layer alike); the bound of a [`InitRule::Uniform`] init.
    pub fan_in: u64,
    /// How `Weights::init` fills it.
    pub init: InitRule,
}

/// The initial values of a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitRule {
    /// Uniform in `[-1/sqrt(fan_in), 1/sqrt(fan_in))` (PyTorch's default
    /// for `Linear` and `Conv2d`).
    Uniform,
    /// All ones (a LayerNorm's scale).
    Ones,
    /// All zeros (a LayerNorm's shift).
    Zeros,
}

impl ParamInfo {
    fn uniform(name: String, shape: Vec<u64>, fan_in: u64) -> Self {
        ParamInfo {
            name,
            shape,
            fan_in,
            init: InitRule::Uniform,
        }
    }

    fn constant(name: String, shape: Vec<u64>, init: InitRule) -> Self {
        ParamInfo {
            name,
            shape,
            fan_in: 1,
            init,
        }
    }

    /// Number of values.
    pub fn numel(&self) -> u64 {
        self.shape.iter().product()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MLP: &str = r#"{"kind":"mlp","input":[1,28,28],"hidden":[128,64],"classes":10}"#;
    const CNN: &str =
        r#"{"kind":"cnn","input":[1,28,28],"channels":[8,16],"kernel":3,"hidden":64,"classes":10}"#;

    fn names(spec: &ModelSpec) -> Vec<(String, Vec<u64>)> {
        spec.parameters()
            .into_iter()
            .map(|p| (p.name, p.shape))
            .collect()
    }

    #[test]
    fn parses_the_two_kinds_and_round_trips() {
        let mlp = ModelSpec::parse(MLP).unwrap();
        assert_eq!(
            mlp,
            ModelSpec::Mlp {
                input: vec![1, 28, 28],
                hidden: vec![128, 64],
                classes: 10
            }
        );
        assert_eq!(mlp.to_json(), MLP);
        let cnn = ModelSpec::parse(CNN).unwrap();
        assert_eq!(cnn.to_json(), CNN);
        assert_eq!(ModelSpec::parse(&cnn.to_json()).unwrap(), cnn);
        assert_eq!(mlp.input_len(), 784);
        assert_eq!(cnn.classes(), 10);
    }

    #[test]
    fn stable_parameter_names_and_shapes() {
        let mlp = ModelSpec::parse(MLP).unwrap();
        let expect: Vec<(String, Vec<u64>)> = vec![
            ("layers.0.weight".into(), vec![128, 784]),
            ("layers.0.bias".into(), vec![128]),
            ("layers.1.weight".into(), vec![64, 128]),
            ("layers.1.bias".into(), vec![64]),
            ("layers.2.weight".into(), vec![10, 64]),
            ("layers.2.bias".into(), vec![10]),
        ];
        assert_eq!(names(&mlp), expect);
        assert_eq!(
            mlp.parameter_count(),
            784 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10
        );

        let cnn = ModelSpec::parse(CNN).unwrap();
        let expect: Vec<(String, Vec<u64>)> = vec![
            ("conv.0.weight".into(), vec![8, 1, 3, 3]),
            ("conv.0.bias".into(), vec![8]),
            ("conv.1.weight".into(), vec![16, 8, 3, 3]),
            ("conv.1.bias".into(), vec![16]),
            ("layers.0.weight".into(), vec![64, 16 * 7 * 7]),
            ("layers.0.bias".into(), vec![64]),
            ("layers.1.weight".into(), vec![10, 64]),
            ("layers.1.bias".into(), vec![10]),
        ];
        assert_eq!(names(&cnn), expect);
    }

    const GPT: &str =
        r#"{"kind":"gpt","vocab":256,"block_size":128,"layers":2,"heads":4,"embed":64}"#;

    #[test]
    fn a_gpt_names_every_parameter_and_counts_them_as_gpt2_does() {
        let gpt = ModelSpec::parse(GPT).unwrap();
        assert_eq!(gpt.to_json(), GPT);
        assert_eq!(
            gpt.task(),
            Task::NextByte {
                block_size: 128,
                vocab: 256
            }
        );
        let params = names(&gpt);
        assert_eq!(params.len(), 2 + 2 * 12 + 2 + 1);
        assert_eq!(params[0], ("wte.weight".into(), vec![256, 64]));
        assert_eq!(params[1], ("wpe.weight".into(), vec![128, 64]));
        let block1: Vec<(String, Vec<u64>)> = vec![
            ("blocks.1.ln1.weight".into(), vec![64]),
            ("blocks.1.ln1.bias".into(), vec![64]),
            ("blocks.1.attn.qkv.weight".into(), vec![192, 64]),
            ("blocks.1.attn.qkv.bias".into(), vec![192]),
            ("blocks.1.attn.proj.weight".into(), vec![64, 64]),
            ("blocks.1.attn.proj.bias".into(), vec![64]),
            ("blocks.1.ln2.weight".into(), vec![64]),
            ("blocks.1.ln2.bias".into(), vec![64]),
            ("blocks.1.mlp.fc.weight".into(), vec![256, 64]),
            ("blocks.1.mlp.fc.bias".into(), vec![256]),
            ("blocks.1.mlp.proj.weight".into(), vec![64, 256]),
            ("blocks.1.mlp.proj.bias".into(), vec![64]),
        ];
        assert_eq!(&params[14..26], &block1[..]);
        assert_eq!(params[26].0, "ln_f.weight");
        assert_eq!(params[28], ("head.weight".into(), vec![256, 64]));
        // The checked count (used on untrusted specs) is the sum of the shapes.
        let summed: u64 = gpt.parameters().iter().map(ParamInfo::numel).sum();
        assert_eq!(gpt.parameter_count_checked(), Some(summed));
        assert_eq!(
            summed,
            2 * 256 * 64 + 128 * 64 + 2 * (12 * 64 * 64 + 13 * 64) + 2 * 64
        );
        let norms: Vec<InitRule> = gpt
            .parameters()
            .iter()
            .filter(|p| p.name.contains("ln"))
            .map(|p| p.init)
            .collect();
        assert_eq!(norms.len(), 10);
        assert!(norms
            .chunks(2)
            .all(|pair| pair == [InitRule::Ones, InitRule::Zeros]));
    }

    #[test]
    fn refuses_bad_gpt_specs() {
        let gpt = |vocab: u32, block: u32, layers: u32, heads: u32, embed: u32| {
            format!(
                r#"{{"kind":"gpt","vocab":{vocab},"block_size":{block},"layers":{layers},"heads":{heads},"embed":{embed}}}"#
            )
        };
        let cases = [
            (gpt(65, 128, 2, 4, 64), SpecError::BadVocab(65)),
            (
                gpt(256, 785, 2, 4, 64),
                SpecError::OutOfRange {
                    field: "block_size",
                    got: 785,
                    max: MAX_BLOCK_SIZE,
                },
            ),
            (
                gpt(256, 0, 2, 4, 64),
                SpecError::OutOfRange {
                    field: "block_size",
                    got: 0,
                    max: MAX_BLOCK_SIZE,
                },
            ),
            (
                gpt(256, 128, 17, 4, 64),
                SpecError::OutOfRange {
                    field: "layers",
                    got: 17,
                    max: 16,
                },
            ),
            (
                gpt(256, 128, 2, 0, 64),
                SpecError::OutOfRange {
                    field: "heads",
                    got: 0,
                    max: 64,
                },
            ),
            (
                gpt(256, 128, 2, 5, 64),
                SpecError::HeadsDoNotDivide {
                    embed: 64,
                    heads: 5,
                },
            ),
            (
                gpt(256, 784, 16, 16, 4096),
                SpecError::TooManyParameters {
                    count: 2 * 256 * 4096
                        + 784 * 4096
                        + 16 * (12 * 4096 * 4096 + 13 * 4096)
                        + 2 * 4096,
                    max: MAX_PARAMETERS,
                },
            ),
        ];
        for (json, want) in cases {
            assert_eq!(ModelSpec::parse(&json).unwrap_err(), want, "{json}");
        }
        let dropout = r#"{"kind":"gpt","vocab":256,"block_size":8,"layers":1,"heads":1,"embed":8,"dropout":0.1}"#;
        assert!(matches!(
            ModelSpec::parse(dropout).unwrap_err(),
            SpecError::Json(_)
        ));
    }

    #[test]
    fn refuses_bad_specs_with_clear_errors() {
        let cases: &[(&str, SpecError)] = &[
            (
                r#"{"kind":"mlp","input":[],"hidden":[4],"classes":10}"#,
                SpecError::EmptyInput,
            ),
            (
                r#"{"kind":"mlp","input":[0,28],"hidden":[4],"classes":10}"#,
                SpecError::Zero { field: "input" },
            ),
            (
                r#"{"kind":"mlp","input":[784],"hidden":[4,0],"classes":10}"#,
                SpecError::Zero { field: "hidden" },
            ),
            (
                r#"{"kind":"mlp","input":[784],"hidden":[4],"classes":1}"#,
                SpecError::TooFewClasses(1),
            ),
            (
                r#"{"kind":"cnn","input":[784],"channels":[4],"kernel":3,"hidden":8,"classes":10}"#,
                SpecError::CnnInputRank { got: 1 },
            ),
            (
                r#"{"kind":"cnn","input":[1,28,28],"channels":[],"kernel":3,"hidden":8,"classes":10}"#,
                SpecError::NoConvBlocks,
            ),
            (
                r#"{"kind":"cnn","input":[1,28,28],"channels":[4],"kernel":4,"hidden":8,"classes":10}"#,
                SpecError::BadKernel {
                    got: 4,
                    max: MAX_KERNEL,
                },
            ),
            (
                r#"{"kind":"cnn","input":[1,28,28],"channels":[2,2,2,2,2],"kernel":3,"hidden":8,"classes":10}"#,
                SpecError::SpatialTooSmall {
                    height: 28,
                    width: 28,
                    blocks: 5,
                },
            ),
            (
                r#"{"kind":"mlp","input":[100000,100000],"hidden":[1000],"classes":10}"#,
                SpecError::TooManyParameters {
                    count: 10_000_000_000_000 + 1000 + 1000 * 10 + 10,
                    max: MAX_PARAMETERS,
                },
            ),
            (
                r#"{"kind":"mlp","input":[4294967295,4294967295,4294967295],"hidden":[4294967295],"classes":10}"#,
                SpecError::TooManyParameters {
                    count: u64::MAX,
                    max: MAX_PARAMETERS,
                },
            ),
        ];
        for (json, want) in cases {
            assert_eq!(ModelSpec::parse(json).unwrap_err(), *want, "{json}");
        }
        for json in [
            r#"{"kind":"rnn","input":[784],"classes":10}"#,
            r#"{"kind":"mlp","input":[784],"hidden":[4],"classes":10,"dropout":0.5}"#,
            r#"{"kind":"mlp","input":[-1],"hidden":[4],"classes":10}"#,
            r#"{"input":[784],"hidden":[4],"classes":10}"#,
            "not json",
        ] {
            let err = ModelSpec::parse(json).unwrap_err();
            assert!(matches!(err, SpecError::Json(_)), "{json}: {err:?}");
            assert!(err.to_string().contains("model spec"), "{err}");
        }
    }
}

//! Model specs: the JSON that a model lineage stores on chain as a string.
//!
//! ```text
//! {"kind":"mlp","input":[1,28,28],"hidden":[128,64],"classes":10}
//! {"kind":"cnn","input":[1,28,28],"channels":[8,16],"kernel":3,"hidden":64,"classes":10}
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

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Largest number of parameters a spec may ask for (about 200 MB of f32).
pub const MAX_PARAMETERS: u64 = 50_000_000;
/// Largest number of hidden layers of an MLP or conv blocks of a CNN.
pub const MAX_LAYERS: usize = 16;
/// Largest conv kernel.
pub const MAX_KERNEL: u32 = 15;

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
}

/// Why a spec was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum SpecError {
    #[error("model spec is not valid JSON for a known kind (mlp, cnn): {0}")]
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
        }
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

    /// Number of values in one input sample (the product of `input`).
    pub fn input_len(&self) -> usize {
        self.input().iter().map(|&d| d as usize).product()
    }

    /// The `input` shape.
    pub fn input(&self) -> &[u32] {
        match self {
            ModelSpec::Mlp { input, .. } | ModelSpec::Cnn { input, .. } => input,
        }
    }

    /// Number of output logits.
    pub fn classes(&self) -> u32 {
        match self {
            ModelSpec::Mlp { classes, .. } | ModelSpec::Cnn { classes, .. } => *classes,
        }
    }

    /// Every parameter, in the canonical order: name and shape.
    /// Only meaningful for a validated spec.
    pub fn parameters(&self) -> Vec<ParamInfo> {
        let mut out = Vec::new();
        let linear = |out: &mut Vec<ParamInfo>, prefix: String, fan_in: u64, width: u64| {
            out.push(ParamInfo {
                name: format!("{prefix}.weight"),
                shape: vec![width, fan_in],
                fan_in,
            });
            out.push(ParamInfo {
                name: format!("{prefix}.bias"),
                shape: vec![width],
                fan_in,
            });
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
                    out.push(ParamInfo {
                        name: format!("conv.{i}.weight"),
                        shape: vec![u64::from(c_out), c_in, k, k],
                        fan_in,
                    });
                    out.push(ParamInfo {
                        name: format!("conv.{i}.bias"),
                        shape: vec![u64::from(c_out)],
                        fan_in,
                    });
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
            ModelSpec::Mlp { .. } => (1, 1),
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
        }
        Some(total)
    }
}

/// One parameter of a model: its stable name, shape and fan-in (for init).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamInfo {
    /// Stable name, e.g. `layers.0.weight`.
    pub name: String,
    /// Shape, outermost first.
    pub shape: Vec<u64>,
    /// Inputs feeding each output unit (for the weight and the bias of a layer alike).
    pub fan_in: u64,
}

impl ParamInfo {
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

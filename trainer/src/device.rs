//! Choosing the compute device by name (`--device auto|cpu|cuda`) and naming
//! it in answers ("cpu", "cuda:0").

use std::str::FromStr;

use tch::Device;
use thiserror::Error;

/// What the operator asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    /// CUDA device 0 when libtorch sees one, the CPU otherwise.
    #[default]
    Auto,
    /// The CPU, even when a GPU is present (bit-exact across CPU verifiers).
    Cpu,
    /// CUDA device 0; refused when libtorch sees no GPU.
    Cuda,
}

/// The device name is not one of `auto`, `cpu`, `cuda`, or CUDA is missing.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DeviceError {
    #[error("unknown device {0:?}: use auto, cpu or cuda")]
    Unknown(String),
    #[error("--device cuda, but libtorch sees no CUDA device")]
    NoCuda,
}

impl FromStr for DeviceChoice {
    type Err = DeviceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(DeviceChoice::Auto),
            "cpu" => Ok(DeviceChoice::Cpu),
            "cuda" | "gpu" => Ok(DeviceChoice::Cuda),
            _ => Err(DeviceError::Unknown(s.to_string())),
        }
    }
}

impl DeviceChoice {
    /// The device to compute on.
    pub fn resolve(self) -> Result<Device, DeviceError> {
        match self {
            DeviceChoice::Auto => Ok(crate::default_device()),
            DeviceChoice::Cpu => Ok(Device::Cpu),
            DeviceChoice::Cuda if tch::Cuda::is_available() => Ok(Device::Cuda(0)),
            DeviceChoice::Cuda => Err(DeviceError::NoCuda),
        }
    }
}

/// "cpu", "cuda:0", … as the Trainer service reports devices.
pub fn device_name(device: Device) -> String {
    match device {
        Device::Cpu => "cpu".to_string(),
        Device::Cuda(i) => format!("cuda:{i}"),
        other => format!("{other:?}").to_ascii_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_resolves_the_cpu() {
        assert_eq!("auto".parse(), Ok(DeviceChoice::Auto));
        assert_eq!("CPU".parse(), Ok(DeviceChoice::Cpu));
        assert_eq!("cuda".parse(), Ok(DeviceChoice::Cuda));
        assert_eq!(
            "tpu".parse::<DeviceChoice>(),
            Err(DeviceError::Unknown("tpu".into()))
        );
        assert_eq!(DeviceChoice::Cpu.resolve(), Ok(Device::Cpu));
        assert_eq!(
            DeviceChoice::Cuda.resolve().is_ok(),
            tch::Cuda::is_available()
        );
        assert_eq!(device_name(Device::Cpu), "cpu");
        assert_eq!(device_name(Device::Cuda(1)), "cuda:1");
    }
}

// Process-wide libtorch switches that tch does not expose.
#include <ATen/Context.h>
#include <torch/headeronly/version.h>

// Same as `torch.backends.mkldnn.enabled = False`: CPU convolutions use
// PyTorch's native kernels (im2col + BLAS), whose results do not depend on
// the number of intra-op threads; oneDNN's convolution gradients do.
extern "C" void um_trainer_disable_mkldnn() {
  at::globalContext().setUserEnabledMkldnn(false);
}

extern "C" int um_trainer_mkldnn_enabled() {
  return at::globalContext().userEnabledMkldnn() ? 1 : 0;
}

// The libtorch version these bindings were compiled against (a literal from
// its headers; torch-sys refuses to build against any other version).
extern "C" const char* um_trainer_torch_version() { return TORCH_VERSION; }

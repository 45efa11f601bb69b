// The element-wise steps of a transformer layer (RMSNorm, SwiGLU),
// vectorized for every Highway target and chosen at run time. At 512 prompt
// tokens the scalar loops (an expf call per feed-forward element) took about
// 4% of a prefill, on one thread while the others waited.
#pragma once

#include <cstdint>

namespace arkv {

// y = x / sqrt(mean(x^2) + eps) * w over n values; the sum of squares in
// double, as ggml's rms_norm. y may be x.
void RmsNorm(const float* x, const float* w, float* y, int64_t n, float eps);

// gate[i] = silu(gate[i]) * up[i] = gate[i] / (1 + exp(-gate[i])) * up[i].
void SwiGlu(float* gate, const float* up, int64_t n);

}  // namespace arkv

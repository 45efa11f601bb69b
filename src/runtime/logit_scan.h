// Scans of a row of logits that every sampled token pays for (128K logits per
// token for a Llama 3 vocabulary), vectorized with Highway.
#pragma once

#include <cstdint>

namespace arkv {

// Index of the first logit that is NaN or +infinity, or n when there is none.
int64_t FirstUnsampleableLogit(const float* logits, int64_t n);

// Index of the largest logit, the lowest index winning ties; a NaN never
// compares larger (a NaN at index 0 stays the answer).
int32_t Argmax(const float* logits, int n);

}  // namespace arkv

// The weight types of GGUF files, with ggml's numeric ids and block layouts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace arkv {

// Values are ggml's `enum ggml_type` ids as stored in GGUF files.
enum class GgmlType : uint32_t {
  kF32 = 0, kF16 = 1, kQ4_0 = 2, kQ4_1 = 3, kQ5_0 = 6, kQ5_1 = 7, kQ8_0 = 8, kQ8_1 = 9,
  kQ2_K = 10, kQ3_K = 11, kQ4_K = 12, kQ5_K = 13, kQ6_K = 14, kQ8_K = 15,
  kIQ2_XXS = 16, kIQ2_XS = 17, kIQ3_XXS = 18, kIQ1_S = 19, kIQ4_NL = 20, kIQ3_S = 21,
  kIQ2_S = 22, kIQ4_XS = 23, kI8 = 24, kI16 = 25, kI32 = 26, kI64 = 27, kF64 = 28,
  kIQ1_M = 29, kBF16 = 30, kTQ1_0 = 34, kTQ2_0 = 35, kMXFP4 = 39,
};

struct TypeTraits {
  std::string_view name;   // "q4_K", as ggml names it; "type#N" for unknown ids
  int64_t block_size = 0;  // elements per block (1 for plain types)
  size_t type_size = 0;    // bytes per block
  bool known = false;      // a type id ggml defines (so the GGUF size is computable)
  bool supported = false;  // a type arkv can compute with
};

// Traits of any uint32 type id (unknown ids give known == false).
TypeTraits GetTypeTraits(uint32_t type_id);
inline TypeTraits GetTypeTraits(GgmlType t) { return GetTypeTraits(static_cast<uint32_t>(t)); }

// Bytes of a row of n elements; n must be a multiple of the block size.
size_t RowBytes(GgmlType t, int64_t n);

// The `general.file_type` of a file whose weight matrices are all of type t:
// llama.cpp's `enum llama_ftype` (ALL_F32 = 0, MOSTLY_F16 = 1, MOSTLY_Q4_0 = 2,
// MOSTLY_Q8_0 = 7, MOSTLY_BF16 = 32, ...), with the name llama.cpp guesses
// for the k-quants (Q4_K -> MOSTLY_Q4_K_M = 15). nullopt for types without one.
std::optional<uint32_t> LlamaFileType(GgmlType t);

}  // namespace arkv

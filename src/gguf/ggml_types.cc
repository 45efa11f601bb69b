#include "gguf/ggml_types.h"

#include <array>
#include <string>

#include "core/error.h"

namespace arkv {
namespace {

struct Entry {
  uint32_t id;
  std::string_view name;
  int64_t block_size;
  size_t type_size;
  bool supported;
};

// Block sizes and bytes per block of every type ggml defines (ggml.c's
// type_traits table). QK_K = 256. Ids 4, 5 and 31-33, 36-38 were removed
// from ggml; 40 and above are newer than this table and rejected as unknown.
constexpr std::array kTypes = {
    Entry{0, "f32", 1, 4, true},          Entry{1, "f16", 1, 2, true},
    Entry{2, "q4_0", 32, 18, true},       Entry{3, "q4_1", 32, 20, false},
    Entry{6, "q5_0", 32, 22, false},      Entry{7, "q5_1", 32, 24, false},
    Entry{8, "q8_0", 32, 34, true},       Entry{9, "q8_1", 32, 36, false},
    Entry{10, "q2_K", 256, 84, false},    Entry{11, "q3_K", 256, 110, false},
    Entry{12, "q4_K", 256, 144, true},    Entry{13, "q5_K", 256, 176, true},
    Entry{14, "q6_K", 256, 210, true},    Entry{15, "q8_K", 256, 292, false},
    Entry{16, "iq2_xxs", 256, 66, false}, Entry{17, "iq2_xs", 256, 74, false},
    Entry{18, "iq3_xxs", 256, 98, false}, Entry{19, "iq1_s", 256, 50, false},
    Entry{20, "iq4_nl", 32, 18, false},   Entry{21, "iq3_s", 256, 110, false},
    Entry{22, "iq2_s", 256, 82, false},   Entry{23, "iq4_xs", 256, 136, false},
    Entry{24, "i8", 1, 1, false},         Entry{25, "i16", 1, 2, false},
    Entry{26, "i32", 1, 4, false},        Entry{27, "i64", 1, 8, false},
    Entry{28, "f64", 1, 8, false},        Entry{29, "iq1_m", 256, 56, false},
    Entry{30, "bf16", 1, 2, true},        Entry{34, "tq1_0", 256, 54, false},
    Entry{35, "tq2_0", 256, 66, false},   Entry{39, "mxfp4", 32, 17, false},
};

}  // namespace

TypeTraits GetTypeTraits(uint32_t type_id) {
  for (const Entry& e : kTypes) {
    if (e.id == type_id) return TypeTraits{e.name, e.block_size, e.type_size, true, e.supported};
  }
  static thread_local std::string unknown;
  unknown = "type#" + std::to_string(type_id);
  return TypeTraits{unknown, 0, 0, false, false};
}

size_t RowBytes(GgmlType t, int64_t n) {
  const TypeTraits tr = GetTypeTraits(t);
  if (!tr.known) Fail("unknown tensor type {}", tr.name);
  if (n < 0 || n % tr.block_size != 0) {
    Fail("row of {} elements is not a multiple of the {} block size {}", n, tr.name, tr.block_size);
  }
  return static_cast<size_t>(n / tr.block_size) * tr.type_size;
}

std::optional<uint32_t> LlamaFileType(GgmlType t) {
  switch (t) {
    case GgmlType::kF32:
      return 0;
    case GgmlType::kF16:
      return 1;
    case GgmlType::kQ4_0:
      return 2;
    case GgmlType::kQ4_1:
      return 3;
    case GgmlType::kQ8_0:
      return 7;
    case GgmlType::kQ5_0:
      return 8;
    case GgmlType::kQ5_1:
      return 9;
    case GgmlType::kQ2_K:
      return 10;
    case GgmlType::kQ3_K:
      return 12;  // MOSTLY_Q3_K_M
    case GgmlType::kQ4_K:
      return 15;  // MOSTLY_Q4_K_M
    case GgmlType::kQ5_K:
      return 17;  // MOSTLY_Q5_K_M
    case GgmlType::kQ6_K:
      return 18;
    case GgmlType::kBF16:
      return 32;
    default:
      return std::nullopt;
  }
}

}  // namespace arkv

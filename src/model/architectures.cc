#include "model/architectures.h"

namespace arkv {
namespace {

constexpr Architecture kArchitectures[] = {
    {"llama", RopeStyle::kNorm, false, false, BindLlamaWeights},
    {"qwen2", RopeStyle::kNeox, false, true, BindQwen2Weights},
    {"qwen3", RopeStyle::kNeox, true, false, BindQwen3Weights},
};

}  // namespace

const Architecture* FindArchitecture(std::string_view name) {
  for (const Architecture& a : kArchitectures) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

std::string ArchitectureNames() {
  std::string names;
  for (const Architecture& a : kArchitectures) {
    names += (names.empty() ? "" : ", ") + std::string(a.name);
  }
  return names;
}

}  // namespace arkv

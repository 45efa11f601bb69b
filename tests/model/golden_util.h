// Reading the golden reference files of ../shared/golden (see its README).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/compare.h"

namespace arkv::testing {

inline std::string SharedPath(const std::string& rel) { return std::string(ARKV_SHARED_DIR) + "/" + rel; }
inline bool SharedExists(const std::string& rel) { return std::filesystem::exists(SharedPath(rel)); }

inline std::vector<float> ReadF32(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<float> v(bytes.size() / sizeof(float));
  std::memcpy(v.data(), bytes.data(), v.size() * sizeof(float));
  return v;
}

inline std::vector<int32_t> ReadIds(const std::string& path) {
  std::ifstream in(path);
  std::vector<int32_t> ids;
  int64_t v;
  while (in >> v) ids.push_back(static_cast<int32_t>(v));
  return ids;
}

struct Diff {
  MaxAbsDiff max_abs;  // fails Within() on any non-finite logit
  double argmax_agreement = 1.0;
};

// Max |a-b| over all entries and the share of rows with the same argmax.
inline Diff CompareLogits(const float* a, const float* b, size_t rows, size_t n_vocab) {
  Diff d;
  size_t same = 0;
  for (size_t r = 0; r < rows; ++r) {
    size_t ia = 0, ib = 0;
    for (size_t i = 0; i < n_vocab; ++i) {
      const double x = a[r * n_vocab + i], y = b[r * n_vocab + i];
      d.max_abs.Add(x, y);
      if (x > a[r * n_vocab + ia]) ia = i;
      if (y > b[r * n_vocab + ib]) ib = i;
    }
    same += ia == ib;
  }
  d.argmax_agreement = rows ? static_cast<double>(same) / rows : 1.0;
  return d;
}

}  // namespace arkv::testing

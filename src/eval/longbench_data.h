// LongBench's released data: one JSON-lines file per dataset
// ({name}.jsonl, LongBench-E's as {name}_e.jsonl), as in the data.zip of the
// Hugging Face dataset repository THUDM/LongBench, read from a folder or
// downloaded once into the cache and unpacked.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "hub/hub.h"

namespace arkv::eval {

struct LongBenchSample {
  std::string id;  // "_id"
  std::string input;
  std::string context;
  std::vector<std::string> answers;
  std::vector<std::string> all_classes;  // empty when null
  int64_t length = 0;                    // words (en, code) or characters (zh)
};

// The first `max_samples` samples (all when <= 0) of a JSON-lines file.
// Throws arkv::Error naming the file and line of a malformed record.
std::vector<LongBenchSample> ReadLongBenchJsonl(const std::string& path, int max_samples);

// {dir}/{dataset}.jsonl, else {dir}/data/{dataset}.jsonl (the archive's
// layout). Throws arkv::Error naming both paths when neither exists.
std::string LongBenchFilePath(const std::string& dir, std::string_view dataset);

// The dataset repository and archive LongBench publishes.
inline constexpr std::string_view kLongBenchRepo = "THUDM/LongBench";
inline constexpr std::string_view kLongBenchArchive = "data.zip";

// Downloads data.zip from the Hugging Face dataset repository `repo` (once:
// cached under {cache}/datasets/) and unpacks it next to itself; returns the
// folder holding the .jsonl files. Offline, a previous download is used.
std::string EnsureLongBenchData(std::string_view repo, const hub::DownloadOptions& options);

}  // namespace arkv::eval

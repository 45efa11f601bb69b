#include "eval/longbench_data.h"

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/log.h"
#include "hub/archive.h"

namespace arkv::eval {
namespace fs = std::filesystem;
namespace {

std::vector<std::string> StringList(const nlohmann::json& value, std::string_view field,
                                    const std::string& where) {
  std::vector<std::string> out;
  if (value.is_null()) {
    return out;
  }
  if (!value.is_array()) {
    Fail("{}: field '{}' is not a list", where, field);
  }
  for (const nlohmann::json& v : value) {
    if (!v.is_string()) {
      Fail("{}: field '{}' holds a value that is not a string", where, field);
    }
    out.push_back(v.get<std::string>());
  }
  return out;
}

std::string StringField(const nlohmann::json& record, const char* field, const std::string& where) {
  const auto it = record.find(field);
  if (it == record.end() || !it->is_string()) {
    Fail("{}: field '{}' is missing or not a string", where, field);
  }
  return it->get<std::string>();
}

}  // namespace

std::vector<LongBenchSample> ReadLongBenchJsonl(const std::string& path, int max_samples) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    Fail("cannot open LongBench file {}", path);
  }
  std::vector<LongBenchSample> samples;
  std::string line;
  for (int line_no = 1; std::getline(in, line); ++line_no) {
    if (max_samples > 0 && static_cast<int>(samples.size()) >= max_samples) {
      break;
    }
    if (line.find_first_not_of(" \t\r") == std::string::npos) {
      continue;
    }
    const std::string where = fmt::format("{}:{}", path, line_no);
    const nlohmann::json record = nlohmann::json::parse(line, nullptr, false);
    if (!record.is_object()) {
      Fail("{}: not a JSON object", where);
    }
    LongBenchSample s;
    s.input = StringField(record, "input", where);
    s.context = StringField(record, "context", where);
    s.id = record.contains("_id") && record["_id"].is_string() ? record["_id"].get<std::string>()
                                                               : fmt::format("line{}", line_no);
    s.answers = StringList(record.value("answers", nlohmann::json()), "answers", where);
    if (s.answers.empty()) {
      Fail("{}: field 'answers' is missing or empty", where);
    }
    s.all_classes = StringList(record.value("all_classes", nlohmann::json()), "all_classes", where);
    if (const auto it = record.find("length"); it != record.end() && it->is_number()) {
      s.length = it->get<int64_t>();
    }
    samples.push_back(std::move(s));
  }
  return samples;
}

std::string LongBenchFilePath(const std::string& dir, std::string_view dataset) {
  const fs::path direct = fs::path(dir) / (std::string(dataset) + ".jsonl");
  const fs::path nested = fs::path(dir) / "data" / (std::string(dataset) + ".jsonl");
  std::error_code ec;
  if (fs::is_regular_file(direct, ec)) {
    return direct.string();
  }
  if (fs::is_regular_file(nested, ec)) {
    return nested.string();
  }
  Fail("LongBench dataset {} not found: neither {} nor {} exists", dataset, direct.string(),
       nested.string());
}

std::string EnsureLongBenchData(std::string_view repo, const hub::DownloadOptions& options) {
  const std::string archive = hub::ResolveDatasetFile(repo, kLongBenchArchive, options);
  const fs::path folder = fs::path(archive).parent_path() / "unpacked";
  const fs::path marker = folder / ".arkv-unpacked";
  std::error_code ec;
  // Unpacked again whenever the archive is newer than the last unpacking.
  if (!fs::exists(marker, ec) ||
      fs::last_write_time(marker, ec) < fs::last_write_time(archive, ec)) {
    Log(LogLevel::kInfo, "unpacking {} into {}", archive, folder.string());
    const int files = hub::ExtractArchive(archive, folder.string());
    if (files == 0) {
      Fail("{} holds no file", archive);
    }
    std::ofstream(marker) << files << "\n";
  }
  return folder.string();
}

}  // namespace arkv::eval

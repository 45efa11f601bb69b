#include "hub/hub.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <optional>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/log.h"
#include "core/strings.h"
#include "hub/download.h"
#include "hub/http.h"

namespace arkv::hub {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kDefaultEndpoint = "https://huggingface.co";
constexpr int kMaxListingPages = 100;
constexpr size_t kMaxFilesInMessage = 30;

std::string GetEnv(const char* name) {
  const char* value = std::getenv(name);
  return value ? std::string(value) : std::string();
}

std::string HomeDir() {
  std::string home = GetEnv("HOME");
  if (home.empty()) {
    if (const passwd* pw = ::getpwuid(::getuid()); pw && pw->pw_dir) home = pw->pw_dir;
  }
  if (home.empty()) Fail("cannot find a cache folder: set ARKV_CACHE_DIR (HOME is not set)");
  return home;
}

bool IsTruthy(std::string_view value) {
  return value == "1" || value == "true" || value == "TRUE" || value == "yes" || value == "ON" ||
         value == "on";
}

std::string BaseName(std::string_view path) {
  const size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

// True if the file name carries `quant` as a whole tag: "model-Q4_K_M.gguf" and
// "model.q4_k_m.gguf" carry Q4_K_M, "model-Q4_K_M.gguf" does not carry Q4_K.
bool CarriesQuant(std::string_view path, std::string_view quant) {
  std::string name = ToLower(BaseName(path));
  name.resize(name.size() - std::min<size_t>(name.size(), 5));  // drop ".gguf"
  const std::string tag = ToLower(quant);
  for (size_t pos = name.find(tag); pos != std::string::npos; pos = name.find(tag, pos + 1)) {
    const bool starts = pos == 0 || !std::isalnum(static_cast<unsigned char>(name[pos - 1]));
    const size_t end = pos + tag.size();
    const bool ends = end == name.size() || name[end] == '-' || name[end] == '.';
    if (starts && ends) return true;
  }
  return false;
}

// "model-00001-of-00003.gguf" -> 3; 1 for a file that is not split.
int SplitCount(std::string_view path) {
  const std::string name = ToLower(BaseName(path));
  const size_t of = name.rfind("-of-");
  if (of == std::string::npos || of < 6 || name.size() < of + 4 + 5 + 5) return 1;
  const std::string count = name.substr(of + 4, 5);
  if (!std::all_of(count.begin(), count.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return 1;
  }
  return std::max(1, std::stoi(count));
}

std::string ListForMessage(const std::vector<std::string>& files) {
  if (files.empty()) return "(no files)";
  std::string text;
  for (size_t i = 0; i < files.size() && i < kMaxFilesInMessage; ++i) {
    text += (i ? ", " : "") + files[i];
  }
  if (files.size() > kMaxFilesInMessage) {
    text += fmt::format(" and {} more", files.size() - kMaxFilesInMessage);
  }
  return text;
}

// The URL in `Link: <URL>; rel="next"`, or "".
std::string NextPageUrl(const std::string& link) {
  const size_t rel = link.find("rel=\"next\"");
  if (rel == std::string::npos) return "";
  const size_t open = link.rfind('<', rel);
  const size_t close = link.find('>', open);
  if (open == std::string::npos || close == std::string::npos || close > rel) return "";
  return link.substr(open + 1, close - open - 1);
}

// Complete .gguf files of the repo in the cache, relative to its folder.
std::vector<std::string> CachedGgufFiles(const std::string& repo_dir) {
  std::vector<std::string> files;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(repo_dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file() || !EndsWithIgnoreCase(it->path().string(), ".gguf")) continue;
    if (IsCompleteInCache(it->path().string())) {
      files.push_back(fs::relative(it->path(), repo_dir).generic_string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string ChooseCachedFile(const HfSpec& spec, const std::string& repo_dir) {
  const std::vector<std::string> cached = CachedGgufFiles(repo_dir);
  if (cached.empty()) {
    Fail(
        "{} is not in the cache ({} holds no downloaded .gguf); run once without offline mode "
        "to download it",
        spec.repo, repo_dir);
  }
  return ChooseGgufFile(cached, spec.quant, spec.repo);
}

// The cached copy of `url` at `dest`: downloaded (resumed, checked) unless
// offline, where only a complete cached file will do. `label` names the file
// in messages and the progress bar.
std::string FetchIntoCache(const std::string& url, const std::string& dest,
                           const std::string& label, const DownloadOptions& opts) {
  if (opts.offline) {
    if (!IsCompleteInCache(dest)) {
      Fail(
          "offline mode: {} is not in the cache (looked for {}); run without offline mode to "
          "download it",
          label, dest);
    }
    return dest;
  }
  FileDownloadRequest request;
  request.url = url;
  request.dest = dest;
  request.label = label;
  request.token = opts.token;
  request.progress = opts.progress && (opts.force_progress || ::isatty(STDERR_FILENO));
  request.max_retries = opts.max_retries;
  request.retry_delay = opts.retry_delay;
  DownloadFile(request);
  return dest;
}

}  // namespace

DownloadOptions ResolveDefaults(DownloadOptions options) {
  if (options.endpoint.empty()) options.endpoint = GetEnv("HF_ENDPOINT");
  if (options.endpoint.empty()) options.endpoint = kDefaultEndpoint;
  while (options.endpoint.ends_with('/')) options.endpoint.pop_back();
  if (options.cache_dir.empty()) options.cache_dir = GetEnv("ARKV_CACHE_DIR");
  if (options.cache_dir.empty()) {
    const std::string xdg = GetEnv("XDG_CACHE_HOME");
    options.cache_dir = xdg.empty() ? HomeDir() + "/.cache/arkv" : xdg + "/arkv";
  }
  if (options.token.empty()) options.token = GetEnv("HF_TOKEN");
  if (IsTruthy(GetEnv("HF_HUB_OFFLINE"))) options.offline = true;
  return options;
}

DownloadOptions DownloadOptions::FromEnvironment() { return ResolveDefaults(DownloadOptions{}); }

std::string RepoCacheDir(const std::string& cache_dir, std::string_view repo) {
  const size_t slash = repo.find('/');
  if (slash == std::string_view::npos) Fail("repo id '{}' has no owner", repo);
  const std::string folder = fmt::format("{}__{}", repo.substr(0, slash), repo.substr(slash + 1));
  return (fs::path(cache_dir) / folder).string();
}

std::vector<std::string> ListRepoFiles(const HfSpec& spec, const DownloadOptions& options) {
  const DownloadOptions opts = ResolveDefaults(options);
  const std::string what = fmt::format("cannot list the files of {}", spec.repo);
  std::string url = fmt::format("{}/api/models/{}/tree/{}?recursive=true", opts.endpoint, spec.repo,
                                UrlEncode(spec.revision, false));
  std::vector<std::string> files;
  for (int page = 0; !url.empty(); ++page) {
    if (page == kMaxListingPages) Fail("{}: more than {} pages of files", what, kMaxListingPages);
    HttpRequest request;
    request.url = url;
    // The token goes to the endpoint only, even if a next-page link points elsewhere.
    if (!opts.token.empty() && UrlHost(url) == UrlHost(opts.endpoint)) {
      request.headers.push_back("Authorization: Bearer " + opts.token);
    }
    HttpResponse response;
    try {
      response = HttpGet(request);
    } catch (const TransferError& e) {
      if (e.unreachable()) FailUnreachable(e, what);
      Fail("{}: {}", what, e.what());
    }
    if (response.status != 200) FailHttpStatus(response, what, !opts.token.empty());

    const nlohmann::json json = nlohmann::json::parse(response.body, nullptr, false);
    if (!json.is_array()) {
      Fail("{}: {} answered with something other than a JSON array of files: '{}'", what,
           UrlHost(url), response.body.substr(0, 200));
    }
    for (const nlohmann::json& entry : json) {
      if (!entry.is_object() || !entry.contains("path") || !entry["path"].is_string()) {
        Fail("{}: malformed entry in the file listing: {}", what, entry.dump().substr(0, 200));
      }
      if (entry.value("type", "file") == "file") files.push_back(entry["path"].get<std::string>());
    }
    url = NextPageUrl(response.Header("link"));
  }
  return files;
}

std::string ChooseGgufFile(const std::vector<std::string>& files, std::string_view quant,
                           std::string_view repo) {
  std::vector<std::string> models;
  for (const std::string& file : files) {
    if (EndsWithIgnoreCase(file, ".gguf") &&
        ToLower(BaseName(file)).find("mmproj") == std::string::npos) {
      models.push_back(file);
    }
  }
  // Sorted, so that the first part of a split model comes first.
  std::sort(models.begin(), models.end());
  if (models.empty())
    Fail("{} has no .gguf model file; its files: {}", repo, ListForMessage(files));

  auto first_carrying = [&](std::string_view tag) -> std::optional<std::string> {
    for (const std::string& model : models) {
      if (CarriesQuant(model, tag)) return model;
    }
    return std::nullopt;
  };
  std::optional<std::string> chosen;
  if (!quant.empty()) {
    chosen = first_carrying(quant);
    if (!chosen) {
      Fail("{} has no .gguf file with quantization {}; its .gguf files: {}", repo, quant,
           ListForMessage(models));
    }
  } else {
    for (std::string_view preferred : {"Q4_K_M", "Q8_0"}) {
      if ((chosen = first_carrying(preferred))) break;
    }
    if (!chosen) chosen = models.front();
  }
  if (const int parts = SplitCount(*chosen); parts > 1) {
    Fail(
        "{}: {} is split into {} files, which arkv cannot load yet; choose a single-file .gguf "
        "with OWNER/REPO:FILE.gguf (its .gguf files: {})",
        repo, *chosen, parts, ListForMessage(models));
  }
  return *chosen;
}

std::string ResolveModel(std::string_view spec, const DownloadOptions& options) {
  return ResolveModel(ParseHfSpec(spec), options);
}

std::string ResolveModel(const HfSpec& spec, const DownloadOptions& options) {
  const DownloadOptions opts = ResolveDefaults(options);
  const std::string repo_dir = RepoCacheDir(opts.cache_dir, spec.repo);

  std::string file = spec.file;
  if (file.empty()) {
    if (opts.offline) {
      file = ChooseCachedFile(spec, repo_dir);
    } else {
      try {
        file = ChooseGgufFile(ListRepoFiles(spec, opts), spec.quant, spec.repo);
      } catch (const Error& e) {
        // Without the network, a model downloaded before still does.
        if (CachedGgufFiles(repo_dir).empty()) throw;
        file = ChooseCachedFile(spec, repo_dir);
        Log(LogLevel::kWarn, "warning: {}; using the cached {}", e.what(), file);
      }
    }
  }
  if (!IsSafeRelativePath(file)) {
    Fail("{}: refusing file name '{}' that would leave the cache folder", spec.repo, file);
  }

  return FetchIntoCache(fmt::format("{}/{}/resolve/{}/{}", opts.endpoint, spec.repo,
                                    UrlEncode(spec.revision, false), UrlEncode(file, true)),
                        (fs::path(repo_dir) / file).string(), spec.repo + "/" + file, opts);
}

std::string ResolveDatasetFile(std::string_view repo, std::string_view file,
                               const DownloadOptions& options, std::string_view revision) {
  const DownloadOptions opts = ResolveDefaults(options);
  if (repo.find('/') == std::string_view::npos) Fail("dataset repo '{}' has no owner", repo);
  if (!IsSafeRelativePath(file)) {
    Fail("{}: refusing file name '{}' that would leave the cache folder", repo, file);
  }
  const std::string dest =
      (fs::path(RepoCacheDir((fs::path(opts.cache_dir) / "datasets").string(), repo)) / file)
          .string();
  return FetchIntoCache(fmt::format("{}/datasets/{}/resolve/{}/{}", opts.endpoint, repo,
                                    UrlEncode(revision, false), UrlEncode(file, true)),
                        dest, fmt::format("datasets/{}/{}", repo, file), opts);
}

}  // namespace arkv::hub

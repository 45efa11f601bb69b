// Model download from the Hugging Face Hub: `arkv generate --hf OWNER/REPO[:FILE.gguf]`.
//
// ResolveModel turns a spec into a local GGUF path, downloading into a cache
// folder on first use:
//   {cache_dir}/{owner}__{name}/{file}            the verified file
//   {cache_dir}/{owner}__{name}/{file}.arkv.json  its ETag, SHA-256 and size
//   {cache_dir}/{owner}__{name}/{file}.part       an unfinished download, resumed next time
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "hub/hf_spec.h"

namespace arkv::hub {

struct DownloadOptions {
  std::string endpoint;   // empty: $HF_ENDPOINT, else https://huggingface.co
  std::string cache_dir;  // empty: $ARKV_CACHE_DIR, else $XDG_CACHE_HOME/arkv, else ~/.cache/arkv
  std::string token;      // empty: $HF_TOKEN; sent as "Authorization: Bearer"
  bool progress = true;   // progress bar on stderr when stderr is a terminal...
  bool force_progress = false;                  // ...or always
  bool offline = false;                         // use the cache only (also when $HF_HUB_OFFLINE=1)
  int max_retries = 3;                          // extra attempts after an interrupted transfer
  std::chrono::milliseconds retry_delay{1000};  // doubled after each retry

  // Options with every default taken from the environment as described above.
  static DownloadOptions FromEnvironment();
};

// `options` with its empty fields filled from the environment.
DownloadOptions ResolveDefaults(DownloadOptions options);

// The cache folder of one repo: {cache_dir}/{owner}__{name}.
std::string RepoCacheDir(const std::string& cache_dir, std::string_view repo);

// Every file path in the repo at the revision (GET {endpoint}/api/models/{repo}/tree/{revision}).
std::vector<std::string> ListRepoFiles(const HfSpec& spec, const DownloadOptions& options);

// Picks the model file among `files` the way llama.cpp does: only .gguf files
// that are not multimodal projectors (mmproj); with a quant tag, the first one
// whose name carries that tag; otherwise Q4_K_M, then Q8_0, then the first.
// Throws arkv::Error listing the files when nothing fits.
std::string ChooseGgufFile(const std::vector<std::string>& files, std::string_view quant,
                           std::string_view repo);

// Returns a local path to the GGUF named by `spec` (see ParseHfSpec),
// downloading and verifying it unless a complete copy is cached.
std::string ResolveModel(std::string_view spec, const DownloadOptions& options);
std::string ResolveModel(const HfSpec& spec, const DownloadOptions& options);

// Returns a local path to `file` of the Hugging Face *dataset* repository
// `repo` ({endpoint}/datasets/{repo}/resolve/{revision}/{file}), downloaded
// and verified into {cache_dir}/datasets/{owner}__{name}/ unless a complete
// copy is cached there. Offline, only the cache is used.
std::string ResolveDatasetFile(std::string_view repo, std::string_view file,
                               const DownloadOptions& options, std::string_view revision = "main");

}  // namespace arkv::hub

// Parsing of Hugging Face model specs as given to `--hf`.
#pragma once

#include <string>
#include <string_view>

namespace arkv::hub {

// One model on the Hugging Face Hub. `file` and `quant` are mutually
// exclusive; when both are empty the file is chosen from the repo listing.
struct HfSpec {
  std::string repo;   // "owner/name"
  std::string file;   // path of a .gguf inside the repo, may contain folders
  std::string quant;  // quantization tag such as "Q4_K_M" (llama.cpp's `repo:tag` form)
  std::string revision = "main";
};

// Parses "OWNER/REPO", "OWNER/REPO:FILE.gguf" or "OWNER/REPO:QUANT" (for
// example "bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M"). Throws arkv::Error
// naming what is wrong with a malformed spec.
HfSpec ParseHfSpec(std::string_view spec);

// True if `path` is a relative path that stays inside its root: no empty,
// "." or ".." components, no backslashes or control characters.
bool IsSafeRelativePath(std::string_view path);

}  // namespace arkv::hub

#include "hub/hf_spec.h"

#include <cctype>

#include "core/error.h"
#include "core/strings.h"

namespace arkv::hub {
namespace {

constexpr std::string_view kSpecFormat =
    "expected OWNER/REPO, OWNER/REPO:FILE.gguf or OWNER/REPO:QUANT";

// Hub repo ids: letters, digits, '-', '_' and '.', at most 96 characters per
// part, not starting or ending with '-' or '.', and no "--" or "..".
void ValidateRepoPart(std::string_view part, std::string_view what, std::string_view spec) {
  if (part.empty()) Fail("malformed model spec '{}': {} is empty ({})", spec, what, kSpecFormat);
  if (part.size() > 96)
    Fail("malformed model spec '{}': {} is longer than 96 characters", spec, what);
  for (char c : part) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
    if (!ok) {
      Fail(
          "malformed model spec '{}': {} '{}' contains '{}' (allowed: letters, digits, '-', '_', "
          "'.')",
          spec, what, part, c);
    }
  }
  if (part.front() == '-' || part.front() == '.' || part.back() == '-' || part.back() == '.' ||
      part.find("--") != std::string_view::npos || part.find("..") != std::string_view::npos) {
    Fail(
        "malformed model spec '{}': {} '{}' may not start or end with '-' or '.', nor contain "
        "'--' or '..'",
        spec, what, part);
  }
}

bool IsQuantTag(std::string_view tag) {
  for (char c : tag) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.') {
      return false;
    }
  }
  return !tag.empty();
}

}  // namespace

bool IsSafeRelativePath(std::string_view path) {
  if (path.empty() || path.front() == '/') return false;
  for (char c : path) {
    if (c == '\\' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  }
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view part = path.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  return true;
}

HfSpec ParseHfSpec(std::string_view spec) {
  if (spec.empty()) Fail("malformed model spec: empty ({})", kSpecFormat);
  if (spec.find("://") != std::string_view::npos) {
    Fail("malformed model spec '{}': give the repo id, not a URL ({})", spec, kSpecFormat);
  }
  for (char c : spec) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      Fail("malformed model spec '{}': contains whitespace ({})", spec, kSpecFormat);
    }
  }

  HfSpec result;
  std::string_view repo = spec;
  const size_t colon = spec.find(':');
  if (colon != std::string_view::npos) {
    repo = spec.substr(0, colon);
    const std::string_view target = spec.substr(colon + 1);
    if (target.find(':') != std::string_view::npos) {
      Fail("malformed model spec '{}': more than one ':' ({})", spec, kSpecFormat);
    }
    if (target.empty()) {
      Fail("malformed model spec '{}': nothing after ':' ({})", spec, kSpecFormat);
    }
    if (EndsWithIgnoreCase(target, ".gguf")) {
      if (!IsSafeRelativePath(target)) {
        Fail(
            "malformed model spec '{}': file '{}' must be a relative path inside the repo "
            "(no leading '/', '..', '.' or empty components)",
            spec, target);
      }
      result.file = std::string(target);
    } else if (IsQuantTag(target)) {
      result.quant = std::string(target);
    } else {
      Fail(
          "malformed model spec '{}': '{}' is neither a .gguf file nor a quantization tag such as "
          "Q4_K_M ({})",
          spec, target, kSpecFormat);
    }
  }

  const size_t slash = repo.find('/');
  if (slash == std::string_view::npos) {
    Fail("malformed model spec '{}': repo '{}' has no owner ({})", spec, repo, kSpecFormat);
  }
  if (repo.find('/', slash + 1) != std::string_view::npos) {
    Fail("malformed model spec '{}': repo '{}' has more than one '/'; put the file after ':' ({})",
         spec, repo, kSpecFormat);
  }
  ValidateRepoPart(repo.substr(0, slash), "owner", spec);
  ValidateRepoPart(repo.substr(slash + 1), "repo name", spec);
  result.repo = std::string(repo);
  return result;
}

}  // namespace arkv::hub

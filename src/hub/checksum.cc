#include "hub/checksum.h"

#include <openssl/evp.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include <fmt/format.h>

#include "core/error.h"

namespace arkv::hub {
namespace {

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
struct DigestCtxFreer {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

// Digest of `prefix` followed by the file's contents, as lower-case hex.
std::string DigestFile(const std::string& path, const EVP_MD* md, const char* md_name,
                       bool git_blob_prefix) {
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (!file) Fail("cannot open {} to compute its {}: {}", path, md_name, std::strerror(errno));
  std::unique_ptr<EVP_MD_CTX, DigestCtxFreer> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1) {
    Fail("cannot initialize {} (OpenSSL)", md_name);
  }
  if (git_blob_prefix) {
    if (std::fseek(file.get(), 0, SEEK_END) != 0) Fail("cannot seek in {}", path);
    const long size = std::ftell(file.get());
    if (size < 0 || std::fseek(file.get(), 0, SEEK_SET) != 0) Fail("cannot seek in {}", path);
    const std::string header = fmt::format("blob {}", size);
    // The NUL terminator is part of git's object header.
    EVP_DigestUpdate(ctx.get(), header.c_str(), header.size() + 1);
  }
  std::vector<unsigned char> buffer(1 << 20);
  while (true) {
    const size_t n = std::fread(buffer.data(), 1, buffer.size(), file.get());
    if (n > 0 && EVP_DigestUpdate(ctx.get(), buffer.data(), n) != 1) {
      Fail("{} update failed (OpenSSL)", md_name);
    }
    if (n < buffer.size()) {
      if (std::ferror(file.get())) Fail("read error in {}: {}", path, std::strerror(errno));
      break;
    }
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), digest, &digest_len) != 1) {
    Fail("{} finalization failed (OpenSSL)", md_name);
  }
  std::string hex;
  hex.reserve(digest_len * 2);
  for (unsigned int i = 0; i < digest_len; ++i)
    fmt::format_to(std::back_inserter(hex), "{:02x}", digest[i]);
  return hex;
}

}  // namespace

std::string Sha256File(const std::string& path) {
  return DigestFile(path, EVP_sha256(), "SHA-256", false);
}

std::string GitBlobSha1File(const std::string& path) {
  return DigestFile(path, EVP_sha1(), "SHA-1", true);
}

}  // namespace arkv::hub

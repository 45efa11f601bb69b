#include "eval_cli.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "core/error.h"

namespace arkv::cli {

std::string ProcessCommandLine() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string line;
  size_t begin = 0;
  while (begin < raw.size()) {
    size_t end = raw.find('\0', begin);
    if (end == std::string::npos) {
      end = raw.size();
    }
    std::string arg = raw.substr(begin, end - begin);
    if (!line.empty()) {
      line += ' ';
    }
    const bool quote = arg.empty() || arg.find_first_of(" \t\"'$\\") != std::string::npos;
    line += quote ? "'" + arg + "'" : arg;
    begin = end + 1;
  }
  return line;
}

ProgressLine::ProgressLine(std::string prefix)
    : prefix_(std::move(prefix)), tty_(isatty(STDERR_FILENO) != 0) {}

void ProgressLine::Update(const std::string& text) {
  const std::string line = prefix_ + text;
  if (tty_) {
    const size_t pad = last_width_ > line.size() ? last_width_ - line.size() : 0;
    std::fprintf(stderr, "\r%s%*s", line.c_str(), static_cast<int>(pad), "");
    last_width_ = line.size();
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  std::fflush(stderr);
}

void ProgressLine::Finish() {
  if (tty_ && last_width_ > 0) {
    std::fputc('\n', stderr);
  }
  last_width_ = 0;
}

void WriteTextFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  if (!out) {
    Fail("cannot write {}: {}", path, std::strerror(errno));
  }
  out << text;
  if (!out.flush()) {
    Fail("cannot write {}: {}", path, std::strerror(errno));
  }
}

}  // namespace arkv::cli

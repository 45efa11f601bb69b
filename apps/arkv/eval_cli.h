// Helpers shared by `arkv eval` and `arkv bench`: the command line for the
// report, the progress line, writing report files.
#pragma once

#include <string>

namespace arkv::cli {

// The program's arguments as one line (from /proc/self/cmdline).
std::string ProcessCommandLine();

// One progress line on stderr: rewritten in place on a terminal, one line
// each otherwise. Finish() ends the line.
class ProgressLine {
 public:
  explicit ProgressLine(std::string prefix);
  void Update(const std::string& text);
  void Finish();

 private:
  std::string prefix_;
  bool tty_;
  size_t last_width_ = 0;
};

void WriteTextFile(const std::string& path, const std::string& text);

}  // namespace arkv::cli

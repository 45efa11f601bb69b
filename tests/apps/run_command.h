// Runs a shell command for the CLI tests: its standard output and exit status
// (128 + signal number when a signal ended it).
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace arkv::testing {

struct CommandResult {
  int exit_code = -1;  // -1: the command could not be started
  std::string out;
};

inline CommandResult RunCommand(const std::string& cmd) {
  CommandResult r;
  std::FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

}  // namespace arkv::testing

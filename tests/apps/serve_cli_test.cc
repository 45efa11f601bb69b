// `arkv serve` as a process: the one stdout line with the port, a request
// answered, SIGTERM giving exit status 0; start-up errors naming their flag.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <httplib.h>

#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "run_command.h"

extern char** environ;

namespace arkv {
namespace {

constexpr const char* kModel = ARKV_SHARED_DIR "/models/stories260K.gguf";

// Reads what `fd` gives until a newline, EOF or `timeout_ms` without data.
std::string ReadLine(int fd, int timeout_ms) {
  std::string line;
  char c;
  pollfd p{fd, POLLIN, 0};
  while (poll(&p, 1, timeout_ms) > 0 && read(fd, &c, 1) == 1) {
    line += c;
    if (c == '\n') break;
  }
  return line;
}

TEST(ServeCli, ListensAnswersAndStopsOnSigterm) {
  if (!std::filesystem::exists(kModel)) GTEST_SKIP() << "../shared/models/stories260K.gguf absent";
  int out[2];
  ASSERT_EQ(pipe(out), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  std::vector<std::string> args = {
      ARKV_BINARY, "serve", "-m", kModel, "--port", "0", "-t", "1", "--no-cache-reuse"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  ASSERT_EQ(posix_spawn(&pid, ARKV_BINARY, &actions, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);

  const std::string line = ReadLine(out[0], 30000);
  std::smatch m;
  const bool listening = std::regex_match(
      line, m, std::regex(R"(arkv serve: listening on http://127\.0\.0\.1:(\d+)\n)"));
  EXPECT_TRUE(listening) << "first stdout line: '" << line << "'";
  if (listening) {
    httplib::Client client("127.0.0.1", std::stoi(m[1]));
    auto r = client.Get("/health");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    r = client.Post("/v1/completions", R"({"model":"stories260K","prompt":"Once","max_tokens":3})",
                    "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
  }
  kill(pid, SIGTERM);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  EXPECT_EQ(ReadLine(out[0], 1000), "") << "stdout holds the listening line only";
  close(out[0]);
}

TEST(ServeCli, StartUpErrorsNameTheirFlag) {
  if (!std::filesystem::exists(kModel)) GTEST_SKIP() << "../shared/models/stories260K.gguf absent";
  struct Case {
    const char* flags;
    const char* names;
  };
  for (const Case& c :
       {Case{"--chat-template mistral", "--chat-template"}, Case{"--parallel 0", "--parallel"},
        Case{"--queue-size -1", "--queue-size"}, Case{"--kv-budget 512", "--kv-budget"},
        Case{"--port 70000", "--port"}, Case{"--kv-policy lru", "--kv-policy"}}) {
    const auto r = testing::RunCommand(std::string(ARKV_BINARY) + " serve -m " + kModel + " " +
                                       c.flags + " 2>&1");
    EXPECT_EQ(r.exit_code, 1) << c.flags << ": " << r.out;
    EXPECT_NE(r.out.find(c.names), std::string::npos) << c.flags << ": " << r.out;
  }
}

}  // namespace
}  // namespace arkv

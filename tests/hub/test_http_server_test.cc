// The test server itself: a slow client still gets its answer (a loaded CI
// machine), and a closed port stays closed for as long as a test holds it.
#include "test_http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <thread>

#include <gtest/gtest.h>

namespace arkv::hub::testing {
namespace {

sockaddr_in Loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  return addr;
}

TEST(TestHttpServer, AnswersAClientWhoseHeadersArriveLate) {
  TestHttpServer server([](const RecordedRequest&) { return ServerResponse{.body = "late"}; });
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  const sockaddr_in addr = Loopback(server.port());
  ASSERT_EQ(::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)), 0);
  const std::string request = "GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  ASSERT_EQ(::send(fd, request.data(), 10, 0), 10);
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // a stalled client
  ASSERT_EQ(::send(fd, request.data() + 10, request.size() - 10, 0),
            static_cast<ssize_t>(request.size() - 10));
  std::string answer;
  char buffer[1024];
  for (ssize_t n; (n = ::recv(fd, buffer, sizeof(buffer), 0)) > 0;) answer.append(buffer, n);
  ::close(fd);
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 200 OK\r\n")) << answer;
  EXPECT_TRUE(answer.ends_with("\r\n\r\nlate")) << answer;
  EXPECT_EQ(server.CountRequests("GET", "/x"), 1);
}

TEST(TestHttpServer, AnUnusedPortRefusesConnectionsAndCannotBeTaken) {
  const UnusedPort closed;
  ASSERT_GT(closed.port(), 0);
  const sockaddr_in addr = Loopback(closed.port());
  const int client = ::socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_NE(::connect(client, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)), 0);
  EXPECT_EQ(errno, ECONNREFUSED);
  ::close(client);
  // Nobody else can bind it (and then answer) while the test holds it.
  const int other = ::socket(AF_INET, SOCK_STREAM, 0);
  const int one = 1;
  ::setsockopt(other, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  EXPECT_NE(::bind(other, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)), 0);
  ::close(other);
}

}  // namespace
}  // namespace arkv::hub::testing

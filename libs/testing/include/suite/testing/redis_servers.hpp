#pragma once
/// Redis servers and sentinels of a test's own, started as local processes (redis-server from
/// the machine, as tests/run installs it), on free ports, in a directory of their own; killed
/// (SIGKILL) when the object goes. For tests that kill, freeze or fail over a server, which the
/// shared test Redis must never be.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>

namespace suite::testing {

/// A port nobody listens on now (the kernel's choice; free again once closed).
inline std::uint16_t FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    throw std::runtime_error("no free port");
  ::close(fd);
  return ntohs(a.sin_port);
}

inline bool Listening(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  if (fd >= 0) ::close(fd);
  return ok;
}

/// One redis-server process: a server, or a sentinel, from the configuration lines given (port,
/// dir and logfile are added; with kTls the port is the TLS one, and the configuration names
/// the certificates).
class RedisProcess {
 public:
  enum Kind { kServer, kSentinel, kTls };
  RedisProcess(const std::filesystem::path& dir, std::string config, Kind kind = kServer)
      : port_(FreePort()), dir_(dir / std::to_string(port_)) {
    const bool sentinel = kind == kSentinel;
    std::filesystem::create_directories(dir_);
    const auto conf = dir_ / "redis.conf";
    std::ofstream(conf) << (kind == kTls ? "port 0\ntls-port " : "port ") << port_ << "\nbind 127.0.0.1\ndir "
                        << dir_.string() << "\nlogfile " << (dir_ / "redis.log").string() << "\n" << config << "\n";
    pid_ = ::fork();
    if (pid_ == 0) {
      const int null = ::open("/dev/null", O_RDWR);
      ::dup2(null, 1);
      ::dup2(null, 2);
      if (sentinel)
        ::execlp("redis-server", "redis-server", conf.c_str(), "--sentinel", nullptr);
      else
        ::execlp("redis-server", "redis-server", conf.c_str(), nullptr);
      ::_exit(127);
    }
    for (int i = 0; i < 400 && !Listening(port_); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (!Listening(port_)) throw std::runtime_error("redis-server did not start on " + std::to_string(port_));
  }
  ~RedisProcess() { Kill(); }
  RedisProcess(const RedisProcess&) = delete;
  RedisProcess& operator=(const RedisProcess&) = delete;

  std::uint16_t port() const { return port_; }
  void Signal(int sig) const {
    if (pid_ > 0) ::kill(pid_, sig);
  }
  /// kill -9, and reaped.
  void Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGCONT);
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  std::uint16_t port_;
  std::filesystem::path dir_;
  pid_t pid_ = -1;
};

/// A directory for a test's servers, removed with it.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "suite-test-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
};

}  // namespace suite::testing

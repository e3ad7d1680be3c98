// A syslog receiver on loopback that reads RFC 6587 octet-counted frames
// ("<len> <message>") itself, for the benchmark (it counts at a pace no
// real server needs to) and for the servers real ones do not imitate on
// demand: one that accepts and never reads, one that closes each
// connection after a few bytes.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace bt::testing {

class OctetReceiver {
 public:
  enum class Mode { kRead, kNeverRead, kCloseAfter };

  explicit OctetReceiver(Mode mode = Mode::kRead, std::size_t close_after = 0, bool keep = false)
      : mode_(mode), close_after_(close_after), keep_(keep) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listener_, 64) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      std::perror("octet receiver");
      std::abort();
    }
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~OctetReceiver() {
    done_ = true;
    ::shutdown(listener_, SHUT_RDWR);
    ::close(listener_);
    acceptor_.join();
    std::lock_guard lock(mu_);
    for (int fd : held_) ::shutdown(fd, SHUT_RDWR);
    for (auto& t : readers_) t.join();
    for (int fd : held_) ::close(fd);
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  void set_mode(Mode mode) { mode_ = mode; }
  uint64_t messages() const { return messages_; }
  uint64_t bad_frames() const { return bad_; }
  uint64_t connections() const { return connections_; }
  std::vector<std::string> kept() {
    std::lock_guard lock(mu_);
    return kept_;
  }

 private:
  void accept_loop() {
    for (;;) {
      const int fd = ::accept(listener_, nullptr, nullptr);
      if (fd < 0) return;
      ++connections_;
      std::lock_guard lock(mu_);
      held_.push_back(fd);
      const Mode mode = mode_;
      if (mode == Mode::kNeverRead) continue;  // held open, never read
      readers_.emplace_back([this, fd, mode] { read_frames(fd, mode); });
    }
  }
  void read_frames(int fd, Mode mode) {
    std::string buf;
    std::size_t total = 0;
    char chunk[1 << 16];
    while (!done_) {
      const ssize_t n = ::read(fd, chunk, sizeof chunk);
      if (n <= 0) break;
      total += static_cast<std::size_t>(n);
      if (mode == Mode::kCloseAfter && total >= close_after_) {
        ::shutdown(fd, SHUT_RDWR);  // mid-frame, most likely: what it had not parsed is lost with it
        return;
      }
      buf.append(chunk, static_cast<std::size_t>(n));
      std::size_t at = 0;
      for (;;) {
        const auto space = buf.find(' ', at);
        if (space == std::string::npos) break;
        const std::size_t len = std::strtoull(buf.c_str() + at, nullptr, 10);
        if (len == 0) ++bad_;
        if (buf.size() < space + 1 + len) break;
        if (buf[space + 1] != '<') ++bad_;
        if (keep_) {
          std::lock_guard lock(mu_);
          kept_.push_back(buf.substr(space + 1, len));
        }
        ++messages_;
        at = space + 1 + len;
      }
      buf.erase(0, at);
    }
  }

  std::atomic<Mode> mode_;
  std::size_t close_after_;
  bool keep_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> done_{false};
  std::atomic<uint64_t> messages_{0}, bad_{0}, connections_{0};
  std::mutex mu_;
  std::vector<int> held_;
  std::vector<std::thread> readers_;
  std::vector<std::string> kept_;
  std::thread acceptor_;
};

}  // namespace bt::testing

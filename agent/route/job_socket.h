// The daemon's job socket (config daemon.socket): any local user may
// connect and send one `job begin|end` request (agent/route/job_protocol.h); the
// caller is known by its peer credentials, never by what it claims. A
// thread of its own serves every client at once from one poll() loop; the
// capture thread, which owns the builds, answers the requests between
// polls of the sensor.
//
// Since any local user may connect, each client has small budgets (Limits):
// a deadline for its request line, a cap on its size, and a bounded number
// of connections at once, in all and per user. A client that sends nothing,
// or one byte a second, holds only its own connection: it never delays
// another's answer, and a user who opens many is told the daemon is busy.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent/route/job_protocol.h"
#include "common/result.h"
#include "common/unique_fd.h"

namespace bt::agent::route {

class JobSocket {
 public:
  struct Peer {
    uint32_t pid = 0, uid = 0;
  };
  using Handler = std::function<job::Reply(const job::Request&, const Peer&)>;

  struct Limits {
    std::size_t max_clients = 64;                     // connected at once; more are answered "busy" and closed
    std::size_t max_clients_per_uid = 16;             // so one local user cannot take every slot
    std::chrono::milliseconds request_timeout{2000};  // to send the whole request line
    std::chrono::milliseconds answer_timeout{10000};  // for the capture thread to answer it
    std::size_t max_request_bytes = job::kMaxRequestBytes;
  };

  // Refuses a path where another daemon still listens.
  static Result<std::unique_ptr<JobSocket>> open(const std::string& path, const Limits& limits);
  static Result<std::unique_ptr<JobSocket>> open(const std::string& path) { return open(path, Limits{}); }
  ~JobSocket();
  JobSocket(const JobSocket&) = delete;
  JobSocket& operator=(const JobSocket&) = delete;

  // On the capture thread: answers every request waiting.
  void answer(const Handler& handle);
  const std::string& path() const { return path_; }

 private:
  struct Pending {
    job::Request request;
    Peer peer;
    std::optional<job::Reply> reply;  // set by answer(), under mutex_
  };
  struct Client;
  JobSocket() = default;
  void serve();
  void accept_clients();
  void read_request(Client& c);
  void wake();

  std::string path_;
  Limits limits_;
  UniqueFd listen_fd_;
  UniqueFd wake_fd_;    // eventfd: replies are ready, or the socket is closing
  bool bound_ = false;  // the socket file is ours to remove
  std::thread thread_;
  std::vector<std::unique_ptr<Client>> clients_;  // the serving thread's only
  std::chrono::steady_clock::time_point last_busy_log_{};
  uint64_t refused_busy_ = 0;
  std::mutex mutex_;
  std::deque<std::shared_ptr<Pending>> pending_;  // read, not yet taken by answer()
  bool stopping_ = false;
};

}  // namespace bt::agent::route

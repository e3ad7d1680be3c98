// The daemon's job socket (config daemon.socket): any local user may
// connect and send one `job begin|end` request (agent/route/job_protocol.h); the
// caller is known by its peer credentials, never by what it claims. A
// thread of its own reads requests and writes replies; the capture thread,
// which owns the builds, answers them between polls of the sensor.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

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

  // Refuses a path where another daemon still listens.
  static Result<std::unique_ptr<JobSocket>> open(const std::string& path);
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
    std::promise<job::Reply> reply;
  };
  JobSocket() = default;
  void serve();
  void serve_one(int client);

  std::string path_;
  UniqueFd listen_fd_;
  UniqueFd stop_fd_;
  bool bound_ = false;  // the socket file is ours to remove
  std::thread thread_;
  std::mutex mutex_;
  std::deque<std::shared_ptr<Pending>> pending_;
  bool stopping_ = false;
};

}  // namespace bt::agent::route

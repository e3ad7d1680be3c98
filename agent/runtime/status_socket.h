// The agent's status socket (<state dir>/agent.sock, mode 0600): each
// client that connects gets one JSON document of the agent's counters and
// is closed (`buildtrail-agent status` reads it). Runs on the agent's libuv
// loop. Bound and removed through the state folder's descriptor
// (common/private_dir.h), never through a path another process could
// redirect.
#pragma once

#include <uv.h>

#include <functional>
#include <string>

#include "common/private_dir.h"

namespace bt::agent::runtime {

class StatusSocket {
 public:
  using Answer = std::function<std::string()>;
  // `name` in `dir`; `dir` need not outlive the socket (it keeps its own descriptor).
  StatusSocket(uv_loop_t* loop, const fs::PrivateDir& dir, std::string name, Answer answer);
  StatusSocket(const StatusSocket&) = delete;
  StatusSocket& operator=(const StatusSocket&) = delete;

  // Binds (replacing a stale socket) and listens; false when that cannot
  // be done (a read-only folder, no /proc): the agent runs without it.
  bool listen();
  // Stops listening and removes the socket file; clients being answered
  // finish on their own. Call before the loop's last run.
  void close();

 private:
  static void on_connection(uv_stream_t* server, int status);
  uv_loop_t* loop_;
  fs::PrivateDir dir_;
  std::string name_;
  Answer answer_;
  uv_pipe_t server_{};
  bool listening_ = false;
};

}  // namespace bt::agent::runtime

// The agent's status socket (<state dir>/agent.sock, mode 0600): each
// client that connects gets one JSON document of the agent's counters and
// is closed (`buildtrail-agent status` reads it). Runs on the agent's libuv
// loop.
#pragma once

#include <uv.h>

#include <functional>
#include <string>

namespace bt::agent::runtime {

class StatusSocket {
 public:
  using Answer = std::function<std::string()>;
  StatusSocket(uv_loop_t* loop, std::string path, Answer answer);
  StatusSocket(const StatusSocket&) = delete;
  StatusSocket& operator=(const StatusSocket&) = delete;

  // Binds (replacing a stale socket file) and listens; false when the path
  // is unusable (too long, a read-only folder): the agent runs without it.
  bool listen();
  // Stops listening and removes the socket file; clients being answered
  // finish on their own. Call before the loop's last run.
  void close();

 private:
  static void on_connection(uv_stream_t* server, int status);
  uv_loop_t* loop_;
  std::string path_;
  Answer answer_;
  uv_pipe_t server_{};
  bool listening_ = false;
};

}  // namespace bt::agent::runtime

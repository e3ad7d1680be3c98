// The client side of buildtrail's local Unix-socket services (the agent's
// status socket, the daemon's job socket): connect, send one request,
// read one reply. Errors are one line naming the socket.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include "common/result.h"

namespace bt::unix_socket {

struct Exchange {
  std::string_view request;  // sent whole before reading; may be empty
  std::size_t max_reply = 1 << 20;
  // Stop reading at the first newline (line protocols); else read until
  // the server closes.
  bool one_line = false;
  std::chrono::seconds timeout{10};    // for each send and each read
  std::string_view server = "server";  // in errors: "no daemon at PATH"
  std::string_view shown_path;         // PATH in errors, when not the path connected to
};

// kUnavailable when nothing listens at `path` ("no <server> at PATH: ...")
// or it closes without replying; kInvalidArgument for a path too long for
// a socket address.
Result<std::string> ask(const std::string& path, const Exchange& exchange);

}  // namespace bt::unix_socket

#include "common/unix_socket.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>

#include "common/fs.h"
#include "common/unique_fd.h"

namespace bt::unix_socket {

Result<std::string> ask(const std::string& connect_path, const Exchange& exchange) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string path = exchange.shown_path.empty() ? connect_path : std::string(exchange.shown_path);
  if (connect_path.size() >= sizeof addr.sun_path)
    return make_error(ErrorCode::kInvalidArgument, path + ": path too long for a socket");
  std::memcpy(addr.sun_path, connect_path.c_str(), connect_path.size() + 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return make_error(ErrorCode::kIo, "socket: " + fs::errno_text(errno));
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return make_error(ErrorCode::kUnavailable,
                      "no " + std::string(exchange.server) + " at " + path + ": " + fs::errno_text(errno));
  const timeval timeout{static_cast<time_t>(exchange.timeout.count()), 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  // A server that refuses a client (busy, request too large) answers and
  // closes, possibly before the request is all sent: the send then fails
  // with EPIPE or ECONNRESET, and the answer waits to be read.
  int send_errno = 0;
  for (std::size_t sent = 0; sent < exchange.request.size();) {
    const ssize_t n = ::send(fd.get(), exchange.request.data() + sent, exchange.request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      send_errno = n < 0 ? errno : EIO;
      if (send_errno == EPIPE || send_errno == ECONNRESET) break;
      return make_error(ErrorCode::kIo, "sending to the " + std::string(exchange.server) + " at " + path + ": " +
                                            fs::errno_text(send_errno));
    }
    sent += static_cast<std::size_t>(n);
  }
  std::string reply;
  char buf[4096];
  while (reply.size() <= exchange.max_reply && !(exchange.one_line && reply.find('\n') != std::string::npos)) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      return make_error(ErrorCode::kUnavailable, "no reply from the " + std::string(exchange.server) + " at " + path +
                                                     ": " + fs::errno_text(errno));
    if (n == 0) break;
    reply.append(buf, static_cast<std::size_t>(n));
  }
  if (reply.empty() && send_errno)
    return make_error(ErrorCode::kIo, "sending to the " + std::string(exchange.server) + " at " + path + ": " +
                                          fs::errno_text(send_errno));
  if (reply.empty())
    return make_error(ErrorCode::kUnavailable,
                      "the " + std::string(exchange.server) + " at " + path + " closed the connection without a reply");
  if (exchange.one_line) reply.resize(std::min(reply.size(), reply.find('\n')));
  return reply;
}

}  // namespace bt::unix_socket

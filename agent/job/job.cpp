#include "agent/job/job.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "agent/config/config.h"
#include "agent/job/protocol.h"
#include "common/cli.h"

namespace bt::agent::job {

namespace {

constexpr int kReplyTimeoutS = 10;

int fail(const std::string& message, int status) {
  std::fprintf(stderr, "buildtrail-agent job: %s\n", message.c_str());
  return status;
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

Result<Reply> ask_daemon(const std::string& path, const Request& request) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path)
    return make_error(ErrorCode::kInvalidArgument, path + ": path too long for a socket");
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return make_error(ErrorCode::kIo, "socket: " + std::string(std::strerror(errno)));
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return make_error(ErrorCode::kUnavailable, "no daemon at " + path + ": " + std::strerror(errno));
  const timeval timeout{kReplyTimeoutS, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  const std::string line = to_json(request) + "\n";
  for (std::size_t sent = 0; sent < line.size();) {
    const ssize_t n = ::send(fd.get(), line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return make_error(ErrorCode::kIo, "sending to the daemon: " + std::string(std::strerror(errno)));
    sent += static_cast<std::size_t>(n);
  }
  std::string reply;
  char buf[4096];
  while (reply.size() <= kMaxRequestBytes && reply.find('\n') == std::string::npos) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      return make_error(ErrorCode::kUnavailable, "no reply from the daemon: " + std::string(std::strerror(errno)));
    if (n == 0) break;
    reply.append(buf, static_cast<std::size_t>(n));
  }
  if (reply.empty()) return make_error(ErrorCode::kUnavailable, "the daemon closed the connection without a reply");
  return parse_reply(reply.substr(0, reply.find('\n')));
}

}  // namespace

int main(int argc, char** argv) {
  auto options = config::options();
  options.push_back({"id", true, "the job's id, when the hook has one (default: the CI system's, from the environment)"});
  options.push_back({"status", true, "end: the job's exit status (0-255), when the hook knows it"});
  options.push_back({"help", false, "show this help"});
  auto args = cli::parse(argc, argv, 2, options);
  if (!args) return fail(args.error().message, 2);
  if (args->has("help")) {
    std::printf("usage: buildtrail-agent job begin|end [options]\n%s", cli::usage(options).c_str());
    return 0;
  }
  if (args->positionals.size() != 1 || (args->positionals[0] != "begin" && args->positionals[0] != "end"))
    return fail("expected `begin` or `end`", 2);
  auto cfg = config::load(*args);
  if (!cfg) return fail(cfg.error().message, 2);

  Request request;
  request.op = args->positionals[0] == "begin" ? Op::kBegin : Op::kEnd;
  request.id = args->get("id");
  if (request.id.size() > kMaxIdBytes) return fail("--id: at most " + std::to_string(kMaxIdBytes) + " bytes", 2);
  if (args->has("status")) {
    const std::string text = args->get("status");
    char* end = nullptr;
    const long v = std::strtol(text.c_str(), &end, 10);
    if (text.empty() || *end || v < 0 || v > 255) return fail("--status: an exit status, 0 to 255", 2);
    request.status = v;
  }
  request.env = attribution::identity_only(attribution::current_environment());

  auto reply = ask_daemon(cfg->daemon_socket, request);
  if (!reply) return fail(reply.error().message, 1);
  if (!reply->ok) return fail(reply->message, 1);
  std::printf("%s\n", reply->message.c_str());
  return 0;
}

}  // namespace bt::agent::job

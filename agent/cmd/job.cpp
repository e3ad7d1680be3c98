#include "agent/cmd/commands.h"

#include <cstdio>
#include <cstdlib>

#include "agent/route/job_protocol.h"
#include "agent/runtime/config.h"
#include "common/cli.h"
#include "common/text.h"
#include "common/unix_socket.h"

namespace bt::agent::cmd {

namespace {

constexpr int kReplyTimeoutS = 10;

int fail(const std::string& message, int status) {
  cli::print_error("buildtrail-agent job", message);
  return status;
}

Result<job::Reply> ask_daemon(const std::string& path, const job::Request& request) {
  const std::string line = job::to_json(request) + "\n";
  unix_socket::Exchange exchange;
  exchange.request = line;
  exchange.max_reply = job::kMaxRequestBytes;
  exchange.one_line = true;
  exchange.timeout = std::chrono::seconds(kReplyTimeoutS);
  exchange.server = "daemon";
  auto reply = unix_socket::ask(path, exchange);
  if (!reply) return reply.error();
  return job::parse_reply(*reply);
}

}  // namespace

int job(int argc, char** argv) {
  auto options = config::options();
  options.push_back(
      {"id", true, "the job's id, when the hook has one (default: the CI system's, from the environment)"});
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

  job::Request request;
  request.op = args->positionals[0] == "begin" ? job::Op::kBegin : job::Op::kEnd;
  request.id = args->get("id");
  if (request.id.size() > job::kMaxIdBytes)
    return fail("--id: at most " + std::to_string(job::kMaxIdBytes) + " bytes", 2);
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
  // The daemon's reply names the job from CI variables: shown escaped.
  std::printf("%s\n", text::printable(reply->message).c_str());
  return 0;
}

}  // namespace bt::agent::cmd

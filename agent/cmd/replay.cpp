#include <cstdio>

#include "agent/capture/replay/replay.h"
#include "agent/cmd/commands.h"
#include "agent/runtime/agent.h"
#include "agent/runtime/config.h"
#include "common/log.h"

namespace bt::agent::cmd {

int replay(int argc, char** argv) {
  auto in = config::parse_invocation(argc, argv,
                                     {{"events", true, "JSON lines file of events to send ('-' for stdin)"},
                                      {"synthetic", true, "generate this many events instead"}});
  if (!in) {
    cli::print_error("buildtrail-agent replay", in.error().message);
    return 2;
  }
  const cli::Args& args = in->args;
  if (args.has("help") || (args.has("events") == args.has("synthetic"))) {
    std::fprintf(args.has("help") ? stdout : stderr,
                 "usage: buildtrail-agent replay (--events FILE | --synthetic N) [options]\n%s",
                 cli::usage(config::options()).c_str());
    return args.has("help") ? 0 : 2;
  }
  const uint64_t n = std::strtoull(args.get("synthetic", "0").c_str(), nullptr, 10);
  auto agent = runtime::Agent::create(in->config, "replay");
  if (!agent) {
    cli::print_error("buildtrail-agent replay", agent.error().message);
    return 1;
  }
  const std::string events = args.get("events");
  return (*agent)->run([&](runtime::Agent& a) {
    const replay::Target target{a.envelope(), [&](events::Event&& e) { a.push_waiting(std::move(e)); },
                                [&] { a.wake(); }, [&] { return a.stop_requested(); }};
    const uint64_t pushed = events.empty() ? replay::synthetic(n, target) : replay::from_jsonl(events, target);
    log::info("replay", "queued " + std::to_string(pushed) + " events");
  });
}

}  // namespace bt::agent::cmd

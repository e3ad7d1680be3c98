#include "agent/capture/replay/replay.h"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <thread>

#include "common/clock.h"
#include "common/events/json.h"
#include "common/log.h"
#include "transport/batcher/batcher.h"

namespace bt::agent::replay {

namespace {

void push_waiting(core::Agent& agent, events::Event& e) {
  while (!agent.queue().try_push(e)) {
    agent.wake();
    if (agent.stop_requested()) return;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

int usage_error(const char* cmd, const std::string& message) {
  std::fprintf(stderr, "buildtrail-agent %s: %s\n", cmd, message.c_str());
  return 2;
}

Result<config::Config> parse_config(int argc, char** argv, std::vector<cli::Option> extra,
                                    cli::Args* args_out) {
  auto options = config::options();
  options.insert(options.end(), extra.begin(), extra.end());
  auto args = cli::parse(argc, argv, 2, options);
  if (!args) return args.error();
  *args_out = *args;
  return config::load(*args);
}

}  // namespace

uint64_t from_jsonl(core::Agent& agent, const std::string& path) {
  std::ifstream file;
  std::istream* in = &std::cin;
  if (path != "-") {
    file.open(path);
    if (!file) {
      log::error("replay", path + ": cannot open");
      return 0;
    }
    in = &file;
  }
  events::JsonLineReader reader;
  std::string line;
  uint64_t n = 0, line_no = 0;
  const events::Event base = agent.envelope();
  while (!agent.stop_requested() && std::getline(*in, line)) {
    ++line_no;
    if (line.empty()) continue;
    auto e = reader.parse(line);
    if (!e) {
      log::error("replay", path + ":" + std::to_string(line_no) + ": " + e.error().message);
      continue;
    }
    e->agent_id = base.agent_id;
    e->host = base.host;
    if (e->time_ns == 0) e->time_ns = clock::now_ns();
    push_waiting(agent, *e);
    if (++n % 1024 == 0) agent.wake();
  }
  agent.wake();
  return n;
}

uint64_t synthetic(core::Agent& agent, uint64_t count) {
  events::Event e = agent.envelope();
  e.build = events::Build{"generic", "synthetic", "synthetic-1", "1", "", "", "", e.host};
  for (uint64_t i = 0; i < count && !agent.stop_requested(); ++i) {
    events::Event ev = e;
    ev.time_ns = clock::now_ns();
    ev.process.pid = 100000 + i;
    ev.process.key = std::to_string(ev.process.pid) + "-" + std::to_string(ev.time_ns);
    ev.process.exe = "/usr/bin/cc";
    if (i % 2 == 0) {
      ev.body = events::ProcessExec{{"cc", "-O2", "-c", "src/file" + std::to_string(i) + ".c", "-o",
                                     "obj/file" + std::to_string(i) + ".o"},
                                    "/work/synthetic", "", "", ""};
    } else {
      ev.body = events::ProcessExit{0, 0, 1000000};
    }
    push_waiting(agent, ev);
    if (i % 1024 == 0) agent.wake();
  }
  agent.wake();
  return count;
}

int run(int argc, char** argv) {
  cli::Args args;
  auto cfg = parse_config(argc, argv,
                          {{"events", true, "JSON lines file of events to send ('-' for stdin)"},
                           {"synthetic", true, "generate this many events instead"},
                           {"help", false, "show this help"}},
                          &args);
  if (!cfg) return usage_error("replay", cfg.error().message);
  if (args.has("help") || (args.has("events") == args.has("synthetic"))) {
    std::fprintf(args.has("help") ? stdout : stderr,
                 "usage: buildtrail-agent replay (--events FILE | --synthetic N) [options]\n%s",
                 cli::usage(config::options()).c_str());
    return args.has("help") ? 0 : 2;
  }
  const uint64_t n = std::strtoull(args.get("synthetic", "0").c_str(), nullptr, 10);
  auto agent = core::Agent::create(*cfg, "replay");
  if (!agent) {
    std::fprintf(stderr, "buildtrail-agent replay: %s\n", agent.error().message.c_str());
    return 1;
  }
  const std::string events = args.get("events");
  return (*agent)->run([&](core::Agent& a) {
    const uint64_t pushed = events.empty() ? synthetic(a, n) : from_jsonl(a, events);
    log::info("replay", "queued " + std::to_string(pushed) + " events");
  });
}

int flush(int argc, char** argv) {
  cli::Args args;
  auto cfg = parse_config(argc, argv, {{"help", false, "show this help"}}, &args);
  if (!cfg) return usage_error("flush", cfg.error().message);
  if (cfg->collector.empty()) return usage_error("flush", "--collector is required");
  auto agent = core::Agent::create(*cfg, "flush");
  if (!agent) {
    std::fprintf(stderr, "buildtrail-agent flush: %s\n", agent.error().message.c_str());
    return 1;
  }
  return (*agent)->run({});
}

int status(int argc, char** argv) {
  cli::Args args;
  auto cfg = parse_config(argc, argv, {{"help", false, "show this help"}}, &args);
  if (!cfg) return usage_error("status", cfg.error().message);
  auto text = core::query_status(cfg->state_dir);
  if (!text) {
    std::fprintf(stderr, "buildtrail-agent status: %s\n", text.error().message.c_str());
    return 1;
  }
  std::fwrite(text->data(), 1, text->size(), stdout);
  return 0;
}

}  // namespace bt::agent::replay

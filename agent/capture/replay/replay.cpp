#include "agent/capture/replay/replay.h"

#include <fstream>
#include <iostream>

#include "common/clock.h"
#include "common/events/json.h"
#include "common/log.h"

namespace bt::agent::replay {

namespace {
constexpr uint64_t kWakeEvery = 1024;  // events pushed between wake-ups of the agent
}  // namespace

uint64_t from_jsonl(const std::string& path, const Target& target) {
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
  while (!target.stopped() && std::getline(*in, line)) {
    ++line_no;
    if (line.empty()) continue;
    auto e = reader.parse(line);
    if (!e) {
      log::error("replay", path + ":" + std::to_string(line_no) + ": " + e.error().message);
      continue;
    }
    e->agent_id = target.envelope.agent_id;
    e->host = target.envelope.host;
    if (e->time_ns == 0) e->time_ns = clock::now_ns();
    target.push(std::move(*e));
    if (++n % kWakeEvery == 0) target.wake();
  }
  target.wake();
  return n;
}

uint64_t synthetic(uint64_t count, const Target& target) {
  events::Event e = target.envelope;
  e.build = events::Build{"generic", "synthetic", "synthetic-1", "1", "", "", "", e.host};
  uint64_t i = 0;
  for (; i < count && !target.stopped(); ++i) {
    events::Event ev = e;
    ev.time_ns = clock::now_ns();
    ev.process.pid = 100000 + i;
    ev.process.key = std::to_string(ev.process.pid) + "-" + std::to_string(ev.time_ns);
    ev.process.exe = "/usr/bin/cc";
    if (i % 2 == 0) {
      ev.body = events::ProcessExec{
          {"cc", "-O2", "-c", "src/file" + std::to_string(i) + ".c", "-o", "obj/file" + std::to_string(i) + ".o"},
          "/work/synthetic",
          "",
          "",
          "",
          {},
          {},
          {}};
    } else {
      ev.body = events::ProcessExit{0, 0, 1000000};
    }
    target.push(std::move(ev));
    if (i % kWakeEvery == 0) target.wake();
  }
  target.wake();
  return i;
}

}  // namespace bt::agent::replay

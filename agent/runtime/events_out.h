// --events-out: the events a capture command records, also appended to a
// file as JSON lines, for local inspection. Thread-compatible (one writer).
#pragma once

#include <cstdio>
#include <string>

#include "common/events/json.h"
#include "common/result.h"

namespace bt::agent::runtime {

class EventsOut {
 public:
  EventsOut() = default;
  EventsOut(const EventsOut&) = delete;
  EventsOut& operator=(const EventsOut&) = delete;
  ~EventsOut();
  // An empty path writes nothing.
  Status open(const std::string& path);
  void write(const events::Event& e);
  void flush();

 private:
  FILE* file_ = nullptr;
  events::JsonLineWriter writer_;
};

}  // namespace bt::agent::runtime

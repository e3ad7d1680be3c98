// The `query` timeline of one build: a header with the build's identity,
// times and counts, then one line per event (time, kind, pid, ppid and a
// summary), with a "-- DATE" line whenever the day changes. Printed to
// stdout as events arrive.
#pragma once

#include <cstddef>
#include <string>

#include "collector/store/store.h"
#include "common/events/event.h"

namespace bt::collector::view {

class Timeline {
 public:
  // Prints the build's header and the column titles.
  explicit Timeline(const store::BuildRow& build);
  void print(const events::Event& event);
  std::size_t events_printed() const { return events_printed_; }

 private:
  std::string day_;
  std::size_t events_printed_ = 0;
};

}  // namespace bt::collector::view

// The `query` timeline of one build record: a header with the build's
// identity, the agent and host that recorded it, the other agents' records
// of the same CI build, times and counts, then one line per event (time,
// kind, pid, ppid and a summary), with a "-- DATE" line whenever the day
// changes. Printed to stdout as events arrive.
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
  // `ref` says where the event sorts: an event whose own time was out of
  // range is shown at its receive time, its claim first in the summary.
  void print(const events::Event& event, const store::EventRef& ref);
  std::size_t events_printed() const { return events_printed_; }

 private:
  std::string day_;
  std::size_t events_printed_ = 0;
};

}  // namespace bt::collector::view

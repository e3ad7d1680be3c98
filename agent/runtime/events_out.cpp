#include "agent/runtime/events_out.h"

#include <cerrno>

#include "common/fs.h"

namespace bt::agent::runtime {

EventsOut::~EventsOut() {
  if (file_) std::fclose(file_);
}

Status EventsOut::open(const std::string& path) {
  if (path.empty()) return Ok{};
  file_ = std::fopen(path.c_str(), "a");
  if (!file_) return make_error(ErrorCode::kIo, path + ": " + fs::errno_text(errno));
  return Ok{};
}

void EventsOut::write(const events::Event& e) {
  if (!file_) return;
  writer_.clear();
  writer_.append(e);
  // stdio-buffered: flushed when full, by flush() and when closed.
  std::fwrite(writer_.view().data(), 1, writer_.view().size(), file_);
}

void EventsOut::flush() {
  if (file_) std::fflush(file_);
}

}  // namespace bt::agent::runtime

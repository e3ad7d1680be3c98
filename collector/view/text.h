// Text for a terminal. Recorded strings come from build processes, so they
// may carry terminal escape sequences: everything shown goes through
// printable() (common/text.h, the one escaping both binaries use) first.
#pragma once

#include <cstddef>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "common/text.h"

namespace bt::collector::view {

using text::printable;
using text::truncate;

// Columns aligned on the widest cell; the last column is not padded.
// Cells are made printable when added, and cut to kMaxCell code points: a
// value stored before its field was bounded (a 2 MB host name enrolled by an
// older collector) must not make every line of a listing that long. The
// bound is above those of common/bounds.h, so a value ingest cut still shows
// its "[cut from N bytes ...]" marker.
class Table {
 public:
  static constexpr std::size_t kMaxCell = 2048;

  explicit Table(std::vector<std::string> header);
  void add(std::vector<std::string> row);
  void print(std::FILE* out) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace bt::collector::view

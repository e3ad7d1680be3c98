// Text for a terminal. Recorded strings come from build processes, so they
// may carry terminal escape sequences: everything shown goes through
// printable() first.
#pragma once

#include <cstddef>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace bt::collector::view {

// C0/C1 controls, DEL and bidirectional overrides are shown as \xNN or
// \u{NNNN}; bytes that are not UTF-8 as \xNN.
std::string printable(std::string_view text);
// At most `max_chars` code points; longer text ends in "...".
std::string truncate(std::string_view text, std::size_t max_chars);

// Columns aligned on the widest cell; the last column is not padded.
// Cells are made printable when added.
class Table {
 public:
  explicit Table(std::vector<std::string> header);
  void add(std::vector<std::string> row);
  void print(std::FILE* out) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace bt::collector::view

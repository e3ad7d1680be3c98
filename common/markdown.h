// Reference pages written by hand with generated parts spliced in: the
// prose lives in the Markdown file (docs/*.md), and only what a table in
// the code decides -- the rows of a rule table, the fields of an event, an
// example that must parse -- is generated, between markers:
//
//   <!-- begin generated: NAME -->
//   ...replaced by `make docs`...
//   <!-- end generated: NAME -->
//
// A test per page holds the file to what splice() makes of it, so neither
// the prose nor the generated parts can drift from the code unnoticed.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace bt::markdown {

struct Part {
  std::string name;  // the marker's NAME
  std::string text;  // whole lines, each ending in '\n'
};

// `page` with the text between each part's markers replaced by the part.
// Errors: a part without markers in the page, markers naming no part, or
// a begin marker without its end.
Result<std::string> splice(std::string_view page, std::span<const Part> parts);

// A page of the docs/ folder and what generates its parts.
struct Page {
  std::string file;  // relative to the source root: docs/<name>.md
  std::vector<Part> (*parts)();
};

// Reads `root`/page.file and splices its parts in.
Result<std::string> render(const std::string& root, const Page& page);

}  // namespace bt::markdown

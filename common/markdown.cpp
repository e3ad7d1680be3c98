#include "common/markdown.h"

#include <algorithm>

#include "common/fs.h"

namespace bt::markdown {

namespace {

constexpr std::string_view kBegin = "<!-- begin generated: ";
constexpr std::string_view kEnd = "<!-- end generated: ";
constexpr std::string_view kClose = " -->";

// The NAME of a marker line `prefix`NAME` -->`; empty when `line` is none.
std::string_view marker(std::string_view line, std::string_view prefix) {
  if (line.ends_with('\n')) line.remove_suffix(1);
  if (!line.starts_with(prefix) || !line.ends_with(kClose) || line.size() <= prefix.size() + kClose.size()) return {};
  return line.substr(prefix.size(), line.size() - prefix.size() - kClose.size());
}

std::string_view line_at(std::string_view page, std::size_t at) {
  const std::size_t eol = page.find('\n', at);
  return page.substr(at, eol == std::string_view::npos ? std::string_view::npos : eol + 1 - at);
}

Error bad(const std::string& what) { return make_error(ErrorCode::kMalformed, what); }

}  // namespace

Result<std::string> splice(std::string_view page, std::span<const Part> parts) {
  std::string out;
  std::vector<std::string> spliced;
  for (std::size_t at = 0; at < page.size();) {
    std::string_view line = line_at(page, at);
    out.append(line);
    at += line.size();
    const std::string_view name = marker(line, kBegin);
    if (name.empty()) continue;
    const auto part = std::find_if(parts.begin(), parts.end(), [&](const Part& p) { return p.name == name; });
    if (part == parts.end()) return bad("a generated part no generator makes: " + std::string(name));
    // Whatever the page holds between the markers is replaced.
    for (;; at += line.size()) {
      if (at >= page.size()) return bad("generated part " + std::string(name) + " has no end marker");
      line = line_at(page, at);
      if (marker(line, kEnd) == name) break;
    }
    out += part->text;
    out.append(line);
    at += line.size();
    spliced.push_back(part->name);
  }
  for (const Part& p : parts)
    if (std::find(spliced.begin(), spliced.end(), p.name) == spliced.end())
      return bad("the page has no markers for generated part " + p.name);
  return out;
}

Result<std::string> render(const std::string& root, const Page& page) {
  auto text = fs::read_file(root + "/" + page.file, 1 << 22);
  if (!text) return text.error();
  const std::vector<Part> parts = page.parts();
  auto out = splice(*text, parts);
  if (!out) return with_context(page.file, out.error());
  return out;
}

}  // namespace bt::markdown

// The common frame of the commands; see tool.h.
#include "collector/cmd/tool.h"

#include <charconv>
#include <cstdio>

#include "collector/view/text.h"
#include "common/events/json.h"
#include "common/text.h"

namespace bt::collector::cmd {

Tool::Tool(std::string name, std::string synopsis, std::vector<cli::Option> options)
    : name_(std::move(name)), synopsis_(std::move(synopsis)), options_(std::move(options)) {
  options_.push_back({"help", false, "show this help"});
}

bool Tool::parse(int argc, char** argv, int first, int* exit, bool needs_data) {
  auto parsed = cli::parse(argc, argv, first, options_);
  if (!parsed) {
    *exit = usage_error(parsed.error().message);
    return false;
  }
  args_ = std::move(*parsed);
  if (args_.has("help")) {
    std::printf("usage: buildtrail-collector %s\n\noptions:\n%s", synopsis_.c_str(), cli::usage(options_).c_str());
    *exit = 0;
    return false;
  }
  if (needs_data && args_.get("data").empty()) {
    *exit = usage_error("--data DIR is required");
    return false;
  }
  if (!args_.after_dashdash.empty()) {
    *exit = usage_error("unexpected argument '" + args_.after_dashdash[0] + "'");
    return false;
  }
  return true;
}

int Tool::usage_error(const std::string& message) const {
  std::fprintf(stderr, "buildtrail-collector %s: %s (see --help)\n", name_.c_str(), view::printable(message).c_str());
  return kExitUsage;
}

int Tool::error(const std::string& message) const {
  cli::print_error("buildtrail-collector " + name_, message);
  return kExitError;
}

Result<std::unique_ptr<store::Store>> Tool::open_store(bool read_only) const {
  store::Options options;
  options.read_only = read_only;
  return store::open_sqlite(data_dir(), options);
}

std::optional<int64_t> parse_build_ref(const std::string& text) {
  int64_t ref = 0;
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), ref);
  if (ec != std::errc() || p != text.data() + text.size() || ref <= 0) return std::nullopt;
  return ref;
}

// The events are written as the agent signed them, except that code points
// a terminal must not see raw (DEL, C1 controls, U+2028/U+2029, bidi
// marks: JSON allows them in strings unescaped) become \uNNNN escapes, which
// decode to the same strings: `export | less` shows what a JSON reader reads.
Status write_jsonl(readback::EventReader& reader, const store::EventFilter& filter) {
  events::JsonLineWriter out;
  auto flush = [&] {
    const std::string safe = text::json_printable(out.view());
    std::fwrite(safe.data(), 1, safe.size(), stdout);
    out.clear();
  };
  Status s = reader.for_each(filter, [&](const events::Event& e, const store::EventRef&) {
    out.append(e);
    if (out.size() >= (1u << 20)) flush();
  });
  flush();
  return s;
}

int dispatch(const char* command, const char* usage, std::initializer_list<Subcommand> subcommands, int argc,
             char** argv) {
  const std::string sub = argc > 2 ? argv[2] : "";
  if (sub == "--help" || sub == "-h" || sub == "help") {
    std::fputs(usage, stdout);
    return 0;
  }
  std::string names;
  for (const auto& s : subcommands) {
    if (sub == s.name) return s.run(argc, argv);
    names += (names.empty() ? "" : ", ") + std::string(s.name);
  }
  std::fprintf(stderr, "buildtrail-collector %s: %s (%s; see --help)\n", command,
               sub.empty() ? "a command is required" : ("unknown command '" + view::printable(sub) + "'").c_str(),
               names.c_str());
  return kExitUsage;
}

}  // namespace bt::collector::cmd

#include "common/cli.h"

#include <cstdio>

#include "common/text.h"

namespace bt::cli {

bool Args::has(std::string_view name) const { return values.find(name) != values.end(); }

std::string Args::get(std::string_view name, std::string fallback) const {
  auto it = values.find(name);
  if (it == values.end() || it->second.empty()) return fallback;
  return it->second.back();
}

std::vector<std::string> Args::all(std::string_view name) const {
  auto it = values.find(name);
  return it == values.end() ? std::vector<std::string>{} : it->second;
}

Result<Args> parse(int argc, char** argv, int first, const std::vector<Option>& options) {
  Args args;
  for (int i = first; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--") {
      for (++i; i < argc; ++i) args.after_dashdash.emplace_back(argv[i]);
      break;
    }
    if (arg.size() < 3 || arg.substr(0, 2) != "--") {
      args.positionals.emplace_back(arg);
      continue;
    }
    std::string_view name = arg.substr(2);
    std::string_view inline_value;
    bool has_inline = false;
    if (auto eq = name.find('='); eq != std::string_view::npos) {
      inline_value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_inline = true;
    }
    const Option* opt = nullptr;
    for (const auto& o : options)
      if (o.name == name) opt = &o;
    if (!opt) return make_error(ErrorCode::kInvalidArgument, "unknown option --" + std::string(name));
    auto& slot = args.values[std::string(name)];
    if (!opt->takes_value) {
      if (has_inline) return make_error(ErrorCode::kInvalidArgument, "--" + std::string(name) + " takes no value");
      slot.emplace_back("1");
    } else if (has_inline) {
      slot.emplace_back(inline_value);
    } else if (i + 1 < argc) {
      slot.emplace_back(argv[++i]);
    } else {
      return make_error(ErrorCode::kInvalidArgument, "--" + std::string(name) + " needs a value");
    }
  }
  return args;
}

std::string usage(const std::vector<Option>& options) {
  std::string out;
  for (const auto& o : options) {
    std::string flag = "  --" + std::string(o.name) + (o.takes_value ? " VALUE" : "");
    if (flag.size() < 28) flag.resize(28, ' ');
    out += flag + " " + std::string(o.help) + "\n";
  }
  return out;
}

void print_error(std::string_view who, std::string_view message) {
  const std::string line = std::string(who) + ": " + text::printable(message) + "\n";
  std::fwrite(line.data(), 1, line.size(), stderr);
}

int dispatch(std::string_view program, const std::vector<Command>& commands, int argc, char** argv) {
  auto list = [&](FILE* out) {
    std::fprintf(out, "usage: %.*s COMMAND [options]\n\ncommands:\n", static_cast<int>(program.size()), program.data());
    for (const auto& c : commands)
      std::fprintf(out, "  %-10.*s %.*s\n", static_cast<int>(c.name.size()), c.name.data(),
                   static_cast<int>(c.help.size()), c.help.data());
    return out == stdout ? 0 : 2;
  };
  if (argc < 2) return list(stderr);
  const std::string_view name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") return list(stdout);
  for (const auto& c : commands)
    if (c.name == name) return c.run(argc, argv);
  std::fprintf(stderr, "%.*s: unknown command '%s'\n", static_cast<int>(program.size()), program.data(),
               text::printable(name).c_str());
  return list(stderr);
}

}  // namespace bt::cli

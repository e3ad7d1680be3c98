#include "agent/enrich/rules/command.h"

#include "common/fs.h"
#include "common/words.h"

namespace bt::agent::command {

namespace {

using std::string_view;

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Commands that run the next word as the real tool (`sudo docker login`),
// with those of their flags that take a value; some only with a subcommand
// (`pyenv exec python3 x.py`, `poetry run twine`).
struct Launcher {
  string_view name;
  string_view subcommand;  // "" = none
  string_view value_flags;
};

constexpr Launcher kLaunchers[] = {
    {"sudo", "", "-u -g -C -D -h -p -r -t -U -T"},
    {"doas", "", "-u -C"},
    {"env", "", "-u -C -S"},
    {"nohup", "", ""},
    {"time", "", "-f -o"},
    {"command", "", ""},
    {"exec", "", "-a"},
    {"nice", "", "-n"},
    {"ionice", "", "-c -n -p"},
    {"stdbuf", "", "-i -o -e"},
    {"timeout", "", "-s -k"},
    {"xargs", "", "-a -d -E -I -L -n -P -s"},
    {"busybox", "", ""},  // busybox APPLET ...
    // Version managers' shims end in these (pyenv's python3 shim runs
    // `pyenv exec python3 ARGS`, which runs pyenv-exec).
    {"pyenv", "exec", ""},
    {"pyenv-exec", "", ""},
    {"rbenv", "exec", ""},
    {"rbenv-exec", "", ""},
    {"nodenv", "exec", ""},
    {"nodenv-exec", "", ""},
    {"asdf", "exec", ""},
    {"bundle", "exec", ""},
    {"poetry", "run", ""},
    {"pipenv", "run", ""},
    {"pdm", "run", ""},
    {"uv", "run", "--with --python -p --project --directory"},
};

// How an interpreter's command line names its script: the flags whose
// value is the next argument (python -W ignore x.py, node --require
// ts-node/register x.ts), and the flags that mean there is no script file
// (python -c CODE, -m MODULE; node -e; a shell's -c, also inside a cluster
// like -ec).
struct Family {
  string_view value_flags;
  string_view inline_flags;
};

Family family(string_view interpreter) {
  if (interpreter.starts_with("python")) return {"-W -X", "-c -m"};
  if (interpreter.starts_with("node") || interpreter == "bun" || interpreter == "deno")
    return {"-r --require --import --loader --experimental-loader -C --conditions", "-e --eval -p --print"};
  if (interpreter.starts_with("ruby")) return {"-I -r -C -E", "-e"};
  if (interpreter.starts_with("perl")) return {"-I -M -m", "-e -E"};
  if (interpreter == "php") return {"-c -d", "-r"};
  return {"-o +o -O +O", ""};  // the shells
}

bool is_shell_command_option(string_view a) {
  if (a.size() < 2 || a[0] != '-' || a[1] == '-') return false;
  for (char c : a.substr(1))
    if (!is_alpha(c)) return false;
  return a.find('c') != string_view::npos;
}

// `NAME=value` before a command (the shell's assignment prefix).
bool is_assignment(string_view a) {
  const std::size_t eq = a.find('=');
  if (eq == string_view::npos || eq == 0 || !(is_alpha(a[0]) || a[0] == '_')) return false;
  for (char c : a.substr(0, eq))
    if (!(is_alpha(c) || is_digit(c) || c == '_')) return false;
  return true;
}

// Index of the word after the launcher's flags, assignments and durations.
std::size_t skip_launcher(std::span<const std::string> args, std::size_t i, const Launcher& l) {
  if (!l.subcommand.empty()) ++i;
  for (++i; i < args.size(); ++i) {
    const std::string& a = args[i];
    const bool duration = !a.empty() && is_digit(a[0]);
    if (in_word_list(l.value_flags, a))
      ++i;
    else if (!(a.starts_with('-') || is_assignment(a) || duration))
      break;
  }
  return i;
}

// The launcher args[i] is, if any; `name` instead of args[i]'s file name
// when given (a script's name).
const Launcher* launcher(std::span<const std::string> args, std::size_t i, string_view name = {}) {
  const string_view b = name.empty() ? fs::base_name(args[i]) : name;
  for (const Launcher& l : kLaunchers)
    if (b == l.name && (l.subcommand.empty() || (i + 1 < args.size() && args[i + 1] == l.subcommand))) return &l;
  return nullptr;
}

// "twine", "deploy.sh" -> "deploy", "cli.py" -> "cli".
string_view script_name(string_view path) {
  string_view b = fs::base_name(path);
  const std::size_t dot = b.rfind('.');
  if (dot != string_view::npos && dot > 0 && in_word_list("py sh bash pl rb js mjs cjs ts php", b.substr(dot + 1)))
    b = b.substr(0, dot);
  return b;
}

}  // namespace

bool is_interpreter(string_view exe) {
  const string_view b = fs::base_name(exe);
  if (in_word_list("sh bash dash zsh ksh mksh ash busybox node nodejs perl ruby php deno bun Rscript tclsh", b))
    return true;
  return b.starts_with("python") || b.starts_with("perl5") || b.starts_with("ruby");
}

std::size_t script_index(std::span<const std::string> argv) {
  if (argv.empty()) return 0;
  const Family f = family(fs::base_name(argv[0]));
  const bool shell = f.inline_flags.empty();
  for (std::size_t i = 1; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a == "-" || a == "--") return 0;
    if (shell ? is_shell_command_option(a) : in_word_list(f.inline_flags, a)) return 0;
    if (in_word_list(f.value_flags, a)) {
      ++i;
      continue;
    }
    if (!a.empty() && (a[0] == '-' || (shell && a[0] == '+'))) continue;
    return i;
  }
  return 0;
}

std::string script_of(const std::vector<std::string>& argv) {
  const std::size_t i = script_index(argv);
  return i ? argv[i] : std::string();
}

Tool tool_of(std::span<const std::string> args) {
  std::size_t i = 0;
  // Bounded: each round moves i forward; a chain of shims is short.
  for (int round = 0; round < 16; ++round) {
    while (i < args.size() && is_assignment(args[i])) ++i;
    if (i >= args.size()) return {};
    if (const Launcher* l = launcher(args, i)) {
      i = skip_launcher(args, i, *l);
      continue;
    }
    const string_view name = fs::base_name(args[i]);
    if (!is_interpreter(name)) return {name, i};
    const auto rest = args.subspan(i);
    if (name.starts_with("python"))
      for (std::size_t j = 1; j + 1 < rest.size(); ++j) {
        if (rest[j] == "-m") return {rest[j + 1], i + j + 1};
        if (!rest[j].starts_with('-')) break;
      }
    const std::size_t s = script_index(rest);
    if (s == 0) return {name, i};
    // A script that is itself an interpreter or launcher is a shim
    // (`bash ~/.pyenv/shims/python3 ./twine`): the tool is further on.
    const string_view script = script_name(rest[s]);
    if (is_interpreter(script) || launcher(args, i + s, script)) {
      i += s;
      continue;
    }
    return {script, i + s};
  }
  return {};
}

}  // namespace bt::agent::command

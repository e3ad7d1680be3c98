// buildtrail-collector users add|list|remove|passwd --data DIR ...
// The people who may log in to the UI (collector/access/, DATA/access.db;
// docs/collector-api.md "The UI and its sessions"). A password is read
// from the terminal (twice, not echoed) or, when stdin is not a terminal,
// from its first line -- never from argv, which other users of the host
// can read in /proc. `remove` and `passwd` end the user's sessions at once.
#include <sodium.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <functional>

#include "collector/access/access_db.h"
#include "collector/access/password.h"
#include "collector/cmd/commands.h"
#include "collector/cmd/tool.h"
#include "collector/view/text.h"
#include "collector/view/time.h"
#include "common/clock.h"
#include "common/fs.h"

namespace bt::collector::cmd {

namespace {

const cli::Option kData = {"data", true, "data folder of the collector (as for serve)"};

// One line from `in` without its newline; false at end of input.
bool read_line(FILE* in, std::string* out) {
  out->clear();
  for (int c; (c = std::fgetc(in)) != EOF;) {
    if (c == '\n') return true;
    if (out->size() > access::kMaxPasswordBytes) continue;  // too long: refused below, not kept growing
    out->push_back(static_cast<char>(c));
  }
  return !out->empty();
}

// Asks on the terminal with echo off; the terminal is restored before
// returning, also on failure.
Result<std::string> ask_tty(FILE* tty, const char* prompt) {
  std::fprintf(tty, "%s", prompt);
  std::fflush(tty);
  termios saved{};
  const int fd = fileno(tty);
  const bool have = tcgetattr(fd, &saved) == 0;
  if (have) {
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(fd, TCSAFLUSH, &quiet);
  }
  std::string line;
  const bool got = read_line(tty, &line);
  if (have) tcsetattr(fd, TCSAFLUSH, &saved);
  std::fprintf(tty, "\n");
  if (!got) return make_error(ErrorCode::kInvalidArgument, "no password given");
  return line;
}

// The new password: from the terminal twice, or stdin's first line.
Result<std::string> read_new_password(const std::string& user) {
  std::string password;
  if (::isatty(STDIN_FILENO)) {
    FILE* tty = std::fopen("/dev/tty", "r+");
    if (!tty) return make_error(ErrorCode::kIo, "cannot open the terminal to ask for the password");
    auto first = ask_tty(tty, ("Password for " + user + ": ").c_str());
    auto second = first ? ask_tty(tty, "Again: ") : first;
    std::fclose(tty);
    if (!first) return first.error();
    if (!second) return second.error();
    const bool same = *first == *second;
    sodium_memzero(second->data(), second->size());
    if (!same) return make_error(ErrorCode::kInvalidArgument, "the two passwords differ");
    password = std::move(*first);
  } else if (!read_line(stdin, &password)) {
    return make_error(ErrorCode::kInvalidArgument, "no password on stdin (its first line is the password)");
  }
  if (!password.empty() && password.back() == '\r') password.pop_back();
  if (Status s = access::check_password(password); !s) {
    sodium_memzero(password.data(), password.size());
    return s.error();
  }
  return password;
}

// The data folder is made as serve makes it, so users can be added first.
Result<std::unique_ptr<access::AccessDb>> open_access(const Tool& tool) {
  if (Status s = fs::make_dirs(tool.data_dir(), 0750); !s) return s.error();
  return access::AccessDb::open(tool.data_dir());
}

// The hash of a password read as read_new_password() reads it.
Result<std::string> new_password_hash(const std::string& user) {
  auto password = read_new_password(user);
  if (!password) return password.error();
  auto hash = access::hash_password(*password);
  sodium_memzero(password->data(), password->size());
  return hash;
}

int add(int argc, char** argv) {
  Tool tool("users add", "users add --data DIR [--role viewer|admin] NAME  (password: terminal, or stdin's first line)",
            {kData, {"role", true, "viewer (reads; the default) or admin"}});
  int exit = 0;
  if (!tool.parse(argc, argv, 3, &exit)) return exit;
  const auto& args = tool.args();
  if (args.positionals.size() != 1) return tool.usage_error("needs one user NAME");
  const std::string name = args.positionals[0];
  if (Status s = access::check_user_name(name); !s) return tool.usage_error(s.error().message);
  const auto role = store::parse_api_role(args.get("role", "viewer"));
  if (!role) return tool.usage_error("--role is viewer or admin, not '" + view::printable(args.get("role")) + "'");
  auto db = open_access(tool);
  if (!db) return tool.error(db.error());
  if (auto existing = (*db)->user(name); existing && *existing)
    return tool.error("user '" + name + "' exists (users passwd to change the password)");
  auto hash = new_password_hash(name);
  if (!hash) return tool.error(hash.error());
  access::User u;
  u.name = name;
  u.password_hash = std::move(*hash);
  u.role = *role;
  u.created_ns = clock::now_ns();
  if (Status s = (*db)->add_user(u); !s) return tool.error(s.error());
  std::printf("user '%s' added (%s)\n", name.c_str(), store::api_role_name(*role));
  return 0;
}

int list(int argc, char** argv) {
  Tool tool("users list", "users list --data DIR", {kData});
  int exit = 0;
  if (!tool.parse(argc, argv, 3, &exit)) return exit;
  if (!tool.args().positionals.empty())
    return tool.usage_error("unexpected argument '" + view::printable(tool.args().positionals[0]) + "'");
  auto db = open_access(tool);
  if (!db) return tool.error(db.error());
  auto users = (*db)->users(clock::now_ns());
  if (!users) return tool.error(users.error());
  if (users->empty()) {
    std::printf("no users\n");
    return 0;
  }
  view::Table table({"NAME", "ROLE", "CREATED", "PASSWORD CHANGED", "SESSIONS"});
  for (const auto& u : *users)
    table.add({u.name, store::api_role_name(u.role), view::format_rfc3339(u.created_ns),
               view::format_rfc3339(u.password_changed_ns), std::to_string(u.sessions)});
  table.print(stdout);
  return 0;
}

// `remove` and `passwd`: one user NAME, then `act` on the access db;
// `done` is printed with the name when it succeeds.
int on_one_user(int argc, char** argv, const char* name, const char* synopsis, const char* done,
                const std::function<Status(access::AccessDb&, const std::string&)>& act) {
  Tool tool(name, synopsis, {kData});
  int exit = 0;
  if (!tool.parse(argc, argv, 3, &exit)) return exit;
  if (tool.args().positionals.size() != 1) return tool.usage_error("needs one user NAME");
  const std::string user = tool.args().positionals[0];
  auto db = open_access(tool);
  if (!db) return tool.error(db.error());
  if (Status s = act(**db, user); !s) return tool.error(view::printable(s.error().message));
  std::printf(done, view::printable(user).c_str());
  return 0;
}

int remove(int argc, char** argv) {
  return on_one_user(argc, argv, "users remove", "users remove --data DIR NAME",
                     "user '%s' removed; its sessions are over\n",
                     [](access::AccessDb& db, const std::string& user) { return db.remove_user(user); });
}

int passwd(int argc, char** argv) {
  return on_one_user(
      argc, argv, "users passwd", "users passwd --data DIR NAME  (password: terminal, or stdin's first line)",
      "password of '%s' changed; its sessions are over\n", [](access::AccessDb& db, const std::string& user) -> Status {
        auto existing = db.user(user);
        if (!existing) return existing.error();
        if (!*existing) return make_error(ErrorCode::kNotFound, "no user '" + user + "'");
        auto hash = new_password_hash(user);
        if (!hash) return hash.error();
        return db.set_password(user, *hash, clock::now_ns());
      });
}

constexpr const char* kUsage =
    "usage: buildtrail-collector users COMMAND --data DIR ...\n\n"
    "The people who may log in to the UI (/ui/). A password is read from the terminal,\n"
    "or from the first line of stdin when it is not one; never from the command line.\n\n"
    "commands:\n"
    "  add [--role viewer|admin] NAME  a new user (viewer: reads; admin: may also change things)\n"
    "  list                            users: role, created, password changed, open sessions\n"
    "  remove NAME                     the user and every session of it\n"
    "  passwd NAME                     a new password; every session of the user ends\n";

}  // namespace

int users(int argc, char** argv) {
  return dispatch("users", kUsage, {{"add", add}, {"list", list}, {"remove", remove}, {"passwd", passwd}}, argc, argv);
}

}  // namespace bt::collector::cmd

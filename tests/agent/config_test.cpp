#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "agent/runtime/config.h"
#include "common/fs.h"
#include "tests/common/test_util.h"

using namespace bt;
using namespace bt::agent;

TEST_CASE("TOML file, then flags: a flag beats the file, the file beats the default") {
  const std::string dir = testing::make_temp_dir("cfg");
  const std::string file = dir + "/agent.toml";
  REQUIRE(fs::write_new_file(file,
                             "collector = \"https://c.example:8443\"\n"
                             "state_dir = \"/tmp/x\"\n"
                             "[spool]\nmax_bytes = 1000000\n"
                             "[send]\ntimeout_ms = 1234\n",
                             0600)
              .ok());
  std::vector<std::string> argv_s = {"buildtrail-agent", "flush", "--config", file, "--send-timeout-ms", "99"};
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  auto args = cli::parse(static_cast<int>(argv.size()), argv.data(), 2, config::options());
  REQUIRE(args.ok());
  auto c = config::load(*args);
  REQUIRE_MESSAGE(c.ok(), c.error().message);
  CHECK(c->collector == "https://c.example:8443");
  CHECK(c->spool_max_bytes == 1000000);
  CHECK(c->send_timeout_ms == 99);
  CHECK(c->batch_max_bytes == (1u << 20));
}

TEST_CASE("unknown keys and wrong types are one-line errors naming the key") {
  auto r = config::parse_toml("[spool]\nmax_byte = 5\n", "agent.toml");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message == "agent.toml: unknown key 'spool.max_byte'");
  r = config::parse_toml("[spool]\nmax_bytes = \"big\"\n", "agent.toml");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("spool.max_bytes: expected a non-negative integer") != std::string::npos);
  r = config::parse_toml("collector = [", "agent.toml");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.rfind("agent.toml:1:", 0) == 0);
}

TEST_CASE("the documented example parses") {
  const std::string md = testing::rendered_page("docs/agent-config.md", config::reference_parts);
  const auto begin = md.find("```toml\n") + 8;
  const auto end = md.find("```", begin);
  auto parsed = config::parse_toml(md.substr(begin, end - begin), "example");
  CHECK_MESSAGE(parsed.ok(), (parsed.ok() ? "" : parsed.error().message));
}

TEST_CASE("batch.max_bytes stays within what a collector accepts") {
  auto parsed = config::parse_toml("[batch]\nmax_bytes = 4194304\n", "agent.toml");
  REQUIRE(parsed.ok());
  cli::Args args;
  args.values["batch-max-bytes"] = {"4194305"};
  auto over = config::load(args);
  REQUIRE_FALSE(over.ok());
  CHECK(over.error().message.find("batch.max_bytes: at most 4194304") != std::string::npos);
}

namespace {

// default_state_dir() as a user other than root (as root: nobody, whose
// passwd home does not exist), in a child so the test's own uid and
// environment stay; one result a line.
std::string default_state_dirs_as_user() {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) ::_exit(3);
    std::string out;
    auto put = [&] {
      auto d = config::default_state_dir();
      out += (d ? *d : "error: " + d.error().message) + "\n";
    };
    ::unsetenv("HOME");
    ::unsetenv("XDG_STATE_HOME");
    put();
    ::setenv("HOME", "/h", 1);
    ::setenv("XDG_STATE_HOME", "relative/state", 1);  // invalid by the XDG spec: ignored
    put();
    ::setenv("XDG_STATE_HOME", "/x", 1);
    put();
    (void)!::write(fds[1], out.data(), out.size());
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string text;
  char buf[1024];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) text.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  return text;
}

}  // namespace

TEST_CASE("the default state folder is never a guessable one under /tmp: without a home, --state-dir is asked for") {
  std::istringstream lines(default_state_dirs_as_user());
  std::string no_home, relative_xdg, xdg;
  std::getline(lines, no_home);
  std::getline(lines, relative_xdg);
  std::getline(lines, xdg);
  if (::geteuid() == 0) {
    // nobody: no HOME, and its passwd home (/nonexistent) is not a folder of its own.
    CHECK(no_home.rfind("error: no state folder: HOME and XDG_STATE_HOME are unset and uid 65534", 0) == 0);
    CHECK(no_home.find("give one with --state-dir DIR") != std::string::npos);
  } else {
    // HOME unset: the passwd entry's home, as a login would have set it.
    CHECK((no_home.rfind("error: no state folder", 0) == 0 || no_home.ends_with("/.local/state/buildtrail")));
    CHECK(no_home.rfind("/tmp", 0) != 0);
  }
  CHECK(relative_xdg == "/h/.local/state/buildtrail");
  CHECK(xdg == "/x/buildtrail");
}

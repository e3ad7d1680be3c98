// What the daemon tests share: a running `buildtrail-agent daemon` and a
// fake CI runner (fake_runner.py) it tracks, whose build step it records.
#pragma once

#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <vector>

#include "tests/agent/capture_fixtures.h"

namespace bt::testing::capture {

inline bool wait_until(const std::function<bool()>& done, int timeout_ms) {
  for (int waited = 0; waited < timeout_ms; waited += 20) {
    if (done()) return true;
    ::usleep(20000);
  }
  return done();
}

// A running daemon writing its events to ROOT/events.jsonl; stopped with
// SIGTERM by stop() or at the end of the scope.
struct Daemon {
  std::string root, events, log, socket;
  pid_t pid = -1;

  Daemon(const std::string& root_dir, const std::string& args) : root(root_dir) {
    events = root + "/events.jsonl";
    log = root + "/daemon.log";
    socket = root + "/daemon.sock";
    const std::string command = "exec " + agent_bin() + " daemon --state-dir " + root + "/state --daemon-socket " +
                                socket + " --events-out " + events + " --log-level debug " + args + " >" + log +
                                " 2>&1";
    pid = ::fork();
    if (pid == 0) {
      ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  ~Daemon() {
    if (pid > 0) stop();
  }
  bool logged(const std::string& text) const { return slurp(log).find(text) != std::string::npos; }
  bool started() {
    const bool ok = wait_until([&] { return logged("sensor attached") || exited(); }, 30000) && !exited();
    if (!ok) MESSAGE("daemon log:\n" << slurp(log));
    return ok;
  }
  bool exited() {
    int status = 0;
    if (pid > 0 && ::waitpid(pid, &status, WNOHANG) == pid) {
      exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      pid = -1;
    }
    return pid < 0;
  }
  int stop() {
    if (pid > 0) {
      ::kill(pid, SIGTERM);
      int status = 0;
      ::waitpid(pid, &status, 0);
      exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      pid = -1;
    }
    return exit_status;
  }
  int exit_status = -1;
};

// A fake CI runner process (see fake_runner.py): started now, registered
// by the daemon, then told to run its build step.
struct FakeRunner {
  std::string dir, ready, go;
  pid_t pid = -1;

  // `name`: the runner's program name (java, Runner.Worker); `ci`: the
  // environment its step gets (jenkins, github).
  // `env`: NAME=value for the runner's own environment (FAKE_STEP_*, hooks).
  FakeRunner(const std::string& root, const std::string& name, const std::string& ci, const std::string& command,
             const std::vector<std::string>& env = {}, const std::string& tag = "") {
    dir = root + "/runner-" + ci + tag;
    ready = dir + "/ready";
    go = dir + "/go";
    REQUIRE(testing::run_command("mkdir -p " + dir + " && ln -sf /usr/bin/python3 " + dir + "/" + name).exit_code == 0);
    const std::string exe = dir + "/" + name;
    const std::string script = testing::env_or("BUILDTRAIL_SRC", ".") + "/tests/agent/fake_runner.py";
    pid = ::fork();
    if (pid == 0) {
      for (const auto& kv : env) ::putenv(const_cast<char*>(kv.c_str()));
      ::execl(exe.c_str(), name.c_str(), script.c_str(), ci.c_str(), ready.c_str(), go.c_str(), command.c_str(), "-jar",
              "agent.jar", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    REQUIRE(wait_until([&] { return ::access(ready.c_str(), F_OK) == 0; }, 20000));
  }
  // Waits until the daemon tracks this runner, then lets it start the build.
  void start(const Daemon& d) {
    wait_registered(d);
    go_on();
  }
  void wait_registered(const Daemon& d) {
    const std::string line = "tracking runner pid " + std::to_string(pid) + " ";
    REQUIRE_MESSAGE(wait_until([&] { return d.logged(line); }, 20000), slurp(d.log));
  }
  void go_on() { REQUIRE(testing::run_command("touch " + go).exit_code == 0); }
  int wait() {
    int status = 0;
    ::waitpid(pid, &status, 0);
    pid = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  ~FakeRunner() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
};

}  // namespace bt::testing::capture

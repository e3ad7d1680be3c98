// What a capture backend observes, before enrichment. Both backends (wrap:
// seccomp + ptrace, daemon: eBPF) report these few facts about processes;
// agent/enrich turns them into events (keys, build block, redaction, secret
// rules, upload recognition, digests). Backends report raw facts only: no
// policy lives in a backend.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace bt::agent::capture {

struct Fork {
  uint64_t time_ns = 0;
  uint64_t parent_pid = 0;
  uint64_t child_pid = 0;
  uint64_t child_start_ns = 0;  // since boot: with the pid, the process key
};

struct Exec {
  uint64_t time_ns = 0;
  uint64_t pid = 0;
  uint64_t ppid = 0;
  uint64_t start_ns = 0;  // the process's start (fork) time since boot
  uint64_t uid = 0;
  std::string exe;        // resolved executable path
  std::vector<std::string> argv;  // raw: redacted by enrichment
  std::string cwd;
};

struct Exit {
  uint64_t time_ns = 0;
  uint64_t pid = 0;
  int64_t exit_code = 0;  // -1 when killed by a signal
  int64_t signal = 0;
};

// A file opened by path, resolved to an absolute path (lexically: `.` and
// `..` folded, symlinks not followed).
struct Open {
  uint64_t time_ns = 0;
  uint64_t pid = 0;
  std::string path;
  bool write = false;
};

struct Connect {
  uint64_t time_ns = 0;
  uint64_t pid = 0;
  std::string protocol;  // tcp, udp
  std::string daddr;     // textual IPv4 / IPv6
  uint64_t dport = 0;
  int64_t result = 0;    // 0 or in progress, else -errno
};

// A DNS question a process sent, with the answer when it was received.
struct Dns {
  uint64_t time_ns = 0;
  uint64_t pid = 0;
  std::string name;
  std::string qtype;
  std::string server;  // resolver address
  std::string rcode;   // empty when no answer was seen
  std::vector<std::string> answers;
  std::vector<std::string> addresses;  // A/AAAA answers
};

// Reading another process's memory without a file: process_vm_readv, or
// attaching to it with ptrace.
struct ProcessAccess {
  uint64_t time_ns = 0;
  uint64_t pid = 0;
  uint64_t target_pid = 0;
  std::string access;  // process_vm_readv, ptrace_attach
};

// Receives observations on the backend's capture thread, in the order the
// backend saw them. Implementations must not block for long: the observed
// process may be stopped until the call returns.
class Observer {
 public:
  virtual ~Observer() = default;
  virtual void on_fork(const Fork&) = 0;
  virtual void on_exec(const Exec&) = 0;
  virtual void on_exit(const Exit&) = 0;
  virtual void on_open(const Open&) = 0;
  virtual void on_connect(const Connect&) = 0;
  virtual void on_process_access(const ProcessAccess&) = 0;
  virtual void on_dns(const Dns&) = 0;
  // Cheap pre-filter for opens: false when no rule can care about a file
  // with this last path component, so the backend skips resolving it.
  virtual bool wants_open(std::string_view basename) const = 0;
};

}  // namespace bt::agent::capture

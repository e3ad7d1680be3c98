// What a capture backend observes, before enrichment. Every backend (wrap:
// seccomp + ptrace, daemon: eBPF) reports these few raw facts about
// processes as one `Observation`; agent/route hands them to a build's
// agent/enrich pipeline, which turns them into events (keys, build block,
// redaction, secret rules, upload recognition, digests). No policy lives
// in a backend.
//
// A new kind of observation is one more struct here and one more
// alternative in `Observation`: every visitor of it (the pipeline, tests)
// then fails to compile until it handles the new kind.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/overloaded.h"

namespace bt::agent::capture {

struct Fork {
  uint64_t time_ns = 0;
  uint64_t parent_pid = 0;
  uint64_t child_pid = 0;
  uint64_t child_start_ns = 0;  // since boot: with the pid, the process key
};

// One standard descriptor of a process at its exec (capture/stdio.h
// classifies it from its file type and device, the same in both backends).
struct StdioFd {
  std::string kind;    // events::Stdio's kinds; empty: not recorded
  uint64_t inode = 0;  // a pipe's or socket's
  std::string remote;  // a connected socket's peer: IP:port, [IPv6]:port, unix:PATH
  bool operator==(const StdioFd&) const = default;
};

struct Exec {
  uint64_t time_ns = 0;
  uint64_t pid = 0;
  uint64_t ppid = 0;
  uint64_t start_ns = 0;  // the process's start (fork) time since boot
  uint64_t uid = 0;
  std::string exe;                // resolved executable path
  std::vector<std::string> argv;  // raw: redacted by enrichment
  std::string cwd;
  // "NAME=value" entries of the identity variables of the new program's
  // environment (attribution's allow-list, never a secret), when the
  // capture read them at the exec (the daemon's kernel does for a build's
  // first kIdentityExecs execs); nullopt when it did not.
  std::optional<std::vector<std::string>> identity_env;
  std::array<StdioFd, 3> stdio;  // descriptors 0, 1, 2 after the exec
  // The build process that wrote the executable earlier in the build, when
  // the backend tracks writes itself (the daemon's kernel); 0: not known.
  uint64_t writer_pid = 0;
  uint64_t writer_start_ns = 0;
};

// How many execs of a build have their environment read until one names
// the build (GitLab's shell executor exports CI_* only in the job script's
// children): the kernel's budget (BT_ENV_TRIES) and agent/route's.
inline constexpr uint32_t kIdentityExecs = 32;

struct Exit {
  uint64_t time_ns = 0;
  uint64_t pid = 0;
  int64_t exit_code = 0;  // -1 when killed by a signal
  int64_t signal = 0;
  // The process's own resource use (all threads, not children); 0 when
  // the capture could not read it (process_exit's user_ns, system_ns,
  // peak_rss_bytes).
  uint64_t user_ns = 0;
  uint64_t system_ns = 0;
  uint64_t peak_rss_bytes = 0;
};

// The process behind another process's /proc/<pid>/ file, or a ptrace
// attach or process_vm_readv, as the capture saw it at the call (the
// daemon's kernel reads it then; the target may be gone before the record
// is decoded).
struct ProcTarget {
  uint64_t pid = 0;
  uint64_t start_ns = 0;  // since boot, clock-tick resolution: with the pid, its process key
  std::string comm;       // task name
  std::string exe;        // executable path; empty when it had none
  bool runner = false;    // a CI runner the capture tracks (the daemon's kernel registered it)
};

// A file opened by path, resolved to an absolute path (lexically: `.` and
// `..` folded, symlinks not followed).
struct Open {
  uint64_t time_ns = 0;
  uint64_t pid = 0;
  std::string path;
  bool write = false;
  // For /proc/<pid>/{environ,mem,maps} of another process, when the
  // capture read its target at the open; nullopt: enrichment reads /proc.
  std::optional<ProcTarget> target;
  // 0: opened; else the call's -errno. Backends report failed opens only
  // where one may be an attempt at a secret (the daemon's kernel: EACCES,
  // EPERM, ENOENT of names its filter passes; run: the opens wants_result()
  // asked for); enrichment keeps the failures secret_access counts.
  int64_t result = 0;
};

struct Connect {
  uint64_t time_ns = 0;
  uint64_t pid = 0;
  std::string protocol;  // tcp, udp
  std::string daddr;     // textual IPv4 / IPv6
  uint64_t dport = 0;
  int64_t result = 0;  // 0 or in progress, else -errno
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
  uint64_t target_pid = 0;  // as the caller named it (a thread, for ptrace), or the target's process
  std::string access;       // process_vm_readv, ptrace_attach
  // The target's process as the capture saw it at the call (the daemon's
  // kernel); without it enrichment reads /proc (run: the target is alive).
  std::optional<ProcTarget> target;
};

// A build process changing a file by name or descriptor. The wrap backend
// reports every one (its exec provenance is the pipeline's); the daemon's
// kernel keeps provenance itself and reports the write-opens that pass its
// watch filter, and every rename, unlink, chmod +x and truncate. Paths are
// absolute, resolved lexically like Open's. No backend reports closes: a
// write is hashed when its writer exits (every descriptor is closed by then).
struct FileWrite {
  enum class Op : uint8_t { open, rename, unlink, chmod, truncate };
  uint64_t time_ns = 0;
  uint64_t pid = 0;
  Op op = Op::open;
  std::string path;           // rename: the old name
  std::string new_path;       // rename: the new name
  uint64_t flags = 0;         // open: the O_* flags; chmod: the new mode
  bool created = false;       // open: the call creates the file (it did not exist)
  uint64_t dev = 0, ino = 0;  // open: the file, when the backend saw it opened (0: not known)
};

using Observation = std::variant<Fork, Exec, Exit, Open, Connect, Dns, ProcessAccess, FileWrite>;

// The process an observation is about: for a fork, the parent that forked.
inline uint64_t pid_of(const Observation& o) {
  return std::visit(Overloaded{[](const Fork& f) { return f.parent_pid; },
                               [](const auto& other) { return other.pid; }},  // every other kind has one
                    o);
}

// Receives observations on the backend's capture thread, in the order the
// backend saw them. Implementations must not block for long: the observed
// process may be stopped until the call returns.
class Sink {
 public:
  virtual ~Sink() = default;
  virtual void on(const Observation& observation) = 0;
  // Cheap pre-filter for opens: false when no rule can care about a file
  // with this last path component, so the backend skips resolving it.
  virtual bool wants_open(std::string_view basename) const = 0;
  // For an open the backend sees before it runs (run's notifier): true
  // when a rule matches it, so its result is worth waiting for (a failed
  // attempt at a secret is reported with its errno). A pure function of
  // the rules: any thread may call it.
  virtual bool wants_result(const Open& open) const {
    (void)open;
    return false;
  }
};

// The build a process belongs to, where the capture itself tracks it (the
// daemon's kernel follows every build from its runner's fork): the build's
// first process and its start time. {0, 0}: outside builds (record-all).
struct BuildKey {
  uint32_t root_pid = 0;
  uint64_t root_start_ns = 0;
  bool operator==(const BuildKey&) const = default;
  auto operator<=>(const BuildKey&) const = default;
};

// An observation's place in the build tree, as the capture saw it.
struct InBuild {
  BuildKey build;
  // A fork whose parent is a CI runner: the child starts a build.
  bool starts_build = false;
  // An exec of a process that was not forked in the build but entered it
  // (a `docker exec` into a container the build started).
  bool joined = false;
};

}  // namespace bt::agent::capture

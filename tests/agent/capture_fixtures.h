// What the capture tests of `run` and `daemon` share: reading the events a
// capture wrote, loopback peers (a TCP listener, a DNS server), the shared
// bench workloads and strace's view of the same execs.
#pragma once

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/events/json.h"
#include "tests/common/test_util.h"

namespace bt::testing::capture {

// Fake secrets only: shaped like the real thing so redaction and the rules
// catch them.
inline const std::string kFakeGithubToken = "ghp_FAKEfakeFAKEfakeFAKEfakeFAKEfake0123";  // not a real token
inline const std::string kFakeAwsKey = "AKIAIOSFODNN7EXAMPLE";                           // AWS's documented example

inline std::string agent_bin() { return build_path("agent/buildtrail-agent"); }

inline std::vector<events::Event> read_events(const std::string& path) {
  std::vector<events::Event> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) out.push_back(events::from_json(line).value());
  return out;
}

inline std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

template <typename T>
inline std::vector<const T*> bodies(const std::vector<events::Event>& evs) {
  std::vector<const T*> out;
  for (const auto& e : evs)
    if (const auto* b = std::get_if<T>(&e.body)) out.push_back(b);
  return out;
}

struct Listener {
  int fd = -1;
  int port = 0;
  Listener() {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd, 16);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  ~Listener() { ::close(fd); }
};

inline std::string shared_bench() {
  for (const std::string& c :
       {testing::env_or("BUILDTRAIL_SHARED_BENCH", ""), testing::env_or("BUILDTRAIL_SRC", ".") + "/../shared/bench",
        std::string("/work/shared/bench")})
    if (!c.empty() && ::access((c + "/workloads/exec_storm.sh").c_str(), R_OK) == 0) return c;
  FAIL("the shared bench workloads are missing: set BUILDTRAIL_SHARED_BENCH");
  return {};
}

inline std::string unhex(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i + 3 < s.size() + 0 && s[i] == '\\' && s[i + 1] == 'x'; i += 4)
    out.push_back(static_cast<char>(std::stoi(s.substr(i + 2, 2), nullptr, 16)));
  return out;
}

using ExecSet = std::multiset<std::pair<std::string, std::vector<std::string>>>;

// The (exe, argv) of every process_exec among `evs`.
inline ExecSet exec_set(const std::vector<const events::Event*>& evs) {
  ExecSet out;
  for (const auto* e : evs)
    if (const auto* x = std::get_if<events::ProcessExec>(&e->body)) out.emplace(e->process.exe, x->argv);
  return out;
}

inline std::vector<const events::Event*> pointers(const std::vector<events::Event>& evs) {
  std::vector<const events::Event*> out;
  for (const auto& e : evs) out.push_back(&e);
  return out;
}

// The capture saw exactly the execs strace saw; the differences are printed.
inline void check_same_execs(const ExecSet& ours, const ExecSet& theirs) {
  CHECK(ours.size() == theirs.size());
  std::vector<ExecSet::value_type> only_ours, only_theirs;
  std::set_difference(ours.begin(), ours.end(), theirs.begin(), theirs.end(), std::back_inserter(only_ours));
  std::set_difference(theirs.begin(), theirs.end(), ours.begin(), ours.end(), std::back_inserter(only_theirs));
  for (const auto& e : only_ours)
    MESSAGE("only buildtrail: " << e.first << " " << (e.second.empty() ? "" : e.second[0]));
  for (const auto& e : only_theirs) MESSAGE("only strace: " << e.first << " " << (e.second.empty() ? "" : e.second[0]));
  CHECK(only_ours.empty());
  CHECK(only_theirs.empty());
}

// file_storm with FILE_STORM_DIRS=2 FILE_STORM_FILES=3 FILE_STORM_PASSES=1:
// 147 credential opens, 21 of each of the 7 files under `home` (10 rounds
// of an absolute and a relative open, plus one cat).
inline const char* kSmallFileStorm = "FILE_STORM_DIRS=2 FILE_STORM_FILES=3 FILE_STORM_PASSES=1";
inline void check_file_storm_secrets(const std::vector<const events::Event*>& evs, const std::string& home) {
  std::map<std::string, int> by_path;
  int total = 0;
  for (const auto* e : evs)
    if (const auto* s = std::get_if<events::SecretAccess>(&e->body)) {
      CHECK(s->path.rfind(home + "/", 0) == 0);
      ++by_path[s->path];
      ++total;
    }
  CHECK(total == 147);
  CHECK(by_path.size() == 7);
  for (const auto& p : by_path) CHECK_MESSAGE(p.second == 21, p.first);
}

// (exe, argv) of every successful execve in an `strace -f -xx -v -s 65536` log.
inline ExecSet strace_execs(const std::string& log) {
  ExecSet out;
  std::ifstream in(log);
  std::string line;
  while (std::getline(in, line)) {
    const auto at = line.find("execve(\"");
    if (at == std::string::npos || line.find(") = 0") == std::string::npos) continue;
    std::size_t pos = at + 8;
    const auto end = line.find('"', pos);
    std::string exe = unhex(line.substr(pos, end - pos));
    char real[4096];
    if (::realpath(exe.c_str(), real)) exe = real;
    std::vector<std::string> argv;
    pos = line.find('[', end);
    const auto close = line.find(']', pos);
    while ((pos = line.find('"', pos)) != std::string::npos && pos < close) {
      const auto q = line.find('"', pos + 1);
      argv.push_back(unhex(line.substr(pos + 1, q - pos - 1)));
      pos = q + 1;
    }
    out.emplace(exe, argv);
  }
  return out;
}

// A loopback DNS server on 127.0.0.77:53 answering every A question with
// 127.0.0.1 (port 53 needs root, which CI has).
struct DnsServer {
  int fd = -1;
  std::thread thread;
  explicit DnsServer() {
    fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(53);
    ::inet_pton(AF_INET, "127.0.0.77", &a.sin_addr);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    thread = std::thread([this] {
      uint8_t q[512];
      for (;;) {
        sockaddr_in from{};
        socklen_t len = sizeof from;
        const ssize_t n = ::recvfrom(fd, q, sizeof q, 0, reinterpret_cast<sockaddr*>(&from), &len);
        if (n <= 12) return;
        std::vector<uint8_t> r(q, q + n);
        r[2] = 0x81;
        r[3] = 0x80;
        r[7] = 1;  // one answer
        const uint8_t answer[] = {0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1};
        r.insert(r.end(), answer, answer + sizeof answer);
        ::sendto(fd, r.data(), r.size(), 0, reinterpret_cast<sockaddr*>(&from), len);
      }
    });
  }
  ~DnsServer() {
    ::shutdown(fd, SHUT_RDWR);
    ::close(fd);
    thread.join();
  }
};

// A script file whose execs say what they do by their standard descriptors,
// not their argv: a payload piped into a shell (`curl ... | sh`, cat for
// curl), a shell whose descriptors are a TCP connection to `port` (a
// reverse shell's shape), /dev/null and a closed descriptor, and a program
// whose stdout is a Unix socket connected to DIR/peer.sock (UnixListener). The
// markers in argv only let the test find the execs. Returns its path.
// stdio_script's Unix socket listener: DIR/peer.sock.
struct UnixListener {
  int fd = -1;
  explicit UnixListener(const std::string& path) {
    fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    REQUIRE(path.size() < sizeof(a.sun_path));
    path.copy(a.sun_path, path.size());
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd, 16) == 0);
  }
  ~UnixListener() { ::close(fd); }
};

inline std::string stdio_script(const std::string& dir, int port) {
  REQUIRE(testing::run_command("printf '/bin/true PIPED-PAYLOAD\\n' > " + dir + "/payload.sh").exit_code == 0);
  const std::string script = dir + "/stdio.sh";
  std::ofstream(script)
      << "#!/bin/bash\n"
      << "/bin/cat " << dir << "/payload.sh | /bin/sh -s PIPE-READER\n"
      << "exec 3<>/dev/tcp/127.0.0.1/" << port << "\n"
      << "/bin/sh -c 'exit 0' SOCKET-SHELL <&3 >&3 2>&3\n"
      << "exec 3<&-\n"
      << "/bin/true NULL-AND-CLOSED </dev/null >/dev/null 2>&-\n"
      << "/usr/bin/python3 -c \"import os,socket; s=socket.socket(socket.AF_UNIX); s.connect('" << dir
      << "/peer.sock'); os.dup2(s.fileno(), 1); os.execv('/bin/true', ['/bin/true', 'UNIX-' + 'PEER'])\"\n";
  REQUIRE(::chmod(script.c_str(), 0755) == 0);
  return script;
}

// What both modes must record of stdio_script's execs (in `dir_of_script`).
inline void check_stdio_events(const std::vector<events::Event>& evs, int port, const std::string& dir_of_script) {
  auto find = [&](const std::string& marker) -> const events::Event* {
    for (const auto& e : evs)
      if (const auto* x = std::get_if<events::ProcessExec>(&e.body))
        for (const auto& a : x->argv)
          if (a.find(marker) != std::string::npos) return &e;
    FAIL("no exec with " << marker);
    return nullptr;
  };
  const events::Event* cat = find("payload.sh");
  const events::Event* reader = find("PIPE-READER");
  const events::Event* shell = find("SOCKET-SHELL");
  const events::Event* null = find("NULL-AND-CLOSED");
  const auto& c = std::get<events::ProcessExec>(cat->body);
  const auto& r = std::get<events::ProcessExec>(reader->body);
  CHECK(c.stdout_fd.kind == "pipe");
  CHECK(r.stdin_fd.kind == "pipe");
  CHECK(c.stdout_fd.inode != 0);
  CHECK(c.stdout_fd.inode == r.stdin_fd.inode);
  // Whichever exec'd second names the first.
  CHECK((r.stdin_fd.peer_key == cat->process.key || c.stdout_fd.peer_key == reader->process.key));
  CHECK(!cat->process.key.empty());
  const auto& s = std::get<events::ProcessExec>(shell->body);
  const std::string remote = "127.0.0.1:" + std::to_string(port);
  for (const events::Stdio* fd : {&s.stdin_fd, &s.stdout_fd, &s.stderr_fd}) {
    CHECK(fd->kind == "socket");
    CHECK(fd->remote == remote);
  }
  const auto& n = std::get<events::ProcessExec>(null->body);
  CHECK(n.stdin_fd.kind == "null");
  CHECK(n.stdout_fd.kind == "null");
  CHECK(n.stderr_fd.kind == "closed");
  const auto& u = std::get<events::ProcessExec>(find("UNIX-PEER")->body);
  CHECK(u.stdout_fd.kind == "socket");
  CHECK(u.stdout_fd.remote == "unix:" + dir_of_script + "/peer.sock");
}

// A Python program that resolves `name` as glibc does (sendto/recvfrom to
// the DnsServer at 127.0.0.77) and connects to the answer on `port`.
inline std::string resolve_and_connect_py(const std::string& name, int port) {
  return "import socket, struct\n"
         "q = struct.pack('>HHHHHH', 3, 0x0100, 1, 0, 0, 0) + b''.join(bytes([len(p)]) + p.encode() for p in '" +
         name +
         "'.split('.')) + b'\\0\\0\\1\\0\\1'\n"
         "u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
         "u.sendto(q, ('127.0.0.77', 53)); a = u.recvfrom(512)[0]\n"
         "t = socket.create_connection(('.'.join(str(b) for b in a[-4:]), " +
         std::to_string(port) + ")); t.close()\n";
}

// A Python program whose child burns ~0.3 s of user CPU with 64 MiB
// resident (touched), then exits; the parent leaves it a zombie for a
// while (so `run` can read its times) and does little itself.
inline const char* kBurnPy =
    "import subprocess, sys, time\n"
    "code = 'b = bytearray(64 << 20)\\nfor i in range(0, len(b), 4096): b[i] = 1\\n"
    "t = time.process_time()\\nwhile time.process_time() - t < 0.3:\\n  for _ in range(100000): pass\\n'\n"
    "p = subprocess.Popen([sys.executable, '-c', 'import time\\n' + code])\n"
    "time.sleep(1.5)\n"
    "sys.exit(p.wait())\n";

// The process_exit events of kBurnPy's two python3 processes, in order
// (the child first).
inline std::vector<const events::ProcessExit*> burn_exits(const std::vector<events::Event>& evs) {
  std::vector<const events::ProcessExit*> exits;
  for (const auto& e : evs)
    if (const auto* x = std::get_if<events::ProcessExit>(&e.body);
        x && e.process.exe.find("python3") != std::string::npos)
      exits.push_back(x);
  return exits;
}

// kBurnPy's exits (burn_exits) as both modes must report them: the
// child's CPU time and its 64 MiB, the parent's own (not its child's).
inline void check_burn_exits(const std::vector<const events::ProcessExit*>& exits) {
  REQUIRE(exits.size() == 2);  // the child first
  CHECK(exits[0]->user_ns >= 200000000);
  CHECK(exits[0]->user_ns < 2000000000);
  CHECK(exits[0]->peak_rss_bytes >= 64u << 20);
  CHECK(exits[0]->peak_rss_bytes < 512u << 20);
  CHECK(exits[1]->user_ns < exits[0]->user_ns);
  CHECK(exits[1]->peak_rss_bytes > 0);
  CHECK(exits[1]->peak_rss_bytes < 64u << 20);
}

}  // namespace bt::testing::capture

// Real syslog servers for the syslog output's tests, started on loopback
// by the test: rsyslog (Debian's rsyslog and rsyslog-gnutls: TCP, TLS,
// UDP) and syslog-ng (Debian's syslog-ng-core, which conflicts with
// rsyslog as a package: scripts/test-services.sh unpacks it into the build
// folder, and it runs from there). Each writes one line per message it
// parsed as RFC 5424 to a file the test reads:
//
//   MSGID|STRUCTURED-DATA|MSG
//
// with the server's own parse of each part (rsyslog's %msgid%,
// %structured-data%, %msg%; syslog-ng's $MSGID, $SDATA, $MSG).
#pragma once

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "common/fs.h"
#include "tests/common/test_pki.h"
#include "tests/common/test_util.h"

namespace bt::testing {

// A loopback port nobody listens on now (bound, then let go).
inline int free_port(int type = SOCK_STREAM) {
  const int fd = ::socket(AF_INET, type, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  ::close(fd);
  return ntohs(a.sin_port);
}

inline bool accepts_tcp(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// One message as the server parsed it.
struct Received {
  std::string msgid, sd, msg;
  std::map<std::string, std::string> params;  // of the first SD element, unescaped
};

// RFC 5424 6.3.3 read back: PARAM-NAME="value" with \" \\ \] escapes.
inline std::map<std::string, std::string> sd_params(const std::string& sd) {
  std::map<std::string, std::string> out;
  std::size_t i = sd.find(' ');
  while (i != std::string::npos && i < sd.size() && sd[i] == ' ') {
    const auto eq = sd.find('=', i);
    if (eq == std::string::npos || eq + 1 >= sd.size() || sd[eq + 1] != '"') break;
    const std::string name = sd.substr(i + 1, eq - i - 1);
    std::string value;
    std::size_t j = eq + 2;
    for (; j < sd.size() && sd[j] != '"'; ++j) {
      if (sd[j] == '\\' && j + 1 < sd.size() && (sd[j + 1] == '"' || sd[j + 1] == '\\' || sd[j + 1] == ']')) ++j;
      value += sd[j];
    }
    out[name] = value;
    i = j + 1;
  }
  return out;
}

// The lines of the receiver's file, each split where its parts end: the
// SD ends at its first ']' that no backslash escapes.
inline std::vector<Received> parse_received(const std::string& text) {
  std::vector<Received> out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(start, end - start);
    start = end + 1;
    Received r;
    const auto bar = line.find('|');
    if (bar == std::string::npos) {
      r.msg = line;  // not ours: the test sees it as an extra line
      out.push_back(r);
      continue;
    }
    r.msgid = line.substr(0, bar);
    std::size_t j = bar + 1;
    if (j < line.size() && line[j] == '[') {
      for (; j < line.size(); ++j) {
        if (line[j] == '\\') {
          ++j;
          continue;
        }
        if (line[j] == ']') break;
      }
    }
    r.sd = line.substr(bar + 1, j + 1 - bar - 1);
    r.msg = j + 2 <= line.size() ? line.substr(j + 2) : "";
    if (!r.msg.empty() && r.msg.front() == ' ') r.msg.erase(0, 1);
    r.params = sd_params(r.sd);
    out.push_back(std::move(r));
  }
  return out;
}

class SyslogServer {
 public:
  virtual ~SyslogServer() { stop(SIGKILL); }
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string out_file() const { return dir_ + "/out.txt"; }
  std::vector<Received> received() const {
    auto text = fs::read_file(out_file(), 1 << 30);
    return text ? parse_received(*text) : std::vector<Received>{};
  }
  std::string log() const {
    auto text = fs::read_file(dir_ + "/server.log", 1 << 20);
    return text ? *text : "";
  }

  bool start() {
    pid_ = ::fork();
    if (pid_ == 0) {
      ::setsid();
      const std::string log = dir_ + "/server.log";
      FILE* f = std::fopen(log.c_str(), "a");
      if (f) ::dup2(fileno(f), 1), ::dup2(fileno(f), 2);
      std::vector<char*> argv;
      for (auto& a : argv_) argv.push_back(a.data());
      argv.push_back(nullptr);
      if (!env_.empty()) ::setenv(env_.substr(0, env_.find('=')).c_str(), env_.substr(env_.find('=') + 1).c_str(), 1);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    for (int i = 0; i < 200; ++i) {
      if (udp_ ? i > 10 : accepts_tcp(port_)) return true;
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  void stop(int sig = SIGTERM) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    int status = 0;
    for (int i = 0; i < 200 && ::waitpid(pid_, &status, WNOHANG) == 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

 protected:
  SyslogServer(const char* tag, bool udp)
      : dir_(make_temp_dir(tag)), udp_(udp), port_(free_port(udp ? SOCK_DGRAM : SOCK_STREAM)) {}
  std::string dir_;
  bool udp_;
  int port_;
  std::vector<std::string> argv_;
  std::string env_;  // NAME=value for the server
  pid_t pid_ = -1;
};

// rsyslogd -n with a config of its own: imtcp (optionally over gtls,
// asking for a client certificate of the test CA) or imudp, omfile.
class Rsyslog : public SyslogServer {
 public:
  enum class Mode { kTcp, kTls, kUdp };
  // `server` names the certificate it presents (TestPki: server, expired).
  explicit Rsyslog(Mode mode, const TestPki* pki = nullptr, const std::string& server = "server")
      : SyslogServer("rsyslog", mode == Mode::kUdp) {
    std::string conf = "global(workDirectory=\"" + dir_ + "\" maxMessageSize=\"64k\"";
    if (mode == Mode::kTls)
      conf += " defaultNetstreamDriverCAFile=\"" + pki->f("ca.pem") + "\" defaultNetstreamDriverCertFile=\"" +
              pki->dir + "/" + server + ".pem\" defaultNetstreamDriverKeyFile=\"" + pki->dir + "/" + server + ".key\"";
    conf += ")\n";
    if (mode == Mode::kUdp) {
      conf += "module(load=\"imudp\")\ninput(type=\"imudp\" address=\"127.0.0.1\" port=\"" + std::to_string(port_) +
              "\")\n";
    } else {
      conf += "module(load=\"imtcp\"";
      if (mode == Mode::kTls)
        conf += " streamDriver.name=\"gtls\" streamDriver.mode=\"1\" streamDriver.authMode=\"x509/certvalid\"";
      conf += ")\ninput(type=\"imtcp\" address=\"127.0.0.1\" port=\"" + std::to_string(port_) + "\")\n";
    }
    conf +=
        "template(name=\"line\" type=\"string\" string=\"%msgid%|%structured-data%|%msg%\\n\")\n"
        "action(type=\"omfile\" file=\"" +
        out_file() + "\" template=\"line\")\n";
    REQUIRE(fs::write_new_file(dir_ + "/rsyslog.conf", conf, 0600).ok());
    argv_ = {"/usr/sbin/rsyslogd", "-n", "-f", dir_ + "/rsyslog.conf", "-i", dir_ + "/rsyslog.pid"};
  }
};

// syslog-ng -F from the unpacked package, its syslog() source on TCP
// (RFC 6587 octet counting) and a file destination.
class SyslogNg : public SyslogServer {
 public:
  static std::string root() { return build_path("deps/syslog-ng"); }
  static bool available() { return ::access((root() + "/usr/sbin/syslog-ng").c_str(), X_OK) == 0; }

  SyslogNg() : SyslogServer("syslog-ng", false) {
    const std::string conf =
        "@version: 3.38\noptions { log-msg-size(65536); };\n"
        "source s_net { syslog(ip(\"127.0.0.1\") port(" +
        std::to_string(port_) +
        ") transport(\"tcp\") max-connections(10)); };\n"
        "destination d_file { file(\"" +
        out_file() +
        "\" template(\"$MSGID|$SDATA|$MSG\\n\")); };\n"
        "log { source(s_net); destination(d_file); };\n";
    REQUIRE(fs::write_new_file(dir_ + "/syslog-ng.conf", conf, 0600).ok());
    const std::string r = root();
    argv_ = {r + "/usr/sbin/syslog-ng",
             "-F",
             "-f",
             dir_ + "/syslog-ng.conf",
             "--module-path=" + r + "/usr/lib/syslog-ng/3.38",
             "-R",
             dir_ + "/persist",
             "-p",
             dir_ + "/pid",
             "-c",
             dir_ + "/ctl",
             "--no-caps"};
    env_ = "LD_LIBRARY_PATH=" + r + "/usr/lib/syslog-ng:" + r + "/usr/lib";
  }
};

}  // namespace bt::testing

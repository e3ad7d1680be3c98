// The UI (collector/ui/) in a real browser: Debian's chromium driven by
// playwright-core (tests/ui/browser.mjs; scripts/ui-deps.sh installs the
// pinned package). A real collector on loopback holds a real build captured
// by `buildtrail-agent run` -- a credential read, credential hunting that
// raises BT-11, a DNS answer and a connection to the name, and a program
// named `<img src=x onerror=alert(1)>` with hostile argv -- and a user made
// by `users add`; the browser logs in through the form and checks what a
// person sees (browser.mjs says what). A second case loads a synthetic
// build of 50,000 events and reports how long the page takes (not
// asserted: speed targets are benchmarks). Screenshots go to
// BUILDTRAIL_BUILD/meson-logs/ui-screenshots/. Without node or chromium
// the binary exits 77 (skipped); as root chromium runs with --no-sandbox.
#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include <filesystem>
#include <fstream>

#include "tests/agent/incident_fixtures.h"
#include "tests/collector/alert_fixtures.h"  // kT0

using namespace bt;
using namespace bt::testing;

namespace {

const std::string kPassword = "a long test password";

std::string src(const std::string& p) { return env_or("BUILDTRAIL_SRC", ".") + "/" + p; }
std::string collector_bin() { return build_path("collector/buildtrail-collector"); }
std::string shots() { return build_path("meson-logs/ui-screenshots"); }

// Node, chromium and playwright-core, once per process: exits 77 when node
// or chromium cannot run; installing the package must work (CI reaches npm).
void need_browser() {
  static const bool checked = [] {
    if (run_command("node --version").exit_code != 0 || run_command("/usr/bin/chromium --version").exit_code != 0) {
      std::fprintf(stderr, "ui: node or chromium cannot run here: skipped (make deps)\n");
      std::exit(77);
    }
    const auto install = run_command(src("scripts/ui-deps.sh"));
    if (install.exit_code != 0) {
      std::fprintf(stderr, "ui: scripts/ui-deps.sh failed: %s\n", install.output.c_str());
      std::exit(1);
    }
    return true;
  }();
  (void)checked;
}

void add_user(const std::string& data, const std::string& name) {
  const auto r = run_command("printf '%s\\n' '" + kPassword + "' | " + collector_bin() + " users add --data " + data +
                             " --role viewer " + name);
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
}

// Runs a scenario of browser.mjs; its last line is {"ok":…,"times_ms":{…}}.
rapidjson::Document browse(const std::string& scenario, const std::string& env) {
  const auto r = run_command("cd " + src("tests/ui") + " && env " + env + " BT_SHOTS=" + shots() +
                             " node browser.mjs " + scenario);
  MESSAGE(r.output);
  std::string last = r.output;
  while (!last.empty() && last.back() == '\n') last.pop_back();
  last = last.substr(last.rfind('\n') == std::string::npos ? 0 : last.rfind('\n') + 1);
  rapidjson::Document d;
  d.Parse(last.c_str());
  REQUIRE_MESSAGE(!d.HasParseError(), r.output);
  CHECK_MESSAGE(r.exit_code == 0, r.output);
  const rapidjson::Document& answer = d;  // const: clang 14 compares RapidJSON's const iterators only
  CHECK(answer["ok"].IsTrue());
  return d;
}

std::string quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

TEST_CASE("the UI in chromium: login, the build list, the tree by keyboard, egress, hostile names as text, logout") {
  need_browser();
  incidents::Sensor s("ui");
  const std::string xss = "<img src=x onerror=alert(1)>";
  const std::string ws = s.d.root + "/ws";
  std::filesystem::create_directories(ws);
  std::filesystem::copy_file("/bin/true", ws + "/" + xss);
  REQUIRE(run_command("mkdir -p " + s.home + "/.aws && printf '[default]\\naws_access_key_id = " +
                      capture::kFakeAwsKey + "\\n' > " + s.home + "/.aws/credentials")
              .exit_code == 0);
  // A DNS answer for a name, then a connection to its address (the
  // collector's own port): egress shows the name. Port 53 needs root.
  const bool dns = incidents::can_serve_dns();
  std::optional<capture::DnsServer> resolver;
  if (dns) resolver.emplace();
  const std::string port = s.c.address().substr(s.c.address().rfind(':') + 1);
  const std::string py =
      "import socket, struct\n"
      "q = struct.pack('>HHHHHH', 7, 0x0100, 1, 0, 0, 0) + b''.join(bytes([len(p)]) + p.encode() for p in "
      "'registry.example.test'.split('.')) + b'\\0\\0\\1\\0\\1'\n"
      "u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(2)\n"
      "u.sendto(q, ('127.0.0.77', 53))\n"
      "try:\n    u.recvfrom(512)\nexcept OSError:\n    pass\n"
      "socket.create_connection(('127.0.0.1', " +
      port + ")).close()\n";
  std::ofstream(s.d.root + "/egress.py") << py;
  const auto r = s.build("2101",
                         "cat $HOME/.aws/credentials > /dev/null\n"
                         "grep -r aws_access_key_id $HOME > /dev/null 2>&1 || true\n"
                         "python3 " +
                             s.d.root + "/egress.py\n" + quoted("./" + xss) +
                             " '<script>alert(2)</script>' '\"><img src=x onerror=alert(3)>' "
                             "'javascript:alert(4)' $'\\xe2\\x80\\xaegnp.exe'\n",
                         "", ws);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const auto rules = s.rules_of("2101");
  REQUIRE(rules.count("BT-11") > 0);
  const int64_t ref = s.build_ref("2101");
  add_user(s.d.data, "alice");
  const auto d = browse("trail", "BT_URL=http://" + s.c.address() + " BT_USER=alice BT_PASS=" + quoted(kPassword) +
                                     " BT_BUILD=" + std::to_string(ref) + " BT_XSS=" + quoted(xss) +
                                     " BT_DNS=" + (dns ? "registry.example.test" : ""));
  if (!dns) MESSAGE("egress's DNS name not checked: 127.0.0.77:53 cannot be bound (needs root)");
  // Logged without the password; the failures and the refusal logged.
  const std::string log = s.c.log();
  CHECK(log.find("ui: user 'alice' logged in from 127.0.0.1") != std::string::npos);
  CHECK(log.find("ui: failed login from 127.0.0.1: wrong password for user 'alice'") != std::string::npos);
  CHECK(log.find("refused for a while: too many failed logins") != std::string::npos);
  CHECK(log.find("wrong password 0") == std::string::npos);
  CHECK(log.find(kPassword) == std::string::npos);
}

namespace {

// A build of a root shell, `fanout` children and `fanout` grandchildren of
// each, every process an exec and an exit, as JSON lines of docs/events.md
// for `buildtrail-agent replay`; returns how many events.
std::size_t write_big_build(const std::string& path, std::size_t fanout) {
  std::ofstream out(path);
  uint64_t t = kT0;
  std::size_t n = 0;
  auto event = [&](const char* kind, const std::string& key, const std::string& parent, const std::string& exe,
                   const std::string& data) {
    out << "{\"time_ns\":" << (t += 1000) << ",\"kind\":\"" << kind
        << "\",\"host\":\"ci-big\",\"agent_id\":\"\",\"build\":{\"ci\":\"github\",\"job\":\"big\",\"id\":\"big-1\","
           "\"repository\":\"example/big\"},\"process\":{\"pid\":"
        << ++n << ",\"ppid\":0,\"key\":\"" << key << "\",\"parent_key\":\"" << parent << "\",\"exe\":\"" << exe
        << "\",\"uid\":0},\"data\":" << data << "}\n";
  };
  auto process = [&](const std::string& key, const std::string& parent, const std::string& exe,
                     const std::string& argv) {
    event("process_exec", key, parent, exe,
          "{\"argv\":" + argv + ",\"cwd\":\"/work\",\"exe_sha256\":\"" + std::string(64, 'a') + "\"}");
    event("process_exit", key, parent, exe, "{\"exit_code\":0,\"duration_ns\":1000000}");
  };
  event("build_start", "1-0", "", "/usr/bin/bash", "{\"mode\":\"wrap\",\"cwd\":\"/work\"}");
  process("1-0", "", "/usr/bin/bash", "[\"bash\",\"build.sh\"]");
  for (std::size_t i = 0; i < fanout; ++i) {
    const std::string child = "c" + std::to_string(i);
    process(child, "1-0", "/usr/bin/make", "[\"make\",\"-C\",\"dir" + std::to_string(i) + "\"]");
    for (std::size_t j = 0; j < fanout; ++j)
      process(child + "-" + std::to_string(j), child, "/usr/bin/cc",
              "[\"cc\",\"-c\",\"f" + std::to_string(j) + ".c\"]");
  }
  event("build_end", "1-0", "", "/usr/bin/bash", "{\"exit_code\":0}");
  return n;
}

}  // namespace

TEST_CASE("the UI in chromium: a build of 50,000 events opens and its tree expands (times reported)") {
  need_browser();
  CollectorData d("ui-big");
  CollectorProcess c(d.data);
  REQUIRE(c.running());
  const std::string events = d.root + "/big.jsonl";
  const std::size_t total = write_big_build(events, 159);
  REQUIRE(total >= 50000);
  // The real agent sends them, through its pipeline, as it sends a build.
  const auto sent =
      run_command(capture::agent_bin() + " replay --events " + events + " --state-dir " + d.root +
                  "/state --collector " + c.url("") + " --enroll-token " + d.token() + " --queue-capacity 100000");
  REQUIRE_MESSAGE(sent.exit_code == 0, sent.output);
  collector::store::BuildFilter f;
  f.ci_build_id = "big-1";
  int64_t ref = 0;
  REQUIRE(eventually([&] {
    const auto rows = collector::store::open_sqlite(d.data, {true, 5000}).value()->builds(f).value();
    if (rows.size() == 1 && rows[0].ended) ref = rows[0].id;
    return ref != 0;
  }));
  MESSAGE("events in the build: " << total);
  add_user(d.data, "bob");
  const auto out = browse("big", "BT_URL=http://" + c.address() + " BT_USER=bob BT_PASS=" + quoted(kPassword) +
                                     " BT_BUILD=" + std::to_string(ref));
  const rapidjson::Document& times = out;  // const: clang 14 compares RapidJSON's const iterators only
  for (const auto& [name, value] : times["times_ms"].GetObject())
    MESSAGE("50,000-event build: " << std::string(name.GetString()) << " = " << value.GetInt64());
}

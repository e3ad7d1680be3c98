// The daemon's user-space pieces that need no kernel: the secret-file
// filter the kernel applies (a superset of the rules), the ring-buffer
// record decoder, and the CI runner rules.
#include <doctest/doctest.h>

#include <cstring>

#include "agent/route/daemon_runners.h"
#include "agent/capture/ebpf/decode.h"
#include "agent/capture/ebpf/filter.h"
#include "agent/capture/ebpf/record.h"
#include "agent/enrich/rules/secrets.h"

using namespace bt::agent;

namespace {

std::pair<std::string, std::string> last_two(const std::string& path) {
  const auto slash = path.rfind('/');
  const std::string name = path.substr(slash + 1);
  const std::string dir = path.substr(0, slash);
  return {dir.substr(dir.rfind('/') + 1), name};
}

bool passes(const ebpf::OpenFilter& f, const std::string& path) {
  const auto [parent, name] = last_two(path);
  return ebpf::filter_passes(f, parent, name);
}

template <typename T>
std::vector<uint8_t> bytes_of(const T& fixed, const std::string& tail = "") {
  std::vector<uint8_t> out(sizeof(T) + tail.size());
  std::memcpy(out.data(), &fixed, sizeof(T));
  std::memcpy(out.data() + sizeof(T), tail.data(), tail.size());
  return out;
}

}  // namespace

TEST_CASE("the kernel's secret-file filter lets through every path a rule matches") {
  const auto& rules = secrets::default_rules();
  const auto filter = ebpf::compile_filter(rules);
  CHECK_FALSE(filter.any_name);
  CHECK(filter.globs.size() <= BT_GLOBS_MAX);
  const secrets::Matcher matcher(rules);
  // One concrete path per default pattern ('*' filled in), under a home.
  int checked = 0;
  for (const auto& r : rules) {
    if (r.pattern.empty() || r.pattern[0] == '!') continue;
    std::string p = r.pattern;
    for (std::size_t star; (star = p.find('*')) != std::string::npos;) p.replace(star, 1, "x1");
    const std::string path = p[0] == '/' ? p : "/home/ci/" + p;
    INFO(path);
    if (!matcher.match(path)) continue;  // e.g. a filled-in glob an exclusion removes
    CHECK(passes(filter, path));
    ++checked;
  }
  CHECK(checked > 50);
  // What a build opens all the time does not pass.
  for (const char* path : {"/usr/include/stdio.h", "/work/app/package.json", "/work/app/src/config",
                           "/usr/lib/x86_64-linux-gnu/libc.so.6", "/work/app/.git/config", "/tmp/cc1.s"})
    CHECK_MESSAGE(!passes(filter, path), path);
  // Other processes' memory and environment.
  CHECK(passes(filter, "/proc/42/environ"));
  CHECK(passes(filter, "/proc/42/mem"));
}

TEST_CASE("filter: site rules with globs, and a rule that can match any name") {
  auto extra = secrets::parse_rules("site-key ci_runner .site/*.key\nall-in-vault ci_runner /vault/*\n");
  REQUIRE(extra);
  auto f = ebpf::compile_filter(*extra);
  CHECK(passes(f, "/home/x/.site/deploy.key"));
  CHECK_FALSE(passes(f, "/home/x/.site/deploy.pub"));
  CHECK_FALSE(passes(f, "/home/x/other/deploy.key"));
  CHECK(passes(f, "/vault/anything"));  // parent "vault", any name
  auto wide = secrets::parse_rules("everything ci_runner *\n");
  REQUIRE(wide);
  CHECK(ebpf::compile_filter(*wide).any_name);
}

TEST_CASE("decode: an exec record with paths, argv and environment") {
  const std::string tail = std::string("/usr/bin/gcc\0/work\0gcc\0-c\0x.c\0CI=true\0", 38);
  bt_exec x{};
  x.h.kind = BT_EXEC;
  x.h.flags = BT_F_ENV;
  x.h.size = static_cast<uint32_t>(sizeof(x) + tail.size());
  x.h.tgid = 77;
  x.h.root_tgid = 70;
  x.h.root_start_ns = 5;
  x.exe_len = 13;
  x.cwd_len = 6;
  x.argv_len = 11;
  x.env_len = 8;
  x.uid = 1000;
  x.ppid = 70;
  auto r = ebpf::decode(bytes_of(x, tail));
  REQUIRE(r);
  CHECK(r->exe == "/usr/bin/gcc");
  CHECK(r->cwd == "/work");
  CHECK(r->argv == std::vector<std::string>{"gcc", "-c", "x.c"});
  CHECK(r->env == std::vector<std::string>{"CI=true"});
  CHECK(r->build == ebpf::BuildKey{70, 5});
  CHECK(r->uid == 1000);
}

TEST_CASE("decode: malformed records are errors that say what is wrong") {
  CHECK_FALSE(ebpf::decode(std::vector<uint8_t>(10)));
  bt_exec x{};
  x.h.kind = BT_EXEC;
  x.h.size = sizeof(x);
  x.exe_len = 4000;  // beyond the record
  auto r = ebpf::decode(bytes_of(x));
  REQUIRE_FALSE(r);
  CHECK(r.error().message.find("exec path") != std::string::npos);
  bt_open o{};
  o.h.kind = BT_OPEN;
  o.h.size = sizeof(o) + 100;  // claims more than there is
  CHECK_FALSE(ebpf::decode(bytes_of(o)));
  bt_header h{};
  h.kind = 99;
  h.size = sizeof(h);
  auto unknown = ebpf::decode(bytes_of(h));
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().message.find("unknown kind 99") != std::string::npos);
}

TEST_CASE("runner rules: defaults, specs from the configuration, the kernel's names") {
  auto rules = daemon::parse_runners("bench:bash:peers/TEMPLATE.sh, teamcity:java:buildAgent , myci:my-runner");
  REQUIRE(rules);
  REQUIRE(rules->size() == 3);
  CHECK((*rules)[0].argv_contains == "peers/TEMPLATE.sh");
  CHECK((*rules)[2].argv_contains.empty());
  for (const char* bad : {"nocomm", "a:b:c:d:e", ":java", "x:a-task-name-over-15"}) {
    auto r = daemon::parse_runners(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find(std::string(bad).substr(0, 5)) != std::string::npos);
  }
  std::vector<daemon::RunnerRule> all = daemon::default_runners();
  all.insert(all.end(), rules->begin(), rules->end());
  const auto comms = daemon::runner_comms(all);
  auto find = [&](const std::string& c) {
    for (const auto& x : comms)
      if (x.comm == c) return x;
    FAIL("no comm " << c);
    return ebpf::RunnerComm{};
  };
  CHECK(find("Runner.Worker").confirmed);  // the name decides, in the kernel
  CHECK_FALSE(find("java").confirmed);     // argv decides, from /proc
  CHECK(find("my-runner").confirmed);
}

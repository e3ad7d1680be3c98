// bench/api: the read API (collector/api/) on one big build, through the real
// collector over loopback HTTP with a bearer token, as the web UI asks it.
// The build: 50,000 events of a make -j build, a process tree of 24,874
// processes (bash -> make -> 6,218 x sh -> c++ -> cc1plus, as), each exec
// and exit, with some DNS and connections; 50 signed batches of 1,000.
// Measured (the first request, cold, and the median of 5, ms, each a whole
// answer):
//  - GET /v1/builds/{id}, /v1/builds?limit=50
//  - /tree (top level and two levels: 6,220 nodes, first page of 500),
//    /tree?root=<an sh>&depth=2, the whole tree (depth=1000) in pages of 5,000
//  - /events: the first page of 2,000, one in the middle, all 25 pages
//  - /egress; /v1/search by digest, by DNS glob, by argv (24,874 execs read
//    back, within the per-request budget)
// Target (issue 21): each request a viewer makes page by page <= 250 ms
// cold on the shared 2-core machine; scans that read every batch of the
// build back (a kind filter over all of it, argv search) and the walks of
// the whole tree and all events are reported, not targeted.
#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "tests/collector/collector_process.h"

using namespace bt;

namespace {

constexpr uint64_t kT0 = 1795775400000000000ull;
constexpr double kTargetMs = 250;
const std::string kCc1Sha(64, 'c');

events::Event event(uint64_t t, const std::string& key, const std::string& parent, const std::string& exe,
                    events::Body body) {
  events::Event e;
  e.time_ns = t;
  e.host = "ci-agent-07";
  e.agent_id = "bench-agent";
  e.build = {"jenkins",
             "payments/api/main",
             "jenkins-payments-api-main-1842",
             "1842",
             "https://jenkins.example.com/job/payments/job/api/job/main/1842/",
             "https://git.example.com/payments/api.git",
             "9f2c1e7b4a5d3c2b1a0f9e8d7c6b5a4f3e2d1c0b",
             "ci-agent-07",
             "main"};
  e.process.pid = std::stoull(key.substr(0, key.find('-')));
  e.process.ppid = std::stoull(parent.substr(0, parent.find('-')));
  e.process.key = key;
  e.process.parent_key = parent;
  e.process.exe = exe;
  e.body = std::move(body);
  return e;
}

events::ProcessExec exec(std::vector<std::string> argv, std::string sha) {
  events::ProcessExec x;
  x.argv = std::move(argv);
  x.cwd = "/var/lib/jenkins/workspace/payments-api";
  x.exe_sha256 = std::move(sha);
  x.stdin_fd = {"null", 0, "", ""};
  x.stdout_fd = {"pipe", 4402117, "", ""};
  x.stderr_fd = {"pipe", 4402117, "", ""};
  return x;
}

std::vector<events::Event> big_build(std::size_t units) {
  std::vector<events::Event> out;
  uint64_t t = kT0;
  auto add = [&](const std::string& key, const std::string& parent, const std::string& exe, events::Body body) {
    out.push_back(event(t += 20000, key, parent, exe, std::move(body)));
  };
  events::BuildStart start;
  start.mode = "daemon";
  add("1000-1", "1-1", "/usr/bin/bash", start);
  add("1000-1", "1-1", "/usr/bin/bash", exec({"bash", "-e", "ci/build.sh"}, std::string(64, 'a')));
  add("1001-1", "1000-1", "/usr/bin/make", exec({"make", "-j8", "all"}, std::string(64, 'b')));
  uint64_t pid = 2000;
  for (std::size_t u = 0; u < units; ++u) {
    const std::string src = "src/module" + std::to_string(u % 97) + "/file" + std::to_string(u) + ".cc";
    const std::string sh = std::to_string(pid++) + "-1", cxx = std::to_string(pid++) + "-1",
                      cc1 = std::to_string(pid++) + "-1", as = std::to_string(pid++) + "-1";
    add(sh, "1001-1", "/usr/bin/dash", exec({"/bin/sh", "-c", "c++ -O2 -c " + src}, std::string(64, 'd')));
    add(cxx, sh, "/usr/bin/x86_64-linux-gnu-g++-12",
        exec({"c++", "-std=c++20", "-O2", "-Iinclude", "-c", src, "-o", src + ".o"}, std::string(64, 'e')));
    add(cc1, cxx, "/usr/lib/gcc/x86_64-linux-gnu/12/cc1plus", exec({"cc1plus", "-quiet", src}, kCc1Sha));
    add(as, cxx, "/usr/bin/x86_64-linux-gnu-as", exec({"as", "-o", src + ".o"}, std::string(64, 'f')));
    events::ProcessExit ok;
    for (const auto& k : {cc1, as, cxx, sh}) add(k, "1001-1", "/usr/bin/dash", ok);
    if (u % 50 == 0) {
      events::DnsQuery q;
      q.name = "registry" + std::to_string(u % 7) + ".example.com";
      q.qtype = "A";
      add(sh, "1001-1", "/usr/bin/dash", q);
      events::NetConnect c;
      c.protocol = "tcp";
      c.daddr = "198.51.100." + std::to_string(u % 250);
      c.dport = 443;
      c.dns_name = q.name;
      add(sh, "1001-1", "/usr/bin/dash", c);
    }
  }
  events::BuildEnd end;
  add("1000-1", "1-1", "/usr/bin/bash", end);
  return out;
}

using Answer = testing::HttpResponse;

Answer get(const std::string& url, const std::string& token) { return testing::get_bearer(url, token); }

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

std::string next_of(const std::string& body) {
  rapidjson::Document d;
  d.Parse(body.c_str());
  return !d.HasParseError() && d.IsObject() && d.HasMember("next") && d["next"].IsString() ? d["next"].GetString() : "";
}

}  // namespace

int main() {
  curl_global_init(CURL_GLOBAL_ALL);
  const std::string data = testing::make_temp_dir("bench-api") + "/data";
  const auto key = crypto::generate_key_pair().value();
  testing::add_agent(data, "bench-agent", key);
  testing::CollectorProcess c(data, {"--no-detect"});
  if (!c.running()) {
    std::fprintf(stderr, "bench/api: collector did not start\n");
    return 1;
  }
  const std::size_t units = 6218;  // 49,998 events
  const auto events = big_build(units);
  batch::Sealer sealer(key, "bench-agent");
  crypto::Digest prev{};
  const std::size_t per_batch = 1000;
  for (std::size_t b = 0; b * per_batch < events.size(); ++b) {
    for (std::size_t i = b * per_batch; i < std::min(events.size(), (b + 1) * per_batch); ++i) sealer.add(events[i]);
    auto sealed = sealer.seal(b + 1, prev).value();
    prev = sealed.hash;
    if (testing::post(c.url("/v1/batches"), sealed.bytes).status != 200) {
      std::fprintf(stderr, "bench/api: a batch was refused\n");
      return 1;
    }
  }
  auto made = testing::run_command(testing::build_path("collector/buildtrail-collector") + " tokens create --data " +
                                   data + " --name bench");
  std::string token = made.output;
  while (!token.empty() && token.back() == '\n') token.pop_back();
  token = token.substr(token.rfind('\n') + 1);
  const std::string build = "/v1/builds/1";
  std::printf("bench/api: one build of %zu events (%zu processes) in %zu batches, real collector on loopback\n",
              events.size(), 4 * units + 2, (events.size() + per_batch - 1) / per_batch);

  bool ok = true;
  // One request 5 times: the first (cold: nothing of the build cached in
  // the collector) and the median. `targeted`: a request a viewer makes
  // page by page, held to the target cold; the others are scans reported.
  const auto measure = [&](const std::string& what, const std::string& path, bool targeted = true) {
    std::vector<double> runs;
    Answer last;
    for (int i = 0; i < 5; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      last = get(c.url(path), token);
      runs.push_back(ms_since(t0));
    }
    const double cold = runs[0];
    std::sort(runs.begin(), runs.end());
    std::printf("  %-44s %7.1f ms cold, %7.1f ms median  %s%zu bytes, status %ld\n", what.c_str(), cold, runs[2],
                targeted ? (cold <= kTargetMs ? "(target met) " : "(TARGET MISSED) ") : "", last.body.size(),
                last.status);
    ok = ok && last.status == 200 && (!targeted || cold <= kTargetMs);
    return last;
  };
  // Every page of a list, once: the total.
  const auto walk = [&](const std::string& what, const std::string& path) {
    const auto t0 = std::chrono::steady_clock::now();
    std::string after;
    int pages = 0;
    std::size_t bytes = 0;
    do {
      auto a = get(c.url(path + (after.empty() ? "" : "&after=" + after)), token);
      if (a.status != 200) {
        std::printf("  %s: status %ld\n", what.c_str(), a.status);
        ok = false;
        return;
      }
      bytes += a.body.size();
      after = next_of(a.body);
      ++pages;
    } while (!after.empty());
    const double total = ms_since(t0);
    std::printf("  %-44s %8.1f ms  (%d pages, %.1f ms a page, %zu bytes)\n", what.c_str(), total, pages, total / pages,
                bytes);
  };

  measure("GET /v1/builds/1", build);
  measure("GET /v1/builds?limit=50", "/v1/builds?limit=50");
  measure("tree, top 2 levels, first 500 nodes", build + "/tree");
  measure("tree, root=<an sh>&depth=2", build + "/tree?root=2000-1&depth=2");
  measure("tree, depth=0 (the roots alone)", build + "/tree?depth=0");
  walk("tree, all " + std::to_string(4 * units + 2) + " nodes, pages of 5,000", build + "/tree?depth=1000&limit=5000");
  const auto first = measure("events, first page of 2,000", build + "/events?limit=2000");
  std::string middle = next_of(first.body);
  for (int i = 0; i < 11 && !middle.empty(); ++i)
    middle = next_of(get(c.url(build + "/events?limit=2000&after=" + middle), token).body);
  measure("events, page 13 of 2,000", build + "/events?limit=2000&after=" + middle);
  measure("events, kind=net_connect (all 50 batches read)", build + "/events?kind=net_connect&limit=2000", false);
  walk("events, all 50,000, pages of 2,000", build + "/events?limit=2000");
  measure("egress", build + "/egress");
  measure("search exe_sha256 (cc1plus: 1 exec in 4)", "/v1/search?q=exe_sha256:" + kCc1Sha);
  measure("search dest:*.example.com", "/v1/search?q=dest:*.example.com");
  measure("search argv (every exec read back)", "/v1/search?q=argv:file6217.cc", false);
  std::printf("bench/api: %s\n", ok ? "targets met" : "TARGETS MISSED");
  c.stop();
  return 0;
}

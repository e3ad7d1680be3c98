#include "bench/batch/workload.h"

#include <random>
#include <string>

namespace bt::bench {

namespace {

const char* const kSources[] = {"src/http/router.cc",
                                "src/db/pool.cc",
                                "src/auth/jwt.cc",
                                "src/util/strings.cc",
                                "third_party/zlib/inflate.c",
                                "src/api/handlers/payments.cc",
                                "tests/router_test.cc"};
const char* const kHosts[] = {
    "registry.npmjs.org",   "pypi.org",        "files.pythonhosted.org", "github.com", "objects.githubusercontent.com",
    "registry.example.com", "proxy.golang.org"};

}  // namespace

std::vector<events::Event> realistic_events(std::size_t n, uint64_t seed) {
  using namespace events;
  std::mt19937_64 rng(seed);
  std::vector<Event> out;
  out.reserve(n);
  Build build{"jenkins",
              "payments/api/main",
              "jenkins-payments-api-main-1842",
              "1842",
              "https://jenkins.example.com/job/payments/job/api/job/main/1842/",
              "https://git.example.com/payments/api.git",
              "9f2c1e7b4a5d3c2b1a0f9e8d7c6b5a4f3e2d1c0b",
              "ci-agent-07"};
  uint64_t t = 1795775400000000000ull;
  uint64_t pid = 40000;
  for (std::size_t i = 0; i < n; ++i) {
    Event e;
    t += 1000 + rng() % 50000;
    e.time_ns = t;
    e.host = "ci-agent-07";
    e.agent_id = "a3f1c2d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d";
    e.build = build;
    const uint64_t r = rng() % 100;
    ++pid;
    e.process = Process{pid,
                        pid - 1 - rng() % 5,
                        std::to_string(pid) + "-" + std::to_string(t / 1000),
                        std::to_string(pid - 1) + "-" + std::to_string(t / 1000 - 77),
                        "",
                        1001};
    const std::string src = kSources[rng() % std::size(kSources)];
    if (r < 45) {
      e.process.exe = "/usr/bin/x86_64-linux-gnu-g++-12";
      std::string obj = "build/obj/" + src + ".o";
      e.body = ProcessExec{{"/usr/bin/c++", "-std=c++20", "-O2", "-g", "-Wall", "-Wextra", "-Iinclude",
                            "-Ithird_party/abseil", "-DNDEBUG", "-MD", "-MF", obj + ".d", "-c", src, "-o", obj},
                           "/var/lib/jenkins/workspace/payments-api",
                           "5e3a9c1f7b2d4e6a8c0e2f4a6b8d0f2a4c6e8a0b2d4f6a8c0e2a4b6d8f0a2c4e",
                           "",
                           "",
                           {"null", 0, "", ""},
                           {"pipe", 4402117, "", ""},
                           {"pipe", 4402117, "", ""}};
    } else if (r < 88) {
      e.process.exe = "/usr/bin/x86_64-linux-gnu-g++-12";
      e.body = ProcessExit{0, 0, 100000000 + rng() % 2000000000};
    } else if (r < 93) {
      const char* host = kHosts[rng() % std::size(kHosts)];
      e.process.exe = "/usr/bin/node";
      e.body = DnsQuery{host, "A", "127.0.0.53", {"198.51.100." + std::to_string(rng() % 250)}, "NOERROR"};
    } else if (r < 98) {
      const char* host = kHosts[rng() % std::size(kHosts)];
      e.process.exe = "/usr/bin/node";
      e.body = NetConnect{"tcp", "198.51.100." + std::to_string(rng() % 250), 443, host, 0};
    } else if (r < 99) {
      e.process.exe = "/usr/bin/aws";
      e.body = SecretAccess{"aws-credentials", "cloud", "open_read", "/var/lib/jenkins/.aws/credentials", 0, ""};
    } else {
      e.process.exe = "/usr/bin/curl";
      e.body = ArtifactUpload{
          "curl",
          "https://artifacts.example.com/payments/api/1842/",
          {FileDigest{"/var/lib/jenkins/workspace/payments-api/dist/api-1842.tar.gz", 1000000 + rng() % 9000000,
                      "c0ffee254729296a45a3885639ac7ca18a1f6c84b1b55d0e1f0f8a5b7c3d9e21"}}};
    }
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace bt::bench

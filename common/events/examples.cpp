#include "common/events/examples.h"

#include <variant>

#include "common/overloaded.h"

namespace bt::events {

namespace {

constexpr uint64_t kT0 = 1795775400000000000ull;  // 2026-11-27T10:30:00Z

Event jenkins_event() {
  Event e;
  e.time_ns = kT0;
  e.host = "ci-agent-07";
  e.agent_id = "a3f1c2d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d";
  e.build = Build{"jenkins",
                  "payments/api/main",
                  "jenkins-payments-api-main-1842",
                  "1842",
                  "https://jenkins.example.com/job/payments/job/api/job/main/1842/",
                  "https://git.example.com/payments/api.git",
                  "9f2c1e7b4a5d3c2b1a0f9e8d7c6b5a4f3e2d1c0b",
                  "ci-agent-07"};
  e.process = Process{48213, 48190, "48213-91822736411", "48190-91822700002", "/usr/bin/make", 1001};
  return e;
}

}  // namespace

Event example_event(Kind kind) {
  Event e = jenkins_event();
  e.body = make_body(kind);
  // One lambda per kind and no catch-all: a kind added to events.def does not
  // compile until it has an example here.
  std::visit(Overloaded{
                 [](BuildStart& b) {
                   b = BuildStart{"wrap", {"make", "-j8", "release"}, "/var/lib/jenkins/workspace/payments-api"};
                 },
                 [](BuildEnd& b) {
                   b = BuildEnd{0,
                                0,
                                184250000000ull,
                                {{"process_exec", 3120},
                                 {"process_exit", 3118},
                                 {"net_connect", 41},
                                 {"dns_query", 12},
                                 {"secret_access", 2},
                                 {"artifact_upload", 1}}};
                 },
                 [&](ProcessExec& b) {
                   e.process.exe = "/usr/bin/curl";
                   b = ProcessExec{{"curl", "-fsS", "-H", "Authorization: Bearer [REDACTED:authorization]",
                                    "https://registry.example.com/v2/"},
                                   "/var/lib/jenkins/workspace/payments-api",
                                   "3b1f9a7c2e4d6b8a0c1e3f5a7b9d1c3e5f7a9b1d3c5e7f9a1b3d5c7e9f1a3b5c",
                                   "",
                                   "",
                                   Stdio{"null", 0, "", ""},
                                   Stdio{"pipe", 5512093, "48220-91822741385", ""},
                                   Stdio{"tty", 0, "", ""}};
                 },
                 [](ProcessExit& b) {
                   b = ProcessExit{2, 0, 1520000000ull};
                 },
                 [](NetConnect& b) {
                   b = NetConnect{"tcp", "203.0.113.40", 443, "registry.example.com", 0};
                 },
                 [](DnsQuery& b) {
                   b = DnsQuery{"registry.example.com", "A", "127.0.0.53", {"203.0.113.40"}, "NOERROR"};
                 },
                 [](SecretAccess& b) {
                   b = SecretAccess{
                       "aws-credentials", "cloud", "open_read", "/var/lib/jenkins/.aws/credentials", 0, ""};
                 },
                 [&](ArtifactUpload& b) {
                   e.process.exe = "/usr/bin/docker";
                   b = ArtifactUpload{"docker",
                                      "registry.example.com/payments/api:1842",
                                      {FileDigest{"/var/lib/jenkins/workspace/payments-api/dist/api.tar", 48211968,
                                                  "c0ffee254729296a45a3885639ac7ca18a1f6c84b1b55d0e1f0f8a5b7c3d9e21"}}};
                 },
                 [&](AgentStart& b) {
                   e.build = Build{};
                   e.process = Process{4711, 1, "4711-1200000000", "1-1", "/usr/bin/buildtrail-agent", 0};
                   b = AgentStart{"0.1.0", "daemon", "Debian GNU/Linux 12 (bookworm)", "6.1.0-27-amd64", "jenkins"};
                 },
                 [&](AgentStop& b) {
                   e.build = Build{};
                   b = AgentStop{"signal", 1203344};
                 },
                 [&](AgentHeartbeat& b) {
                   e.build = Build{};
                   b = AgentHeartbeat{86400000000000ull, 1203344, 0};
                 },
                 [](Loss& b) {
                   b = Loss{{{"spool_full", 5120}, {"ring_full", 3}}, kT0 - 2000000000ull, kT0 - 1000ull};
                 },
                 [&](FileWrite& b) {
                   e.process.exe = "/usr/bin/bash";
                   b = FileWrite{"write",
                                 "/var/lib/jenkins/workspace/payments-api/.github/workflows/release.yml",
                                 "",
                                 "ci-config",
                                 {"wronly", "trunc"},
                                 "regular",
                                 1874,
                                 "5e1f0c6a2b9d4e7f8a3c1b0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f"};
                 },
                 [](std::monostate&) {},  // a Kind value outside kKinds: make_body gives no body
             },
             e.body);
  return e;
}

}  // namespace bt::events

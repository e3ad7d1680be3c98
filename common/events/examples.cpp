#include "common/events/examples.h"

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
  std::visit(
      [&](auto& b) {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, BuildStart>) {
          b = BuildStart{"wrap", {"make", "-j8", "release"}, "/var/lib/jenkins/workspace/payments-api"};
        } else if constexpr (std::is_same_v<T, BuildEnd>) {
          b = BuildEnd{0, 0, 184250000000ull,
                       {{"process_exec", 3120}, {"process_exit", 3118}, {"net_connect", 41},
                        {"dns_query", 12}, {"secret_access", 2}, {"artifact_upload", 1}}};
        } else if constexpr (std::is_same_v<T, ProcessExec>) {
          e.process.exe = "/usr/bin/curl";
          b = ProcessExec{{"curl", "-fsS", "-H", "Authorization: Bearer [REDACTED:authorization]",
                           "https://registry.example.com/v2/"},
                          "/var/lib/jenkins/workspace/payments-api",
                          "3b1f9a7c2e4d6b8a0c1e3f5a7b9d1c3e5f7a9b1d3c5e7f9a1b3d5c7e9f1a3b5c",
                          "",
                          ""};
        } else if constexpr (std::is_same_v<T, ProcessExit>) {
          b = ProcessExit{2, 0, 1520000000ull};
        } else if constexpr (std::is_same_v<T, NetConnect>) {
          b = NetConnect{"tcp", "203.0.113.40", 443, "registry.example.com", 0};
        } else if constexpr (std::is_same_v<T, DnsQuery>) {
          b = DnsQuery{"registry.example.com", "A", "127.0.0.53", {"203.0.113.40"}, "NOERROR"};
        } else if constexpr (std::is_same_v<T, SecretAccess>) {
          b = SecretAccess{"aws-credentials", "cloud", "open_read",
                           "/var/lib/jenkins/.aws/credentials", 0, ""};
        } else if constexpr (std::is_same_v<T, ArtifactUpload>) {
          e.process.exe = "/usr/bin/docker";
          b = ArtifactUpload{"docker", "registry.example.com/payments/api:1842",
                             {FileDigest{"/var/lib/jenkins/workspace/payments-api/dist/api.tar",
                                         48211968,
                                         "c0ffee254729296a45a3885639ac7ca18a1f6c84b1b55d0e1f0f8a5b7c3d9e21"}}};
        } else if constexpr (std::is_same_v<T, AgentStart>) {
          e.build = Build{};
          e.process = Process{4711, 1, "4711-1200000000", "1-1", "/usr/bin/buildtrail-agent", 0};
          b = AgentStart{"0.1.0", "daemon", "Debian GNU/Linux 12 (bookworm)", "6.1.0-27-amd64", "jenkins"};
        } else if constexpr (std::is_same_v<T, AgentStop>) {
          e.build = Build{};
          b = AgentStop{"signal", 1203344};
        } else if constexpr (std::is_same_v<T, AgentHeartbeat>) {
          e.build = Build{};
          b = AgentHeartbeat{86400000000000ull, 1203344, 0};
        } else if constexpr (std::is_same_v<T, Loss>) {
          b = Loss{{{"spool_full", 5120}, {"ring_full", 3}}, kT0 - 2000000000ull, kT0 - 1000ull};
        }
      },
      e.body);
  return e;
}

}  // namespace bt::events

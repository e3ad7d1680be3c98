// Helpers shared by the doctest suites: fixed test keys, event streams and
// sealed chains. Fake identities only; nothing here is a real secret.
#pragma once

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "common/batch/batch.h"
#include "common/events/examples.h"

namespace bt::testing {

inline crypto::KeyPair test_key(uint8_t fill = 7) {
  // A deterministic key from a fixed seed so failures are reproducible.
  std::string pem = "-----BEGIN PRIVATE KEY-----\n";
  std::array<uint8_t, 48> der{0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06,
                              0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20};
  for (std::size_t i = 16; i < der.size(); ++i) der[i] = static_cast<uint8_t>(fill + i);
  pem += crypto::to_base64(der) + "\n-----END PRIVATE KEY-----\n";
  return crypto::parse_private_key_pem(pem).value();
}

inline std::vector<events::Event> sample_events(std::size_t n, const std::string& agent_id,
                                                uint64_t t0 = 1795775400000000000ull) {
  std::vector<events::Event> out;
  for (std::size_t i = 0; i < n; ++i) {
    auto e = events::example_event(events::kKinds[i % events::kKinds.size()].kind);
    e.agent_id = agent_id;
    e.time_ns = t0 + i * 1000;
    out.push_back(std::move(e));
  }
  return out;
}

// A chain of `batches` sealed batches of `per_batch` events each.
inline std::vector<batch::Sealed> sealed_chain(const crypto::KeyPair& key, const std::string& agent_id,
                                               std::size_t batches, std::size_t per_batch = 5) {
  batch::Sealer sealer(key, agent_id);
  std::vector<batch::Sealed> out;
  crypto::Digest prev{};
  uint64_t t = 1795775400000000000ull;
  for (std::size_t b = 0; b < batches; ++b) {
    for (auto& e : sample_events(per_batch, agent_id, t)) sealer.add(e);
    t += per_batch * 1000;
    out.push_back(sealer.seal(b + 1, prev).value());
    prev = out.back().hash;
  }
  return out;
}

inline std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v ? v : fallback;
}

}  // namespace bt::testing

#include <sys/wait.h>

#include <cstdio>

namespace bt::testing {

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs a shell command line (test-controlled, never user input) and returns
// its exit code and combined output.
inline CommandResult run_command(const std::string& command) {
  CommandResult r;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  const int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

inline std::string build_path(const std::string& rel) { return env_or("BUILDTRAIL_BUILD", ".") + "/" + rel; }

// Under $TMPDIR when set: scripts/run-tests.sh gives each run a folder of
// its own there and removes it at the end, so runs leave nothing behind.
inline std::string make_temp_dir(const char* tag) {
  const char* root = std::getenv("TMPDIR");
  std::string tmpl = std::string(root && *root ? root : "/tmp") + "/bt-" + tag + "-XXXXXX";
  const char* made = ::mkdtemp(tmpl.data());
  return made ? made : "";
}

// A temporary folder removed with all it holds when it goes out of scope:
// a benchmark's store and archive take gigabytes, and a `make bench` must
// leave none of them behind. Declared before what writes into it.
class TempDir {
 public:
  explicit TempDir(const char* tag) : path_(make_temp_dir(tag)) {}
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace bt::testing

#include "common/markdown.h"

namespace bt::testing {

// A reference page of docs/ with its generated parts spliced in from the
// code (what `make docs` would write); fails the test when it cannot.
inline std::string rendered_page(const std::string& file, std::vector<markdown::Part> (*parts)()) {
  auto page = markdown::render(env_or("BUILDTRAIL_SRC", "."), {file, parts});
  if (!page) {
    std::fprintf(stderr, "%s\n", page.error().message.c_str());
    std::abort();
  }
  return *page;
}

}  // namespace bt::testing

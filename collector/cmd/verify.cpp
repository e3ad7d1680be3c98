// buildtrail-collector verify --pubkey FILE [--pubkey FILE]... BATCH...
// Checks batch files offline (verify/) and prints one line per file.
#include <cstdio>
#include <cstdlib>

#include "collector/cmd/commands.h"
#include "collector/verify/verify.h"
#include "common/cli.h"

namespace bt::collector::cmd {

namespace {

const std::vector<cli::Option> kOptions = {
    {"pubkey", true, "PEM public key of a signer (agent.pub); repeatable"},
    {"max-uncompressed", true, "refuse batches that expand past this many bytes (default 64 MiB)"},
    {"quiet", false, "print only problems"},
    {"help", false, "show this help"},
};

}  // namespace

int verify(int argc, char** argv) {
  auto args = cli::parse(argc, argv, 2, kOptions);
  if (!args) {
    std::fprintf(stderr, "buildtrail-collector verify: %s\n", args.error().message.c_str());
    return 2;
  }
  if (args->has("help") || args->positionals.empty() || !args->has("pubkey")) {
    std::fprintf(args->has("help") ? stdout : stderr,
                 "usage: buildtrail-collector verify --pubkey FILE [--pubkey FILE]... BATCH...\n%s",
                 cli::usage(kOptions).c_str());
    return args->has("help") ? 0 : 2;
  }
  std::vector<crypto::PublicKey> keys;
  for (const auto& path : args->all("pubkey")) {
    auto key = crypto::load_public_key(path);
    if (!key) {
      std::fprintf(stderr, "buildtrail-collector verify: %s\n", key.error().message.c_str());
      return 2;
    }
    keys.push_back(*key);
  }
  batch::Limits limits;
  if (args->has("max-uncompressed")) {
    char* end = nullptr;
    const std::string v = args->get("max-uncompressed");
    const unsigned long long n = std::strtoull(v.c_str(), &end, 10);
    if (v.empty() || *end != '\0' || n == 0) {
      std::fprintf(stderr, "buildtrail-collector verify: --max-uncompressed: not a byte count: %s\n", v.c_str());
      return 2;
    }
    limits.max_uncompressed_bytes = n;
  }
  const auto reports = verify::verify_files(args->positionals, keys, limits);
  std::size_t bad = 0;
  for (const auto& r : reports) {
    if (!r.ok()) ++bad;
    if (r.ok() && args->has("quiet")) continue;
    std::printf("%s: %s (%s)\n", r.path.c_str(), r.status.c_str(), r.detail.c_str());
  }
  std::printf("verified %zu batches: %zu ok, %zu with problems\n", reports.size(), reports.size() - bad, bad);
  return bad ? 1 : 0;
}

}  // namespace bt::collector::cmd

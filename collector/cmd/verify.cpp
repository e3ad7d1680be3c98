// buildtrail-collector verify --pubkey FILE [--pubkey FILE]... BATCH...
// buildtrail-collector verify --data DIR
// Checks batch files offline (verify/) and prints one line per file: the
// files given (batches, or DSSE envelopes of export --dsse / --intoto), or
// a collector's whole archive against its store.
#include <cstdio>
#include <cstdlib>

#include "collector/cmd/commands.h"
#include "collector/store/store.h"
#include "collector/verify/verify.h"
#include "common/cli.h"
#include "common/text.h"

namespace bt::collector::cmd {

namespace {

const std::vector<cli::Option> kOptions = {
    {"pubkey", true, "PEM public key of a signer (agent.pub, collector.pub for --intoto statements); repeatable"},
    {"data", true, "check the whole archive of this data folder against its store (keys from the store)"},
    {"max-uncompressed", true, "refuse batches that expand past this many bytes (default 64 MiB)"},
    {"quiet", false, "print only problems"},
    {"help", false, "show this help"},
};

constexpr const char* kUsage =
    "usage: buildtrail-collector verify --pubkey FILE [--pubkey FILE]... (BATCH | ENVELOPES)...\n"
    "       buildtrail-collector verify --data DIR\n";

int fail(const std::string& message, int exit) {
  cli::print_error("buildtrail-collector verify", message);
  return exit;
}

// File names are whatever the archive or the command line holds, and a
// detail may quote an event's own text (an unknown kind, another agent's
// id): escaped, so a report is one line per file, as it claims.
void print(const verify::FileReport& r, bool quiet) {
  if (r.ok() && quiet) return;
  std::printf("%s: %s (%s)\n", text::printable(r.path).c_str(), r.status.c_str(), text::printable(r.detail).c_str());
}

int verify_given_files(const cli::Args& args, const batch::Limits& limits) {
  std::vector<crypto::PublicKey> keys;
  for (const auto& path : args.all("pubkey")) {
    auto key = crypto::load_public_key(path);
    if (!key) return fail(key.error().message, 2);
    keys.push_back(*key);
  }
  const auto reports = verify::verify_files(args.positionals, keys, limits);
  std::size_t bad = 0;
  for (const auto& r : reports) {
    if (!r.ok()) ++bad;
    print(r, args.has("quiet"));
  }
  std::printf("verified %zu batches: %zu ok, %zu with problems\n", reports.size(), reports.size() - bad, bad);
  return bad ? 1 : 0;
}

// Every stored batch in the store's order, then the refused and the
// unreferenced files. Refused batches count as problems (each is a fork the
// collector recorded); unreferenced files do not (a crash leaves them).
int verify_archive(const cli::Args& args, const batch::Limits& limits) {
  const std::string dir = args.get("data");
  auto db = store::open_sqlite(dir, {.read_only = true});
  if (!db) return fail(db.error().message, 1);
  auto agents = (*db)->agents();
  if (!agents) return fail(agents.error().message, 1);
  std::map<std::string, crypto::PublicKey> keys;
  for (const auto& a : *agents) keys.emplace(a.id, a.public_key);
  verify::ArchiveChecker checker(dir, std::move(keys), limits);
  std::size_t stored = 0, bad = 0, refused = 0, unreferenced = 0;
  Status walked = (*db)->for_each_batch([&](const store::StoredBatch& b) {
    const auto r = checker.stored({b.agent_id, b.epoch, b.seq, b.hash, b.prev_hash, b.archive_path});
    ++stored;
    if (!r.ok()) ++bad;
    print(r, args.has("quiet"));
    return true;
  });
  if (!walked) return fail(walked.error().message, 1);
  for (const auto& r : checker.rest()) {
    print(r, false);
    if (r.status == "refused")
      ++refused;
    else if (r.status == "unreferenced")
      ++unreferenced;
    else
      ++bad;
  }
  std::printf(
      "verified %zu stored batches: %zu ok, %zu with problems; %zu refused kept as evidence, %zu unreferenced\n",
      stored, stored - std::min(stored, bad), bad, refused, unreferenced);
  return bad || refused ? 1 : 0;
}

}  // namespace

int verify(int argc, char** argv) {
  auto args = cli::parse(argc, argv, 2, kOptions);
  if (!args) return fail(args.error().message, 2);
  const bool archive = args->has("data");
  if (args->has("help") || (archive ? !args->positionals.empty() || args->has("pubkey")
                                    : args->positionals.empty() || !args->has("pubkey"))) {
    std::fprintf(args->has("help") ? stdout : stderr, "%s%s", kUsage, cli::usage(kOptions).c_str());
    return args->has("help") ? 0 : 2;
  }
  batch::Limits limits;
  if (args->has("max-uncompressed")) {
    char* end = nullptr;
    const std::string v = args->get("max-uncompressed");
    const unsigned long long n = std::strtoull(v.c_str(), &end, 10);
    if (v.empty() || *end != '\0' || n == 0) return fail("--max-uncompressed: not a byte count: " + v, 2);
    limits.max_uncompressed_bytes = n;
  }
  return archive ? verify_archive(*args, limits) : verify_given_files(*args, limits);
}

}  // namespace bt::collector::cmd

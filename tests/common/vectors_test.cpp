#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "common/batch/chain.h"
#include "common/fs.h"
#include "tests/common/test_util.h"

using namespace bt;

// The committed vectors are what another implementation checks itself
// against; this test keeps them valid for ours.
TEST_CASE("committed test vectors verify and chain") {
  const std::string dir = testing::env_or("BUILDTRAIL_SRC", ".") + "/tests/data/vectors";
  auto pub = crypto::load_public_key(dir + "/agent.pub");
  REQUIRE_MESSAGE(pub.ok(), pub.error().message);
  auto priv = crypto::load_private_key(dir + "/agent.key");
  REQUIRE(priv.ok());
  CHECK(priv->public_key == *pub);

  std::ifstream listing(dir + "/vectors.txt");
  REQUIRE(listing.good());
  std::string line;
  std::optional<batch::Tip> tip;
  int batches = 0;
  while (std::getline(listing, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    uint64_t seq = 0;
    uint32_t count = 0;
    std::string hash, file;
    fields >> seq >> count >> hash >> file;
    auto bytes = fs::read_file(dir + "/" + file, 1 << 20);
    REQUIRE(bytes.ok());
    auto opened = batch::open(crypto::as_bytes(*bytes), *pub);
    REQUIRE_MESSAGE(opened.ok(), opened.error().message);
    CHECK(opened->header.seq == seq);
    CHECK(opened->header.event_count == count);
    CHECK(crypto::to_hex(opened->hash) == hash);
    std::size_t n = 0;
    REQUIRE(batch::for_each_event(*opened, [&](events::Event&&) { ++n; }));
    CHECK(n == count);
    const auto verdict = batch::classify(tip, opened->header, opened->hash,
                                         [](uint64_t) -> std::optional<batch::Stored> { return std::nullopt; });
    CHECK((verdict.link == (tip ? batch::Link::kNext : batch::Link::kFirst)));
    tip = batch::Tip{seq, opened->hash};
    ++batches;
  }
  CHECK(batches == 3);
}

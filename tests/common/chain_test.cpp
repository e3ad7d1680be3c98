#include <doctest/doctest.h>

#include <map>

#include "common/batch/chain.h"
#include "tests/common/test_util.h"

using namespace bt;
using batch::Link;

namespace {

struct Walker {
  std::optional<batch::Tip> tip;
  std::map<uint64_t, crypto::Digest> seen;
  Link add(const batch::Sealed& s) {
    Link l = batch::classify(tip, s.header, s.hash, [&](uint64_t seq) {
      auto it = seen.find(seq);
      return it == seen.end() ? std::nullopt : std::optional(it->second);
    });
    if (l == Link::kRestart) seen.clear();
    if (l != Link::kReplay && l != Link::kFork) {
      tip = batch::Tip{s.header.seq, s.hash};
      seen[s.header.seq] = s.hash;
    }
    return l;
  }
};

}  // namespace

TEST_CASE("a clean chain links first then next") {
  auto chain = testing::sealed_chain(testing::test_key(), "agent-1", 4);
  Walker w;
  CHECK(w.add(chain[0]) == Link::kFirst);
  for (std::size_t i = 1; i < chain.size(); ++i) CHECK(w.add(chain[i]) == Link::kNext);
}

TEST_CASE("gap, replay, fork and restart are told apart") {
  const auto key = testing::test_key();
  auto chain = testing::sealed_chain(key, "agent-1", 5);
  Walker w;
  w.add(chain[0]);
  w.add(chain[1]);
  CHECK(w.add(chain[1]) == Link::kReplay);
  CHECK(w.add(chain[0]) == Link::kReplay);
  CHECK(w.add(chain[4]) == Link::kGap);

  // Same seq 2 with other content: a fork of an old seq.
  batch::Sealer other(key, "agent-1");
  for (auto& e : testing::sample_events(2, "agent-1")) other.add(e);
  auto forged = other.seal(2, chain[0].hash).value();
  CHECK(w.add(forged) == Link::kFork);

  // seq tip+1 whose prev_hash is not the tip's hash: a broken link.
  Walker w2;
  w2.add(chain[0]);
  for (auto& e : testing::sample_events(1, "agent-1")) other.add(e);
  auto broken = other.seal(2, crypto::Digest{}).value();
  CHECK(w2.add(broken) == Link::kFork);

  // The agent lost its state and starts over at seq 1.
  Walker w3;
  for (auto& s : chain) w3.add(s);
  for (auto& e : testing::sample_events(1, "agent-1")) other.add(e);
  auto restart = other.seal(1, crypto::Digest{}).value();
  CHECK(w3.add(restart) == Link::kRestart);
}

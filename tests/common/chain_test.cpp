#include <doctest/doctest.h>

#include <map>

#include "common/batch/chain.h"
#include "tests/common/test_util.h"

using namespace bt;
using batch::Conflict;
using batch::Link;

namespace {

// One epoch of a chain as the collector keeps it: what is stored, and the
// tip (highest seq stored). Forks are not stored.
struct Walker {
  std::optional<batch::Tip> tip;
  std::map<uint64_t, batch::Stored> stored;
  batch::Verdict last;
  Link add(const batch::Sealed& s) {
    last = batch::classify(tip, s.header, s.hash, [&](uint64_t seq) {
      auto it = stored.find(seq);
      return it == stored.end() ? std::nullopt : std::optional(it->second);
    });
    if (last.link == Link::kRestart) {
      stored.clear();
      tip.reset();
    }
    if (last.link != Link::kReplay && last.link != Link::kFork) {
      if (!tip || s.header.seq > tip->seq) tip = batch::Tip{s.header.seq, s.hash};
      stored[s.header.seq] = batch::Stored{s.hash, s.header.prev_hash};
    }
    return last.link;
  }
};

batch::Sealed seal(const crypto::KeyPair& key, uint64_t seq, const crypto::Digest& prev, std::size_t events = 1) {
  batch::Sealer sealer(key, "agent-1");
  for (auto& e : testing::sample_events(events, "agent-1", 1795775400000000000ull + seq)) sealer.add(e);
  return sealer.seal(seq, prev).value();
}

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
  auto forged = seal(key, 2, chain[0].hash, 2);
  CHECK(w.add(forged) == Link::kFork);
  CHECK(w.last.conflict == Conflict::kSeqTaken);
  CHECK(w.last.other == chain[1].hash);

  // seq tip+1 whose prev_hash is not the tip's hash: a broken link, and the
  // message says so (not "a different batch at this seq").
  Walker w2;
  w2.add(chain[0]);
  auto broken = seal(key, 2, crypto::Digest{});
  CHECK(w2.add(broken) == Link::kFork);
  CHECK(w2.last.conflict == Conflict::kBadPrev);
  const std::string text = batch::conflict_text(w2.last, broken.header, broken.hash);
  CHECK_MESSAGE(text.find("does not chain to the stored seq 1") != std::string::npos, text);
  CHECK(text.find("different batch") == std::string::npos);

  // The agent lost its state and starts over at seq 1.
  Walker w3;
  for (auto& s : chain) w3.add(s);
  auto restart = seal(key, 1, crypto::Digest{});
  CHECK(w3.add(restart) == Link::kRestart);
}

// Issue 17, item 1: seq 1, then seq 3 (chained to the real seq 2), then a
// signed seq 2' chained to seq 1. 2' fits its predecessor but not its
// successor: a fork, and the real seq 2 is then late, not a fork.
TEST_CASE("a late batch must fit both stored neighbours") {
  const auto key = testing::test_key();
  auto chain = testing::sealed_chain(key, "agent-1", 5);
  Walker w;
  w.add(chain[0]);
  CHECK(w.add(chain[2]) == Link::kGap);
  auto impostor = seal(key, 2, chain[0].hash, 3);
  CHECK(w.add(impostor) == Link::kFork);
  CHECK(w.last.conflict == Conflict::kBadNext);
  CHECK(w.last.other == chain[1].hash);  // what seq 3 names
  CHECK(batch::conflict_text(w.last, impostor.header, impostor.hash).find("does not fit before the stored seq 3") !=
        std::string::npos);
  CHECK(w.add(chain[1]) == Link::kLate);

  SUBCASE("a late batch with the wrong predecessor") {
    Walker v;
    v.add(chain[0]);
    v.add(chain[1]);
    v.add(chain[4]);                            // gap 3..4
    auto bad = seal(key, 3, crypto::Digest{});  // names no stored seq 2
    CHECK(v.add(bad) == Link::kFork);
    CHECK(v.last.conflict == Conflict::kBadPrev);
    CHECK(v.add(chain[2]) == Link::kLate);  // fits seq 2, seq 4 not stored yet
    CHECK(v.add(chain[3]) == Link::kLate);  // fits seq 3 and seq 5
  }
  SUBCASE("a late batch whose neighbours are both missing is stored; each is checked against it on arrival") {
    Walker v;
    v.add(chain[0]);
    v.add(chain[4]);  // gap 2..4
    CHECK(v.add(chain[2]) == Link::kLate);
    auto wrong_next = seal(key, 4, crypto::Digest{});
    CHECK(v.add(wrong_next) == Link::kFork);  // does not name seq 3
    CHECK(v.last.conflict == Conflict::kBadPrev);
    auto wrong_prev = seal(key, 2, chain[0].hash, 4);
    CHECK(v.add(wrong_prev) == Link::kFork);  // seq 3 names another seq 2
    CHECK(v.last.conflict == Conflict::kBadNext);
    CHECK(v.add(chain[1]) == Link::kLate);
    CHECK(v.add(chain[3]) == Link::kLate);
  }
}

TEST_CASE("seq 1 is late only when the stored seq 2 names it; otherwise a restart") {
  const auto key = testing::test_key();
  auto chain = testing::sealed_chain(key, "agent-1", 4);
  SUBCASE("first contact at seq 2, then the real seq 1") {
    Walker w;
    CHECK(w.add(chain[1]) == Link::kFirst);
    CHECK(w.add(chain[0]) == Link::kLate);
    CHECK(w.add(chain[2]) == Link::kNext);
  }
  SUBCASE("first contact at seq 3, then a seq 1 nothing vouches for") {
    Walker w;
    CHECK(w.add(chain[2]) == Link::kFirst);
    CHECK(w.add(chain[0]) == Link::kRestart);
  }
  SUBCASE("a seq 1 that the stored seq 2 does not name") {
    Walker w;
    CHECK(w.add(chain[1]) == Link::kFirst);
    CHECK(w.add(seal(key, 1, crypto::Digest{}, 3)) == Link::kRestart);
  }
}

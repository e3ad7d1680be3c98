#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>

#include "common/fs.h"
#include "tests/common/test_util.h"
#include "transport/batcher/batcher.h"
#include "transport/spool/spool.h"

using namespace bt;
using namespace bt::transport;

namespace {

const std::string kAgent = "spool-agent";

struct Fixture {
  std::string dir = testing::make_temp_dir("spool") + "/spool";
  crypto::KeyPair key = testing::test_key(31);
  batch::Sealer sealer{key, kAgent};

  std::unique_ptr<spool::Spool> open(uint64_t max_bytes = 1 << 20) {
    spool::Config c;
    c.dir = dir;
    c.max_bytes = max_bytes;
    auto s = spool::Spool::open(c, key.public_key, kAgent);
    REQUIRE_MESSAGE(s.ok(), s.error().message);
    return std::move(*s);
  }
  spool::Appended append(spool::Spool& s, std::size_t events = 3) {
    for (auto& e : testing::sample_events(events, kAgent)) sealer.add(e);
    auto a = s.seal_and_append(sealer);
    REQUIRE(a.ok());
    return *a;
  }
};

// Checks that the files in the spool form one unbroken chain from seq 1.
void check_chain(spool::Spool& s, const crypto::PublicKey& key, std::size_t expect) {
  crypto::Digest prev{};
  uint64_t seq = 0;
  for (uint64_t n : s.pending()) {
    auto bytes = s.read(n).value();
    auto opened = batch::open(crypto::as_bytes(bytes), key);
    REQUIRE(opened.ok());
    CHECK(opened->header.seq == ++seq);
    CHECK(opened->header.prev_hash == prev);
    prev = opened->hash;
  }
  CHECK(seq == expect);
}

}  // namespace

TEST_CASE("sealed batches are stored durably and chain") {
  Fixture f;
  auto s = f.open();
  for (int i = 0; i < 5; ++i) CHECK(f.append(*s).stored);
  CHECK(s->tip().seq == 5);
  CHECK(s->pending().size() == 5);
  check_chain(*s, f.key.public_key, 5);
  struct stat st {};
  REQUIRE(::stat(s->path_of(1).c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
}

TEST_CASE("the chain survives a restart, and a crash before the chain file is written") {
  Fixture f;
  {
    auto s = f.open();
    for (int i = 0; i < 3; ++i) f.append(*s);
  }
  {
    auto s = f.open();
    CHECK(s->tip().seq == 3);
    REQUIRE(s->remove(1).ok());
    REQUIRE(s->remove(2).ok());
  }
  // Simulate a crash between the batch file and the chain file.
  std::filesystem::remove(f.dir + "/chain");
  auto s = f.open();
  CHECK(s->tip().seq == 3);
  CHECK(f.append(*s).header.seq == 4);
  // Batch 4 chains to batch 3 even though the chain file was lost.
  auto b3 = batch::open(crypto::as_bytes(s->read(3).value()), f.key.public_key).value();
  auto b4 = batch::open(crypto::as_bytes(s->read(4).value()), f.key.public_key).value();
  CHECK(b4.header.prev_hash == b3.hash);
}

TEST_CASE("corrupt and truncated spool files are quarantined and reported") {
  Fixture f;
  {
    auto s = f.open();
    for (int i = 0; i < 3; ++i) f.append(*s, 7);
  }
  {
    auto bytes = fs::read_file(f.dir + "/00000000000000000002.btb", 1 << 20).value();
    bytes[bytes.size() / 2] ^= 0x20;
    std::filesystem::remove(f.dir + "/00000000000000000002.btb");
    REQUIRE(fs::write_new_file(f.dir + "/00000000000000000002.btb", bytes, 0600).ok());
    auto b3 = fs::read_file(f.dir + "/00000000000000000003.btb", 1 << 20).value();
    std::filesystem::resize_file(f.dir + "/00000000000000000003.btb", b3.size() / 2);
  }
  auto s = f.open();
  REQUIRE(s->lost_at_open().size() == 2);
  CHECK(s->lost_at_open()[0].events == 7);
  CHECK(s->lost_at_open()[0].reason == "spool_corrupt");
  CHECK(s->pending() == std::vector<uint64_t>{1});
  CHECK(std::filesystem::exists(f.dir + "/quarantine/00000000000000000002.btb"));
  CHECK(std::filesystem::exists(f.dir + "/quarantine/00000000000000000002.btb.reason"));
}

TEST_CASE("a full spool stores nothing and does not advance the chain") {
  Fixture f;
  auto s = f.open(3000);
  uint64_t stored = 0;
  spool::Appended last;
  for (int i = 0; i < 20; ++i) {
    last = f.append(*s, 4);
    if (last.stored) ++stored;
  }
  CHECK_FALSE(last.stored);
  CHECK(last.reason == "spool_full");
  CHECK(s->tip().seq == stored);
  REQUIRE(s->remove(1).ok());
  auto next = f.append(*s, 4);
  CHECK(next.stored);
  CHECK(next.header.seq == stored + 1);
}

TEST_CASE("two spools on one folder (two agent processes) keep one chain") {
  Fixture f;
  auto a = f.open();
  auto b = f.open();
  batch::Sealer other(f.key, kAgent);
  for (int i = 0; i < 6; ++i) {
    auto& s = i % 2 ? *a : *b;
    auto& sealer = i % 2 ? f.sealer : other;
    for (auto& e : testing::sample_events(2, kAgent)) sealer.add(e);
    REQUIRE(s.seal_and_append(sealer)->stored);
  }
  check_chain(*a, f.key.public_key, 6);
}

// A concurrent run's batch must never be passed over: shipping a newer one
// first makes the collector record a gap (seen with 4 runs on one folder).
TEST_CASE("a spool never ships past a batch another process sealed") {
  Fixture f;
  auto a = f.open();
  auto b = f.open();
  batch::Sealer other(f.key, kAgent);
  auto seal_in_b = [&] {
    for (auto& e : testing::sample_events(2, kAgent)) other.add(e);
    REQUIRE(b->seal_and_append(other)->stored);
  };
  auto name = [&](uint64_t seq) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "/%020llu.btb", static_cast<unsigned long long>(seq));
    return f.dir + buf;
  };
  REQUIRE(f.append(*a).stored);  // 1
  CHECK(a->pending() == std::vector<uint64_t>{1});
  seal_in_b();                   // 2, while a sends 1
  REQUIRE(a->remove(1).ok());    // a's ack for 1: its mtime now covers 2
  REQUIRE(f.append(*a).stored);  // 3: a seal reads the folder
  CHECK(a->pending() == std::vector<uint64_t>{2, 3});
  // A listing that missed b's 4 (taken while b sealed it, or a folder
  // mtime that did not move): 4 must still go before 5.
  seal_in_b();  // 4
  seal_in_b();  // 5
  const std::string hidden = f.dir + "/../hidden.btb";
  REQUIRE(std::rename(name(4).c_str(), hidden.c_str()) == 0);
  CHECK(a->pending() == std::vector<uint64_t>{2, 3, 5});
  REQUIRE(a->remove(2).ok());
  REQUIRE(a->remove(3).ok());
  struct stat before {};
  REQUIRE(::stat(f.dir.c_str(), &before) == 0);
  REQUIRE(std::rename(hidden.c_str(), name(4).c_str()) == 0);
  const timespec times[2] = {before.st_atim, before.st_mtim};
  REQUIRE(::utimensat(AT_FDCWD, f.dir.c_str(), times, 0) == 0);
  CHECK(a->pending() == std::vector<uint64_t>{4, 5});
}

TEST_CASE("rejected batches are kept under a size cap") {
  Fixture f;
  spool::Config c;
  c.dir = f.dir;
  c.max_rejected_bytes = 2500;
  auto s = spool::Spool::open(c, f.key.public_key, kAgent).value();
  for (int i = 0; i < 6; ++i) f.append(*s, 5);
  for (uint64_t seq = 1; seq <= 6; ++seq) REQUIRE(s->reject(seq, "409 fork").ok());
  CHECK(s->pending().empty());
  uint64_t total = 0;
  for (auto& p : std::filesystem::directory_iterator(f.dir + "/rejected"))
    if (p.path().extension() == ".btb") total += p.file_size();
  CHECK(total <= 2500);
  CHECK(std::filesystem::exists(f.dir + "/rejected/00000000000000000006.btb"));
}

TEST_CASE("the batcher reports spool-full drops in a loss event of the next stored batch") {
  Fixture f;
  // Small enough that the last batch sealed before the restart finds no
  // room either (at 2500 bytes, with process_exec's stdio in the sample
  // events, it fits and carries the loss itself).
  auto s = f.open(2000);
  batcher::Config bc;
  bc.max_json_bytes = 1500;
  events::Event envelope;
  envelope.agent_id = kAgent;
  const std::string state = std::filesystem::path(f.dir).parent_path();
  const std::string loss_file = state + "/loss";
  auto state_dir = [&] { return fs::PrivateDir::open(state, false).value(); };
  uint64_t produced = 0;
  {
    batcher::Batcher b(bc, f.sealer, *s, envelope, state_dir(), "loss");
    for (auto& e : testing::sample_events(60, kAgent)) {
      b.add(e);
      ++produced;
    }
    b.seal_now();
    CHECK(b.stats().dropped.at("spool_full") > 0);
  }
  // A new batcher (agent restart) still owes the loss; free the spool.
  for (uint64_t seq : s->pending()) REQUIRE(s->remove(seq).ok());
  batcher::Batcher b(bc, f.sealer, *s, envelope, state_dir(), "loss");
  REQUIRE_FALSE(b.unreported_loss().empty());
  const uint64_t dropped = b.unreported_loss().total();
  CHECK(b.seal_now());
  CHECK(b.unreported_loss().empty());
  CHECK_FALSE(std::filesystem::exists(loss_file));
  // The stored batch carries a loss event with exactly those counts.
  const uint64_t last = s->pending().back();
  auto opened = batch::open(crypto::as_bytes(s->read(last).value()), f.key.public_key).value();
  uint64_t reported = 0;
  REQUIRE(batch::for_each_event(opened, [&](events::Event&& e) {
    if (auto* l = std::get_if<events::Loss>(&e.body))
      for (auto& c : l->counts) reported += c.second;
  }));
  CHECK(reported == dropped);
  CHECK(dropped < produced);
}

TEST_CASE("the event queue drops and counts when full") {
  batcher::EventQueue q(3);
  for (int i = 0; i < 5; ++i) q.push(events::example_event(events::Kind::process_exec));
  std::vector<events::Event> out;
  batcher::LossTracker drops;
  q.drain(out, drops);
  CHECK(out.size() == 3);
  CHECK(drops.counts().at("queue_full") == 2);
}

TEST_CASE("links planted in the spool are never followed: lock, chain, batches, rejected/") {
  Fixture f;
  const std::string root = std::filesystem::path(f.dir).parent_path();
  const std::string victim = root + "/victim";  // a file "another user" points the links at
  REQUIRE(fs::write_new_file(victim, "precious\n", 0644).ok());
  const std::string absent = root + "/created-by-the-agent";
  auto plant = [&](const std::string& name, const std::string& target) {
    std::filesystem::remove(f.dir + "/" + name);
    std::filesystem::create_symlink(target, f.dir + "/" + name);
  };
  REQUIRE(::mkdir(f.dir.c_str(), 0700) == 0);

  // The lock: as root the agent would have created the target.
  plant("lock", absent);
  spool::Config c;
  c.dir = f.dir;
  auto refused = spool::Spool::open(c, f.key.public_key, kAgent);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message.find(f.dir + "/lock: a symbolic link; refusing it") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(absent));
  std::filesystem::remove(f.dir + "/lock");

  // rejected/ pointing elsewhere: refused, nothing moved there.
  plant("rejected", root);
  refused = spool::Spool::open(c, f.key.public_key, kAgent);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message.find(f.dir + "/rejected: a symbolic link; refusing it") != std::string::npos);
  std::filesystem::remove(f.dir + "/rejected");

  // The chain file and a "batch" that are links: the batch is quarantined
  // (as a link), the chain file replaced; neither target is touched.
  plant("chain", victim);
  plant("00000000000000000001.btb", victim);
  auto s = f.open();
  REQUIRE(s->lost_at_open().size() == 1);
  CHECK(std::filesystem::is_symlink(f.dir + "/quarantine/00000000000000000001.btb"));
  CHECK(f.append(*s).stored);
  CHECK(std::filesystem::is_regular_file(std::filesystem::symlink_status(f.dir + "/chain")));
  CHECK(fs::read_file(victim, 100).value() == "precious\n");
  // A link planted while the agent runs is not sent: reading it fails.
  plant("00000000000000000009.btb", victim);
  CHECK_FALSE(s->read(9).ok());
  CHECK_FALSE(s->gone(9));
  CHECK(s->quarantine(9, "not a batch").ok());
  CHECK(fs::read_file(victim, 100).value() == "precious\n");

  // The folder itself: another user's, or open to others, is refused.
  REQUIRE(::chmod(f.dir.c_str(), 0777) == 0);
  refused = spool::Spool::open(c, f.key.public_key, kAgent);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message.find("writable by group or others (mode 0777)") != std::string::npos);
}

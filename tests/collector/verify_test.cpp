// Runs the real buildtrail-agent keygen and buildtrail-collector verify
// binaries on batch files sealed by common/.
#include <doctest/doctest.h>

#include <cstring>

#include "collector/verify/verify.h"
#include "common/fs.h"
#include "tests/common/test_util.h"

using namespace bt;
using testing::run_command;

namespace {

struct Fixture {
  std::string dir = testing::make_temp_dir("verify");
  std::string agent = testing::build_path("agent/buildtrail-agent");
  std::string collector = testing::build_path("collector/buildtrail-collector");
  crypto::KeyPair key;
  std::vector<std::string> files;

  Fixture() {
    auto r = run_command(agent + " keygen --out " + dir + "/keys");
    REQUIRE_MESSAGE(r.exit_code == 0, r.output);
    key = crypto::load_private_key(dir + "/keys/agent.key").value();
    for (const auto& b : testing::sealed_chain(key, "agent-a", 5)) {
      files.push_back(dir + "/b" + std::to_string(b.header.seq) + ".btb");
      REQUIRE(fs::write_new_file(files.back(), b.bytes, 0644).ok());
    }
  }
  testing::CommandResult verify(const std::vector<std::string>& paths) {
    std::string cmd = collector + " verify --pubkey " + dir + "/keys/agent.pub";
    for (const auto& p : paths) cmd += " " + p;
    return run_command(cmd);
  }
  std::string write(const std::string& name, const std::string& bytes) {
    const std::string path = dir + "/" + name;
    REQUIRE(fs::write_new_file(path, bytes, 0644).ok());
    return path;
  }
  std::string read(std::size_t i) { return fs::read_file(files[i], 1 << 20).value(); }
};

}  // namespace

TEST_CASE("keygen refuses to overwrite an existing key") {
  Fixture f;
  auto r = run_command(f.agent + " keygen --out " + f.dir + "/keys");
  CHECK(r.exit_code == 1);
  CHECK(r.output.find("refusing to overwrite") != std::string::npos);
  CHECK(crypto::load_private_key(f.dir + "/keys/agent.key").value().public_key == f.key.public_key);
}

TEST_CASE("a complete chain verifies, in any argument order") {
  Fixture f;
  auto r = f.verify({f.files[3], f.files[0], f.files[4], f.files[2], f.files[1]});
  CHECK_MESSAGE(r.exit_code == 0, r.output);
  CHECK(r.output.find("5 ok, 0 with problems") != std::string::npos);
}

TEST_CASE("each problem is reported per file with a non-zero exit") {
  Fixture f;
  SUBCASE("gap") {
    auto r = f.verify({f.files[0], f.files[1], f.files[3], f.files[4]});
    CHECK(r.exit_code == 1);
    CHECK(r.output.find(f.files[3] + ": gap (seq 3..3 of agent agent-a missing") != std::string::npos);
  }
  SUBCASE("replay") {
    const std::string copy = f.write("copy.btb", f.read(1));
    auto r = f.verify({f.files[0], f.files[1], copy, f.files[2]});
    CHECK(r.exit_code == 1);
    CHECK(r.output.find(copy + ": replay") != std::string::npos);
    CHECK(r.output.find("3 ok, 1 with problems") != std::string::npos);
  }
  SUBCASE("fork") {
    batch::Sealer other(f.key, "agent-a");
    other.add(testing::sample_events(1, "agent-a")[0]);
    const auto forked = other.seal(2, crypto::sha256(crypto::as_bytes(f.read(0)))).value();
    const std::string path = f.write("fork.btb", forked.bytes);
    auto r = f.verify({f.files[0], f.files[1], path});
    CHECK(r.exit_code == 1);
    CHECK(r.output.find(path + ": fork") != std::string::npos);
  }
  SUBCASE("bad signature") {
    std::string bytes = f.read(2);
    bytes[bytes.size() - 10] ^= 0x40;
    const std::string path = f.write("badsig.btb", bytes);
    auto r = f.verify({path});
    CHECK(r.exit_code == 1);
    CHECK(r.output.find(path + ": bad signature") != std::string::npos);
  }
  SUBCASE("truncated") {
    const std::string path = f.write("short.btb", f.read(2).substr(0, 200));
    auto r = f.verify({path});
    CHECK(r.exit_code == 1);
    CHECK(r.output.find(path + ": truncated") != std::string::npos);
  }
  SUBCASE("malformed") {
    const std::string path = f.write("garbage.btb", std::string(400, 'G'));
    auto r = f.verify({path});
    CHECK(r.exit_code == 1);
    CHECK(r.output.find(path + ": malformed (bad magic") != std::string::npos);
  }
  SUBCASE("unknown key") {
    auto r = run_command(f.agent + " keygen --out " + f.dir + "/other");
    REQUIRE(r.exit_code == 0);
    r = run_command(f.collector + " verify --pubkey " + f.dir + "/other/agent.pub " + f.files[0]);
    CHECK(r.exit_code == 1);
    CHECK(r.output.find("unknown key") != std::string::npos);
  }
  SUBCASE("missing file") {
    auto r = f.verify({f.dir + "/nope.btb"});
    CHECK(r.exit_code == 1);
    CHECK(r.output.find("nope.btb: unreadable") != std::string::npos);
  }
}

// The chain is rebuilt from the files' own links, so an archive holding a
// restart reads as the collector stored it (issue 17, item 3).
TEST_CASE("restarts are told from the first chain by event time, whatever order the files come in") {
  Fixture f;
  batch::Sealer later(f.key, "agent-a");
  const uint64_t t = 1795775400000000000ull + 3600ull * 1000000000;
  for (auto& e : testing::sample_events(2, "agent-a", t)) later.add(e);
  const auto restart = later.seal(1, crypto::Digest{}).value();
  for (auto& e : testing::sample_events(2, "agent-a", t + 1000000)) later.add(e);
  const auto restart2 = later.seal(2, restart.hash).value();
  const std::string r1 = f.write("r1.btb", restart.bytes), r2 = f.write("r2.btb", restart2.bytes);
  auto r = f.verify({r2, r1, f.files[2], f.files[1], f.files[0]});
  CHECK(r.exit_code == 1);
  CHECK(r.output.find(f.files[0] + ": ok") != std::string::npos);
  CHECK(r.output.find(r1 + ": restart") != std::string::npos);
  CHECK(r.output.find(r2 + ": ok") != std::string::npos);
  CHECK(r.output.find("4 ok, 1 with problems") != std::string::npos);
}

TEST_CASE("two batches naming the same predecessor are both forks, each naming the other") {
  Fixture f;
  batch::Sealer other(f.key, "agent-a");
  other.add(testing::sample_events(1, "agent-a")[0]);
  const auto forked = other.seal(3, crypto::sha256(crypto::as_bytes(f.read(1)))).value();
  const std::string path = f.write("fork3.btb", forked.bytes);
  auto r = f.verify({f.files[0], f.files[1], f.files[2], path});
  CHECK(r.exit_code == 1);
  CHECK(r.output.find(path + ": fork (seq 3 of agent agent-a chains to the same seq 2 as " + f.files[2]) !=
        std::string::npos);
  CHECK(r.output.find(f.files[2] + ": fork (seq 3 of agent agent-a chains to the same seq 2 as " + path) !=
        std::string::npos);
}

TEST_CASE("part of a chain verifies; a link to a batch not given is a gap") {
  Fixture f;
  auto tail = f.verify({f.files[2], f.files[3], f.files[4]});
  CHECK_MESSAGE(tail.exit_code == 0, tail.output);
  CHECK(tail.output.find("(agent agent-a seq 3, 5 events (the first given: seq 1..2 not given))") != std::string::npos);
  batch::Sealer other(f.key, "agent-a");
  const auto stray = other.seal(3, crypto::sha256(crypto::as_bytes("not seq 2"))).value();
  const std::string path = f.write("stray3.btb", stray.bytes);
  auto r = f.verify({f.files[0], f.files[1], path});
  CHECK(r.exit_code == 1);
  CHECK(r.output.find(path + ": gap (seq 3 of agent agent-a chains to a seq 2 not among the files") !=
        std::string::npos);
}

TEST_CASE("usage errors are one line and exit 2") {
  Fixture f;
  auto r = run_command(f.collector + " verify --bogus x");
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("unknown option --bogus") != std::string::npos);
  r = run_command(f.collector + " verify --pubkey " + f.files[0] + " " + f.files[0]);
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("BEGIN PUBLIC KEY") != std::string::npos);
}

// Runs the real buildtrail-agent keygen and buildtrail-collector verify
// binaries on batch files sealed by common/.
#include <doctest/doctest.h>

#include <zstd.h>

#include <cstring>

#include "collector/verify/verify.h"
#include "common/fs.h"
#include "tests/common/terminal.h"
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
  // Batch `seq` of agent-a holding `json` (one event line) as it is,
  // correctly signed: what a hostile agent with its own key can send.
  std::string signed_line(const std::string& json, uint64_t seq = 1) {
    std::string payload(ZSTD_compressBound(json.size()), '\0');
    payload.resize(ZSTD_compress(payload.data(), payload.size(), json.data(), json.size(), 1));
    batch::Header h;
    h.agent_id = "agent-a";
    h.key_id = crypto::key_id(key.public_key);
    h.seq = seq;
    h.first_time_ns = h.last_time_ns = 1000;
    h.event_count = 1;
    h.uncompressed_size = static_cast<uint32_t>(json.size());
    h.payload_size = static_cast<uint32_t>(payload.size());
    return batch::encode_signed(h, payload, key);
  }
};

// kHostileUtf8 as a JSON string's contents.
const std::string kHostileJson =
    "x\\u001b[2J\\rFAKE\\nverified 9 batches: 9 ok\\u007f\\u2028\\u2029\\u202eevil\\u009b1m";

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

// Issue 17, item 13: file names and event text reach verify's report; a
// line it prints is the line it means, with no escape sequence or fake line.
TEST_CASE("verify prints file names and event text escaped, one line per file") {
  Fixture f;
  // An event whose kind is hostile text: its error quotes it.
  const std::string bad_kind = f.write(
      "kind.btb", f.signed_line("{\"kind\":\"" + kHostileJson + "\",\"time_ns\":1000,\"agent_id\":\"agent-a\"}\n"));
  // An event naming another agent, with hostile text for its id.
  const std::string bad_agent =
      f.write("agent.btb",
              f.signed_line("{\"kind\":\"process_exit\",\"time_ns\":1000,\"agent_id\":\"" + kHostileJson + "\"}\n", 2));
  // A file whose very name is hostile (any byte but '/' and NUL), reached
  // through a glob so the shell passes it untouched.
  const std::string named = f.dir + "/h" + std::string(testing::kHostile) + ".btb";
  REQUIRE(fs::write_new_file(named, f.read(0), 0644).ok());
  auto r = run_command(f.collector + " verify --pubkey " + f.dir + "/keys/agent.pub " + bad_kind + " " + bad_agent +
                       " " + f.dir + "/h*.btb");
  CHECK(r.exit_code == 1);
  CHECK_MESSAGE(testing::terminal_unsafe(r.output).empty(), testing::terminal_unsafe(r.output) << "\n" << r.output);
  const std::string shown =
      "x\\x1b[2J\\x0dFAKE\\x0averified 9 batches: 9 ok\\x7f\\u{2028}\\u{2029}\\u{202e}evil\\u{009b}1m";
  CHECK_MESSAGE(r.output.find(bad_kind + ": malformed (event 1 (payload offset 0): unknown event kind '" + shown +
                              "')") != std::string::npos,
                r.output);
  CHECK_MESSAGE(r.output.find(bad_agent + ": malformed (event 1 names agent '" + shown + "'") != std::string::npos,
                r.output);
  CHECK_MESSAGE(r.output.find(f.dir + "/h" + shown + "\\xff.btb: ok") != std::string::npos, r.output);
  // Three reports and the total: the faked "verified" line is not a line.
  std::size_t lines = 0;
  for (char c : r.output) lines += c == '\n';
  CHECK(lines == 4);
  CHECK(r.output.find("\nverified 9") == std::string::npos);

  // Errors quoting a flag's value are escaped too.
  auto usage = run_command(f.collector + " verify --max-uncompressed \"$(printf '1\\033[2J')\" --pubkey k x.btb");
  CHECK(usage.exit_code == 2);
  CHECK(testing::terminal_unsafe(usage.output).empty());
  CHECK(usage.output.find("not a byte count: 1\\x1b[2J") != std::string::npos);
}

// Evidence exports (docs/evidence.md): DSSE envelopes of signed batches and
// the in-toto statement of a build. The envelope codec on its own, then end
// to end: the real agent wraps a small build that reads a credential,
// connects and uploads a file, delivering to the real collector; `export
// --dsse` and `export --intoto` are checked by our `verify` and by
// securesystemslib (tests/collector/dsse_check.py), and one flipped byte
// fails both.
#include <doctest/doctest.h>
#include <rapidjson/document.h>
#include <sys/stat.h>

#include <filesystem>

#include "collector/evidence/dsse.h"
#include "collector/store/store.h"
#include "common/batch/batch.h"
#include "common/fs.h"
#include "tests/agent/capture_fixtures.h"
#include "tests/collector/collector_process.h"

using namespace bt;
using namespace bt::collector;
using namespace bt::testing::capture;

namespace {

std::string collector_bin() { return testing::build_path("collector/buildtrail-collector"); }
std::string src_path(const std::string& p) { return testing::env_or("BUILDTRAIL_SRC", ".") + "/" + p; }

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Writes `envelope` with one byte of its payload or of its signature flipped.
std::string tampered(const std::string& json, bool in_signature) {
  auto e = evidence::parse_envelope(json).value();
  std::string& bytes = in_signature ? e.signatures.at(0).sig : e.payload;
  bytes[bytes.size() / 2] ^= 0x01;
  return evidence::to_json(e);
}

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

// The Python that has securesystemslib: Debian's package installs it for
// the system interpreter, which a python3 earlier on PATH (pyenv, a venv)
// may not see. Empty when none has it.
std::string python_with_securesystemslib() {
  for (const std::string python : {"python3", "/usr/bin/python3"})
    if (testing::run_command(python + " -c 'import securesystemslib'").exit_code == 0) return python;
  return {};
}

}  // namespace

TEST_CASE("a batch is a DSSE envelope as it is, and comes back byte for byte") {
  const auto key = testing::test_key();
  const auto chain = testing::sealed_chain(key, "agent-a", 2);
  const auto& b = chain[1];
  auto e = evidence::from_batch(crypto::as_bytes(b.bytes)).value();
  CHECK(e.payload_type == "application/vnd.buildtrail.batch.v1");
  CHECK(e.payload.size() == b.bytes.size() - batch::kSignatureSize);
  REQUIRE(e.signatures.size() == 1);
  CHECK(e.signatures[0].keyid == crypto::to_hex(crypto::key_id(key.public_key)));
  CHECK(evidence::pae(e.payload_type, e.payload) == batch::pae(e.payload));
  CHECK(evidence::verify(e, key.public_key));

  const std::string json = evidence::to_json(e);
  auto back = evidence::parse_envelope(json).value();
  CHECK(evidence::to_batch(back).value() == b.bytes);
  CHECK(evidence::verify(back, key.public_key));
  CHECK_FALSE(evidence::verify(evidence::parse_envelope(tampered(json, false)).value(), key.public_key));
  CHECK_FALSE(evidence::verify(evidence::parse_envelope(tampered(json, true)).value(), key.public_key));
  const auto other = crypto::generate_key_pair().value();
  CHECK_FALSE(evidence::verify(back, other.public_key));

  // A statement signed by another key verifies with that key only.
  const auto signed_statement = evidence::sign(evidence::kInTotoPayloadType, "{}", other);
  CHECK(evidence::verify(signed_statement, other.public_key));
  CHECK_FALSE(evidence::verify(signed_statement, key.public_key));

  // The URL-safe alphabet without padding is DSSE too.
  std::string urlsafe = json;
  for (char& c : urlsafe) c = c == '+' ? '-' : c == '/' ? '_' : c;
  CHECK(evidence::parse_envelope(urlsafe).ok());
  for (const std::string bad : {"", "[]", "{}", R"({"payloadType":"x","payload":"!!","signatures":[]})",
                                R"({"payloadType":"x","payload":"","signatures":[]})",
                                R"({"payloadType":"x","payload":"","signatures":[{"sig":3}]})"})
    CHECK_MESSAGE(!evidence::parse_envelope(bad).ok(), bad);
  CHECK(!evidence::to_batch(signed_statement).ok());
}

TEST_CASE("export --dsse and --intoto of a real build verify with our verify and with securesystemslib") {
  testing::CollectorData d("evidence");
  testing::CollectorProcess c(d.data);
  REQUIRE(c.running());
  const std::string home = d.root + "/home";
  REQUIRE(testing::run_command("mkdir -p " + home + "/.aws && printf '[default]\\n' > " + home +
                               "/.aws/credentials && printf 'hello\\n' > " + d.root + "/artifact.txt")
              .exit_code == 0);
  Listener registry;
  const std::string port = std::to_string(registry.port);
  const std::string script =
      "cat $HOME/.aws/credentials >/dev/null; curl -s -m 2 -H Expect: -T artifact.txt http://127.0.0.1:" + port +
      "/up/artifact.txt; true";
  const auto run = testing::run_command(
      "cd " + d.root + " && env -i PATH=/usr/bin:/bin HOME=" + home +
      " GITHUB_ACTIONS=true GITHUB_RUN_ID=777 GITHUB_RUN_ATTEMPT=1 GITHUB_WORKFLOW=ci GITHUB_JOB=build"
      " GITHUB_REPOSITORY=example/app GITHUB_SERVER_URL=https://github.com " +
      agent_bin() + " run --state-dir " + d.root + "/state --collector " + c.url("") + " --enroll-token " + d.token() +
      " --batch-max-age-ms 100 -- /bin/bash -c '" + script + "'");
  INFO(run.output);
  REQUIRE(run.exit_code == 0);

  store::BuildFilter filter;
  filter.ci_build_id = "777.1";
  auto rows = store::open_sqlite(d.data, {true, 5000}).value()->builds(filter).value();
  REQUIRE(rows.size() == 1);
  const std::string ref = std::to_string(rows[0].id);
  const std::string data = " --data " + d.data;
  const std::string agent_pub = d.root + "/agent.pub";
  REQUIRE(testing::run_command(collector_bin() + " agents pubkey" + data + " " + rows[0].agent_id + " > " + agent_pub)
              .exit_code == 0);
  const std::string python = python_with_securesystemslib();
  REQUIRE_MESSAGE(!python.empty(), "python3-securesystemslib is not installed (make deps)");
  const std::string check = python + " " + src_path("tests/collector/dsse_check.py") + " ";

  // --dsse: one file per batch, listed; our verify and securesystemslib agree.
  const std::string out = d.root + "/dsse";
  auto exported = testing::run_command(collector_bin() + " export" + data + " --dsse --build " + ref + " --out " + out);
  INFO(exported.output);
  REQUIRE(exported.exit_code == 0);
  std::vector<std::string> files;
  for (std::size_t at = 0; at < exported.output.size();) {
    const auto nl = exported.output.find('\n', at);
    files.push_back(exported.output.substr(at, nl - at));
    at = nl + 1;
  }
  REQUIRE(!files.empty());
  std::string listed;
  for (const auto& f : files) {
    CHECK(contains(f, ".dsse.json"));
    listed += " " + f;
  }
  auto ours = testing::run_command(collector_bin() + " verify --pubkey " + agent_pub + listed);
  INFO(ours.output);
  CHECK(ours.exit_code == 0);
  CHECK(contains(ours.output, "(DSSE envelope)"));
  auto theirs = testing::run_command(check + agent_pub + listed);
  INFO(theirs.output);
  CHECK(theirs.exit_code == 0);
  CHECK(contains(theirs.output, ": ok (securesystemslib"));

  // Each envelope's payload and signature are the archived batch's bytes.
  for (const auto& f : files) {
    auto e = evidence::parse_envelope(fs::read_file(f, 64 << 20).value()).value();
    const std::string batch = evidence::to_batch(e).value();
    const std::string hex = crypto::to_hex(crypto::sha256(crypto::as_bytes(batch)));
    CHECK(fs::read_file(d.data + "/archive/" + hex.substr(0, 2) + "/" + hex + ".btb", 64 << 20).value() == batch);
  }

  // Without --out: the same envelopes as JSON lines, which verify reads too.
  const std::string lines = d.root + "/build.dsse.jsonl";
  REQUIRE(
      testing::run_command("(" + collector_bin() + " export" + data + " --dsse --build " + ref + " > " + lines + ")")
          .exit_code == 0);
  CHECK(testing::run_command(collector_bin() + " verify --pubkey " + agent_pub + " " + lines).exit_code == 0);
  CHECK(testing::run_command(check + agent_pub + " " + lines).exit_code == 0);

  // One flipped byte, in the payload or in the signature, fails both.
  const std::string one = fs::read_file(files[0], 64 << 20).value();
  for (bool in_signature : {false, true}) {
    const std::string bad = d.root + (in_signature ? "/bad-sig.json" : "/bad-payload.json");
    REQUIRE(fs::write_new_file(bad, tampered(first_line(one), in_signature) + "\n", 0644).ok());
    auto ours_bad = testing::run_command(collector_bin() + " verify --pubkey " + agent_pub + " " + bad);
    CHECK_MESSAGE(ours_bad.exit_code == 1, ours_bad.output);
    CHECK(contains(ours_bad.output, "bad signature"));
    auto theirs_bad = testing::run_command(check + agent_pub + " " + bad);
    CHECK_MESSAGE(theirs_bad.exit_code == 1, theirs_bad.output);
    CHECK(contains(theirs_bad.output, "FAILED"));
  }

  // --intoto: signed by the collector's key, made on first use (0600).
  auto statement = testing::run_command(collector_bin() + " export" + data + " --intoto --build " + ref + " --out " +
                                        d.root + "/intoto");
  INFO(statement.output);
  REQUIRE(statement.exit_code == 0);
  const std::string statement_file = first_line(statement.output);
  CHECK(statement_file == d.root + "/intoto/build-" + ref + ".intoto.json");
  struct stat st {};
  REQUIRE(::stat((d.data + "/collector.key").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  const std::string collector_pub = d.root + "/collector.pub";
  REQUIRE(testing::run_command(collector_bin() + " key" + data + " > " + collector_pub).exit_code == 0);
  CHECK(fs::read_file(collector_pub, 4096).value() == fs::read_file(d.data + "/collector.pub", 4096).value());
  auto ours_statement =
      testing::run_command(collector_bin() + " verify --pubkey " + collector_pub + " " + statement_file);
  INFO(ours_statement.output);
  CHECK(ours_statement.exit_code == 0);
  CHECK(contains(ours_statement.output, "in-toto statement: 1 subjects"));
  CHECK(testing::run_command(check + collector_pub + " " + statement_file).exit_code == 0);
  // The agent's key does not verify the collector's statement.
  CHECK(testing::run_command(check + agent_pub + " " + statement_file).exit_code == 1);
  CHECK(testing::run_command(collector_bin() + " verify --pubkey " + agent_pub + " " + statement_file).exit_code == 1);
  const std::string bad_statement = d.root + "/bad-statement.json";
  REQUIRE(fs::write_new_file(bad_statement,
                             tampered(first_line(fs::read_file(statement_file, 64 << 20).value()), false) + "\n", 0644)
              .ok());
  CHECK(testing::run_command(check + collector_pub + " " + bad_statement).exit_code == 1);
  CHECK(testing::run_command(collector_bin() + " verify --pubkey " + collector_pub + " " + bad_statement).exit_code ==
        1);

  // What it says: the uploaded file's digest as subject; the build's
  // processes, its connection and its credential read; the batches.
  auto e = evidence::parse_envelope(fs::read_file(statement_file, 64 << 20).value()).value();
  CHECK(e.payload_type == "application/vnd.in-toto+json");
  rapidjson::Document doc;
  doc.Parse(e.payload.data(), e.payload.size());
  REQUIRE(doc.IsObject());
  CHECK(std::string(doc["_type"].GetString()) == "https://in-toto.io/Statement/v1");
  CHECK(std::string(doc["predicateType"].GetString()) == "https://in-toto.io/attestation/runtime-trace/v0.1");
  REQUIRE(doc["subject"].Size() == 1);
  CHECK(std::string(doc["subject"][0]["name"].GetString()) == d.root + "/artifact.txt");
  CHECK(std::string(doc["subject"][0]["digest"]["sha256"].GetString()) ==
        "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03");
  const auto& p = doc["predicate"];
  CHECK(std::string(p["monitoredProcess"]["type"].GetString()) == "https://actions.github.io/buildtypes/workflow/v1");
  std::set<std::string> binaries;
  for (const auto& x : p["monitorLog"]["process"].GetArray()) binaries.insert(x["processBinary"].GetString());
  CHECK(binaries.count("/usr/bin/bash") + binaries.count("/bin/bash") >= 1);
  CHECK(binaries.count("/usr/bin/curl") == 1);
  bool connect = false;
  for (const auto& n : p["monitorLog"]["network"].GetArray())
    if (std::string(n["eventType"].GetString()) == "connect")
      connect |= std::string(n["ip"].GetString()) == "127.0.0.1" &&
                 n["port"].GetUint64() == static_cast<uint64_t>(registry.port);
  CHECK(connect);
  bool secret = false, upload = false;
  for (const auto& f : p["monitorLog"]["fileAccess"].GetArray()) {
    const std::string type = f["annotations"]["eventType"].GetString();
    secret |= type == "secret_access" && std::string(f["name"].GetString()) == home + "/.aws/credentials";
    upload |= type == "artifact_upload";
  }
  CHECK(secret);
  CHECK(upload);
  std::set<std::string> batch_digests;
  for (const auto& b : p["metadata"]["batches"].GetArray()) batch_digests.insert(b["digest"]["sha256"].GetString());
  CHECK(batch_digests.size() == files.size());
  for (const auto& f : files) {
    const auto env = evidence::parse_envelope(fs::read_file(f, 64 << 20).value()).value();
    CHECK(batch_digests.count(crypto::to_hex(crypto::sha256(crypto::as_bytes(evidence::to_batch(env).value())))) == 1);
  }
}

TEST_CASE("evidence export errors are one line") {
  testing::CollectorData d("evidence-usage");
  REQUIRE(store::open_sqlite(d.data).ok());
  const std::string base = collector_bin() + " export --data " + d.data;
  for (const std::string args : {" --dsse", " --dsse --intoto --build 1", " --build 1", " --dsse --build x",
                                 " --dsse --build 1 --since 1h", " --intoto --build 1 --format jsonl"}) {
    auto r = testing::run_command(base + args);
    CHECK_MESSAGE(r.exit_code == 2, args << ": " << r.output);
    CHECK_MESSAGE(std::count(r.output.begin(), r.output.end(), '\n') == 1, r.output);
  }
  auto missing = testing::run_command(base + " --dsse --build 7");
  CHECK(missing.exit_code == 1);
  CHECK(contains(missing.output, "no build record 7"));
}

// buildtrail-collector export --data DIR --dsse --build REF [--out DIR]
// buildtrail-collector export --data DIR --intoto --build REF [--out DIR]
// --dsse: the agent's signed batches that hold the build's events, each as
// a DSSE envelope of the bytes the agent signed (nothing re-signed), each
// verified again first: one JSON line per batch on stdout, or
// OUT/<agent>-<seq>.dsse.json. --intoto: an in-toto runtime-trace
// statement of the build (evidence/intoto.h) in a DSSE envelope signed by
// the collector's key (DATA/collector.key): one line on stdout, or
// OUT/build-<REF>.intoto.json. With --out, the files written are listed.
#include "collector/cmd/evidence.h"

#include <cstdio>

#include "collector/evidence/collector_key.h"
#include "collector/evidence/dsse.h"
#include "collector/evidence/intoto.h"
#include "collector/readback/event_reader.h"
#include "common/fs.h"

namespace bt::collector::cmd {

namespace {

// Where the envelopes go: stdout as JSON lines, or one file each.
class Sink {
 public:
  explicit Sink(std::string dir) : dir_(std::move(dir)) {}
  Status open() const { return dir_.empty() ? Status(Ok{}) : fs::make_dirs(dir_, 0755); }
  Status write(const std::string& name, const std::string& json) const {
    if (dir_.empty()) {
      std::fwrite(json.data(), 1, json.size(), stdout);
      std::fputc('\n', stdout);
      return Ok{};
    }
    const std::string path = dir_ + "/" + name;
    Status s = fs::write_file_atomic(path, json + "\n", 0644);
    if (s) std::printf("%s\n", path.c_str());
    return s;
  }

 private:
  std::string dir_;
};

Result<crypto::PublicKey> agent_key(store::Store& db, const std::string& agent_id) {
  auto agent = db.agent(agent_id);
  if (!agent) return agent.error();
  if (!*agent) return make_error(ErrorCode::kUnknownKey, "agent " + agent_id + " is not in the store");
  return (*agent)->public_key;
}

// Each batch was verified as it was read (readback/); its envelope is
// checked once more as a DSSE verifier will check it, and must give back
// the very bytes.
Status write_batches(store::Store& db, readback::EventReader& reader, int64_t ref, const Sink& sink) {
  std::size_t written = 0;
  Status s = reader.for_each_build_batch(ref, [&](readback::BuildBatch&& b) -> Status {
    auto key = agent_key(db, b.agent_id);
    if (!key) return key.error();
    auto envelope = evidence::from_batch(crypto::as_bytes(b.bytes));
    if (!envelope) return envelope.error();
    auto back = evidence::to_batch(*envelope);
    if (!back || *back != b.bytes || !evidence::verify(*envelope, *key))
      return make_error(ErrorCode::kBadSignature, "the envelope of batch " + b.archive_path + " does not verify");
    ++written;
    return sink.write(b.agent_id + "-" + std::to_string(b.seq) + ".dsse.json", evidence::to_json(*envelope));
  });
  if (s && written == 0)
    return make_error(ErrorCode::kNotFound, "build record " + std::to_string(ref) + " has no events");
  return s;
}

Status write_statement(const Tool& tool, readback::EventReader& reader, const store::BuildRow& build,
                       const Sink& sink) {
  std::vector<readback::BuildBatch> batches;
  Status s = reader.for_each_build_batch(build.id, [&](readback::BuildBatch&& b) -> Status {
    b.bytes.clear();  // the digest and the events are what the statement needs
    batches.push_back(std::move(b));
    return Ok{};
  });
  if (!s) return s;
  auto statement = evidence::runtime_trace_statement(build, batches);
  if (!statement) return statement.error();
  auto key = evidence::load_or_create_collector_key(tool.data_dir());
  if (!key) return key.error();
  const auto envelope = evidence::sign(evidence::kInTotoPayloadType, std::move(*statement), *key);
  return sink.write("build-" + std::to_string(build.id) + ".intoto.json", evidence::to_json(envelope));
}

}  // namespace

std::vector<cli::Option> evidence_options() {
  return {{"dsse", false, "the agent-signed batches holding --build's events, as DSSE envelopes (docs/evidence.md)"},
          {"intoto", false, "an in-toto runtime-trace statement of --build, signed by the collector's key"},
          {"build", true, "with --dsse or --intoto: the build record REF that `builds` prints"},
          {"out", true, "with --dsse or --intoto: write files into this folder (and list them) instead of stdout"}};
}

bool wants_evidence(const cli::Args& args) {
  for (const auto& o : evidence_options())
    if (args.has(o.name)) return true;
  return false;
}

int export_evidence(const Tool& tool) {
  const auto& args = tool.args();
  if (args.has("dsse") == args.has("intoto"))
    return tool.usage_error("give one of --dsse or --intoto with --build REF");
  if (args.has("format") || args.has("since"))
    return tool.usage_error("--dsse and --intoto export one build: no --format or --since");
  const auto ref = parse_build_ref(args.get("build"));
  if (!ref) return tool.usage_error("--build takes the REF column of `builds` (a number)");
  if (args.has("out") && args.get("out").empty()) return tool.usage_error("--out needs a folder");

  auto db = tool.open_store(/*read_only=*/true);
  if (!db) return tool.error(db.error());
  auto build = (*db)->build(*ref);
  if (!build) return tool.error(build.error());
  if (!*build) return tool.error("no build record " + std::to_string(*ref) + " (see `builds`)");
  const Sink sink(args.get("out"));
  Status s = sink.open();
  readback::EventReader reader(**db, tool.data_dir());
  if (s) s = args.has("dsse") ? write_batches(**db, reader, *ref, sink) : write_statement(tool, reader, **build, sink);
  std::fflush(stdout);
  if (!s) return tool.error(s.error());
  return 0;
}

}  // namespace bt::collector::cmd

// Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/):
//   fuzz_batch_decoder/  the chain of tests/data/vectors (same key, same
//                        bytes), an empty batch, a batch of every kind and
//                        the JSON lines of one (for the payload path)
//   fuzz_event_json/     one line per event kind (the examples of docs/events.md)
//   fuzz_event_json_diff/ the same lines, the tricky lines of
//                        tests/common/json_reference.h, and some of both in
//                        one file (the reused reader's path)
//   fuzz_pem_keys/       the fake test key pair of tests/data/vectors
// Usage: gen-fuzz-corpus DIR   (overwrites the files it writes)
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>

#include "common/events/json.h"
#include "common/fs.h"
#include "tests/common/json_reference.h"
#include "tests/common/test_util.h"

namespace {

bool put(const std::string& path, std::string_view data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  out.close();
  if (!out) std::fprintf(stderr, "gen-fuzz-corpus: cannot write %s\n", path.c_str());
  return static_cast<bool>(out);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: gen-fuzz-corpus DIR\n");
    return 2;
  }
  using namespace bt;
  const std::string dir = argv[1];
  for (const char* sub : {"", "/fuzz_batch_decoder", "/fuzz_event_json", "/fuzz_event_json_diff", "/fuzz_pem_keys"}) {
    if (auto s = fs::make_dirs(dir + sub, 0755); !s) {
      std::fprintf(stderr, "gen-fuzz-corpus: %s\n", s.error().message.c_str());
      return 1;
    }
  }
  const auto key = testing::test_key(7);  // the key of tests/data/vectors
  bool ok = true;

  // fuzz_batch_decoder
  const std::string b = dir + "/fuzz_batch_decoder/";
  for (const auto& sealed : testing::sealed_chain(key, "vector-agent-1", 3, 4))
    ok &= put(b + "vector-" + std::to_string(sealed.header.seq) + ".btb", sealed.bytes);
  {
    batch::Sealer sealer(key, "fuzz-agent");
    ok &= put(b + "empty.btb", sealer.seal(1, crypto::Digest{}).value().bytes);
    events::JsonLineWriter lines;
    for (const auto& e : testing::sample_events(events::kKinds.size(), "fuzz-agent")) {
      sealer.add(e);
      lines.append(e);
    }
    ok &= put(b + "all-kinds.btb", sealer.seal(2, crypto::Digest{}).value().bytes);
    ok &= put(b + "all-kinds.jsonl", lines.view());
  }

  // fuzz_event_json
  for (const auto& info : events::kKinds)
    ok &= put(dir + "/fuzz_event_json/" + std::string(info.name) + ".json",
              events::to_json(events::example_event(info.kind)));

  // fuzz_event_json_diff
  {
    const std::string d = dir + "/fuzz_event_json_diff/";
    for (const auto& info : events::kKinds)
      ok &= put(d + std::string(info.name) + ".json", events::to_json(events::example_event(info.kind)));
    int n = 0;
    for (const auto& tricky : testing::kTrickyLines) {
      char name[32];
      std::snprintf(name, sizeof name, "tricky-%02d.json", n++);
      ok &= put(d + name, tricky.line);
    }
    // A few kinds, each twice, around lines the fast reader declines: the
    // reused reader and event see a kind again after other kinds and errors.
    // Short enough to keep libFuzzer's default -max_len at 4096.
    std::string mixed;
    for (const auto kind : {events::Kind::process_exec, events::Kind::loss, events::Kind::process_exec})
      mixed += events::to_json(events::example_event(kind)) + "\n";
    for (std::size_t i = 0; i < std::size(testing::kTrickyLines); i += 6)
      mixed += std::string(testing::kTrickyLines[i].line) + "\n";
    mixed += events::to_json(events::example_event(events::Kind::loss)) + "\n";
    ok &= put(d + "mixed.jsonl", mixed);
  }

  // fuzz_pem_keys
  ok &= put(dir + "/fuzz_pem_keys/agent.pub", crypto::public_key_pem(key.public_key));
  ok &= put(dir + "/fuzz_pem_keys/agent.key", crypto::private_key_pem(key));
  return ok ? 0 : 1;
}

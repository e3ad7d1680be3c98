// Writes the committed test vectors (tests/data/vectors/): a key pair and a
// chain of three batches. Run by `make vectors`; documented in
// docs/batch-format.md. Regenerating changes the files, so only do it when
// the format version changes.
#include <cstdio>
#include <string>

#include "common/fs.h"
#include "tests/common/test_util.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: gen-test-vectors DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  using namespace bt;
  const auto key = testing::test_key(7);
  if (auto s = crypto::write_key_pair(dir, key); !s) {
    std::fprintf(stderr, "%s\n", s.error().message.c_str());
    return 1;
  }
  const auto chain = testing::sealed_chain(key, "vector-agent-1", 3, 4);
  std::string listing = "# seq  events  sha256-of-batch  file\n";
  for (const auto& b : chain) {
    const std::string name = "batch-" + std::to_string(b.header.seq) + ".btb";
    if (auto s = fs::write_new_file(dir + "/" + name, b.bytes, 0644); !s) {
      std::fprintf(stderr, "%s\n", s.error().message.c_str());
      return 1;
    }
    listing += std::to_string(b.header.seq) + " " + std::to_string(b.header.event_count) + " " +
               crypto::to_hex(b.hash) + " " + name + "\n";
  }
  return fs::write_new_file(dir + "/vectors.txt", listing, 0644) ? 0 : 1;
}

// Fuzzes the PEM key readers (common/crypto/keys.h): agent.pub files are
// handed to the collector by operators, agent.key files sit on CI hosts.
//
// Invariants, any break aborts: a key that parses re-encodes to PEM that
// parses back to the same key; a private key signs what its public half
// verifies.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "common/crypto/keys.h"

namespace {

using namespace bt::crypto;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_pem_keys: invariant broken: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string_view pem(reinterpret_cast<const char*>(data), size);

  if (auto pub = parse_public_key_pem(pem)) {
    auto back = parse_public_key_pem(public_key_pem(*pub));
    if (!back) fail("public_key_pem output does not parse");
    if (*back != *pub) fail("public key changed in a PEM round trip");
  } else if (pub.error().message.empty()) {
    fail("public key error without a message");
  }

  if (auto kp = parse_private_key_pem(pem)) {
    auto back = parse_private_key_pem(private_key_pem(*kp));
    if (!back) fail("private_key_pem output does not parse");
    if (back->public_key != kp->public_key || back->secret_key != kp->secret_key)
      fail("private key changed in a PEM round trip");
    static constexpr std::string_view kMessage = "fuzz";
    if (!verify(kp->public_key, as_bytes(kMessage), sign(*kp, as_bytes(kMessage))))
      fail("a parsed private key signs what its public key does not verify");
  } else if (kp.error().message.empty()) {
    fail("private key error without a message");
  }
  return 0;
}

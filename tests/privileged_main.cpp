// The main of the privileged suite's test binaries: they load BPF programs,
// mount filesystems and change users, so they need root. Without it the
// binary exits 77 -- Meson's "skipped", never a pass -- unless
// BUILDTRAIL_REQUIRE_EBPF=1 (CI), where a missing privilege is a failure.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

int main(int argc, char** argv) {
  if (::geteuid() != 0) {
    const char* require = std::getenv("BUILDTRAIL_REQUIRE_EBPF");
    if (require && std::strcmp(require, "1") == 0) {
      std::fprintf(stderr, "the privileged tests need root (BUILDTRAIL_REQUIRE_EBPF=1)\n");
      return 1;
    }
    std::fprintf(stderr, "skipped: the privileged tests need root\n");
    return 77;
  }
  doctest::Context context(argc, argv);
  return context.run();
}

// Offline verification of batch files: signature, bounded decompression,
// every event parsed, and the hash chain across the files given. The
// `verify` command (cmd/verify.cpp) prints these reports.
#pragma once

#include <string>
#include <vector>

#include "common/batch/batch.h"

namespace bt::collector::verify {

struct FileReport {
  std::string path;
  std::string status;  // ok, bad signature, unknown key, gap, fork, replay, restart, truncated, malformed
  std::string detail;  // one line: why, or what the batch holds
  bool ok() const { return status == "ok"; }
};

// Checks each file against the given public keys (matched by key id).
std::vector<FileReport> verify_files(const std::vector<std::string>& paths, const std::vector<crypto::PublicKey>& keys,
                                     const batch::Limits& limits = {});

}  // namespace bt::collector::verify

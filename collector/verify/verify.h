// Offline verification of batch files: signature, bounded decompression,
// every event parsed, and the hash chain across the files given. The
// `verify` command (cmd/verify.cpp) prints these reports.
//
// Two modes. Files (`verify --pubkey K FILE...`): the chain is rebuilt from
// the files alone, by their prev_hash links, so the argument order does not
// matter and batches of several epochs (restarts) sort themselves out. The
// archive (`verify --data DIR`): every batch the store holds, checked
// against the store's own chain (agent, epoch, seq), so the verdicts are
// the collector's; refused batches, kept apart, are listed as such.
#pragma once

#include <map>
#include <string>
#include <unordered_set>
#include <vector>

#include "common/batch/batch.h"

namespace bt::collector::verify {

struct FileReport {
  // ok, bad signature, unknown key, gap, fork, replay, restart, truncated,
  // malformed, unreadable; for the archive also missing, mismatch, refused
  // and unreferenced.
  std::string path;
  std::string status;
  std::string detail;  // one line: why, or what the batch holds
  bool ok() const { return status == "ok"; }
};

// Checks each file against the given public keys (matched by key id). A
// file whose first non-blank byte is '{' holds DSSE envelopes, one per
// line (export --dsse, export --intoto): each is reported on its own
// (FILE:LINE when the file holds several); its signature is checked as a
// DSSE verifier checks it, then a batch's envelope gets every check of a
// batch file, chain included, and an in-toto statement's the shape of one.
std::vector<FileReport> verify_files(const std::vector<std::string>& paths, const std::vector<crypto::PublicKey>& keys,
                                     const batch::Limits& limits = {});

// A batch as the store records it (collector/store keeps these rows).
struct StoredEntry {
  std::string agent_id;
  uint64_t epoch = 0, seq = 0;
  crypto::Digest hash{}, prev_hash{};
  std::string archive_path;  // relative to the data folder
};

// Checks a collector's data folder. Stored batches come in (agent, epoch,
// seq) order, as the store lists them, so the chain is checked as it
// streams by; then rest() walks the archive folder for refused batches and
// files no stored batch names.
class ArchiveChecker {
 public:
  ArchiveChecker(std::string data_dir, std::map<std::string, crypto::PublicKey> keys, batch::Limits limits = {});

  FileReport stored(const StoredEntry& entry);
  // refused: verified with the claimed agent's key, status "refused" (a
  // fork finding was recorded for it); unreferenced: an archive file no
  // stored batch names (a crash between archive write and commit leaves
  // those), status "unreferenced".
  std::vector<FileReport> rest();

 private:
  void check_stored(const StoredEntry& e, FileReport& report);
  std::string check_links(const StoredEntry& e, std::string* detail);
  void refused(const std::string& path, std::vector<FileReport>& out);

  std::string dir_;
  std::map<std::string, crypto::PublicKey> keys_;
  batch::Limits limits_;
  std::unordered_set<std::string> named_;  // archive paths of stored batches
  StoredEntry last_;                       // the previous stored batch
  bool have_last_ = false;
};

}  // namespace bt::collector::verify

// The agent's durable spool: every sealed batch is written here before any
// send is attempted, and removed only after the collector acknowledges it.
//
// Layout under DIR (the state folder's spool/):
//   <seq, 20 digits>.btb   one sealed batch, byte for byte what is sent
//   chain                  "seq sha256hex\n": the last sealed batch (the chain tip)
//   lock                   flock()ed while sealing, so several agent
//                          processes sharing a state folder never fork the chain
//   quarantine/            spool files found corrupt (reported as loss)
//   rejected/              batches the collector refused for good (kept for
//                          investigation, oldest removed past a size cap)
//
// The folder and its subfolders must be the running user's alone, and
// every file is opened through the folder's descriptor without following
// links (common/private_dir.h): a link planted as `lock`, `chain` or a batch
// never sends a write, a lock or a read elsewhere.
//
// Durability (stated policy): a batch file is written to a temporary name,
// fsynced, renamed and the folder fsynced, then the chain file likewise,
// before append() returns. After a crash between the two, open() recovers
// the tip from the newest batch file.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/batch/batch.h"
#include "common/private_dir.h"
#include "common/result.h"

namespace bt::transport::spool {

struct Config {
  std::string dir;
  uint64_t max_bytes = 512ull << 20;  // batch files only
  uint64_t max_rejected_bytes = 64ull << 20;
};

struct Tip {
  uint64_t seq = 0;  // 0: nothing sealed yet
  crypto::Digest hash{};
};

// A file the spool could not use; its events are lost and must be reported.
struct Lost {
  std::string file;
  uint64_t events = 0;  // from the header when readable, else 0
  uint64_t first_ns = 0, last_ns = 0;
  std::string reason;  // e.g. spool_corrupt
};

// What append() did with a sealed batch.
struct Appended {
  bool stored = false;
  batch::Header header;  // of the batch as sealed
  uint64_t bytes = 0;
  std::string reason;  // when not stored: spool_full or spool_write_error
  std::string detail;  // one line: why
};

class Spool {
 public:
  // Opens or creates DIR; checks every spool file against the agent's key
  // (signature, agent id, bounded decompression); corrupt or truncated
  // files move to quarantine/ and are listed in lost_at_open().
  static Result<std::unique_ptr<Spool>> open(const Config& config, const crypto::PublicKey& key,
                                             const std::string& agent_id);

  // Seals the sealer's pending events as the next batch of the chain and
  // stores it durably, under the spool lock. When it does not fit max_bytes
  // or the disk refuses it, nothing is stored, the chain does not advance,
  // and the caller accounts the events as lost (Appended::reason).
  Result<Appended> seal_and_append(batch::Sealer& sealer);

  Tip tip() const;
  // Spooled batches in seq order (re-read from the folder, so batches sealed
  // by another process sharing it are seen too).
  std::vector<uint64_t> pending();
  Result<std::string> read(uint64_t seq) const;
  // Acknowledged by the collector.
  Status remove(uint64_t seq);
  // True (and forgotten) when the file no longer exists: another agent
  // sharing the folder delivered it. A read error is not corruption then.
  bool gone(uint64_t seq);
  // Moves a batch to rejected/ (the collector will never take it) or to
  // quarantine/ (unreadable), keeping `reason` next to it.
  Status reject(uint64_t seq, const std::string& reason);
  Status quarantine(uint64_t seq, const std::string& reason);

  uint64_t bytes() const;
  const std::vector<Lost>& lost_at_open() const { return lost_at_open_; }
  std::string path_of(uint64_t seq) const;

 private:
  Spool() = default;
  Status scan_and_verify(const crypto::PublicKey& key);
  // Re-reads the folder only when its mtime moved since we last looked, so
  // the common case (only this process writes) costs one stat().
  void refresh(bool force = false);
  // After our own change. The mtime may also cover another process's new
  // batch, which we then list late: pending() and every seal make sure we
  // never ship past one, and re-reading here would make draining a backlog
  // of n batches cost n listings.
  void note_own_change();
  Status move_aside(uint64_t seq, const fs::PrivateDir& folder, const std::string& reason);
  Result<Tip> read_tip_locked() const;

  Config config_;
  fs::PrivateDir dir_, quarantine_, rejected_;
  std::string agent_id_;
  std::map<uint64_t, uint64_t> files_;  // seq -> size
  int64_t dir_mtime_ns_ = -1;
  uint64_t bytes_ = 0;
  Tip tip_;
  std::vector<Lost> lost_at_open_;
};

}  // namespace bt::transport::spool

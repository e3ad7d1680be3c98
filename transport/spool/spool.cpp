#include "transport/spool/spool.h"

#include <sys/file.h>
#include <sys/stat.h>

#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "common/fs.h"

namespace bt::transport::spool {

namespace {

constexpr std::size_t kSeqDigits = 20;

bool parse_batch_name(const char* name, uint64_t* seq) {
  const std::size_t len = std::strlen(name);
  if (len != kSeqDigits + 4 || std::strcmp(name + kSeqDigits, ".btb") != 0) return false;
  uint64_t v = 0;
  for (std::size_t i = 0; i < kSeqDigits; ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
    v = v * 10 + static_cast<uint64_t>(name[i] - '0');
  }
  *seq = v;
  return true;
}

std::string batch_name(uint64_t seq) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%020" PRIu64 ".btb", seq);
  return buf;
}

// Holds an exclusive flock on DIR/lock for its lifetime (closing the fd
// releases it).
class DirLock {
 public:
  explicit DirLock(const fs::PrivateDir& dir) {
    auto fd = dir.open_lock("lock");
    if (!fd) {
      error_ = fd.error().message;
      return;
    }
    if (::flock(fd->get(), LOCK_EX) != 0) {
      error_ = dir.path_of("lock") + ": cannot lock: " + fs::errno_text(errno);
      return;
    }
    fd_ = std::move(*fd);
  }
  bool ok() const { return fd_.valid(); }
  const std::string& error() const { return error_; }

 private:
  UniqueFd fd_;
  std::string error_;
};

Result<Tip> parse_chain_file(const std::string& text) {
  char hex[65] = {0};
  unsigned long long seq = 0;
  if (std::sscanf(text.c_str(), "%llu %64s", &seq, hex) != 2 || std::strlen(hex) != 64)
    return make_error(ErrorCode::kMalformed, "chain file is not '<seq> <sha256 hex>'");
  Tip tip;
  tip.seq = seq;
  for (std::size_t i = 0; i < 32; ++i) {
    unsigned byte = 0;
    if (std::sscanf(hex + 2 * i, "%2x", &byte) != 1)
      return make_error(ErrorCode::kMalformed, "chain file hash is not hex");
    tip.hash[i] = static_cast<uint8_t>(byte);
  }
  return tip;
}

}  // namespace

std::string Spool::path_of(uint64_t seq) const { return dir_.path_of(batch_name(seq)); }

Result<std::unique_ptr<Spool>> Spool::open(const Config& config, const crypto::PublicKey& key,
                                           const std::string& agent_id) {
  std::unique_ptr<Spool> s(new Spool);
  s->config_ = config;
  s->agent_id_ = agent_id;
  auto dir = fs::PrivateDir::open(config.dir, true);
  if (!dir) return dir.error();
  s->dir_ = std::move(*dir);
  auto quarantine = s->dir_.sub("quarantine", true);
  if (!quarantine) return quarantine.error();
  s->quarantine_ = std::move(*quarantine);
  auto rejected = s->dir_.sub("rejected", true);
  if (!rejected) return rejected.error();
  s->rejected_ = std::move(*rejected);
  DirLock lock(s->dir_);
  if (!lock.ok()) return make_error(ErrorCode::kIo, lock.error());
  if (Status st = s->scan_and_verify(key); !st) return st.error();
  auto tip = s->read_tip_locked();
  if (!tip) return tip.error();
  s->tip_ = *tip;
  return s;
}

void Spool::note_own_change() { dir_mtime_ns_ = dir_.mtime_ns(); }

std::vector<uint64_t> Spool::pending() {
  refresh();
  // The oldest batch we know of goes first, so its predecessor must not be
  // on disk: another run's batch we have not listed yet (a listing taken
  // while others seal, or an mtime that did not move) would otherwise be
  // shipped after it, and the collector would record a gap. One stat.
  auto predecessor_on_disk = [this] {
    return !files_.empty() && files_.begin()->first > 1 && dir_.exists(batch_name(files_.begin()->first - 1));
  };
  for (int reread = 0; reread < 3 && predecessor_on_disk(); ++reread) refresh(true);
  std::vector<uint64_t> out;
  out.reserve(files_.size());
  for (const auto& [seq, size] : files_) out.push_back(seq);
  return out;
}

void Spool::refresh(bool force) {
  const int64_t now = dir_.mtime_ns();
  if (!force && now == dir_mtime_ns_) return;
  dir_mtime_ns_ = now;
  files_.clear();
  bytes_ = 0;
  auto names = dir_.list();
  if (!names) return;
  for (const auto& name : *names) {
    uint64_t seq = 0;
    if (!parse_batch_name(name.c_str(), &seq)) continue;
    // lstat: a link named like a batch is listed (and quarantined when
    // read), never followed.
    auto st = dir_.stat(name);
    if (!st) continue;
    files_[seq] = static_cast<uint64_t>(st->st_size);
    bytes_ += static_cast<uint64_t>(st->st_size);
  }
}

Status Spool::scan_and_verify(const crypto::PublicKey& key) {
  // Leftovers of writes interrupted by a crash were never acknowledged as
  // stored, so they are simply removed.
  if (auto names = dir_.list(); names)
    for (const auto& name : *names)
      if (name.find(".tmp.") != std::string::npos) (void)dir_.remove(name);
  refresh(true);
  for (uint64_t seq : pending()) {
    auto bytes = dir_.read(batch_name(seq), batch::Limits{}.max_batch_bytes);
    // Another agent on this folder delivered and removed it meanwhile.
    if (!bytes && gone(seq)) continue;
    Lost lost;
    lost.file = batch_name(seq);
    lost.reason = "spool_corrupt";
    std::string problem;
    if (!bytes) {
      problem = bytes.error().message;
    } else {
      const auto span = crypto::as_bytes(*bytes);
      auto header = batch::parse_header(span);
      if (header) {
        lost.events = header->event_count;
        lost.first_ns = header->first_time_ns;
        lost.last_ns = header->last_time_ns;
      }
      auto opened = batch::open(span, key);
      if (!opened)
        problem = opened.error().message;
      else if (opened->header.agent_id != agent_id_)
        problem = "batch of another agent";
      else if (opened->header.seq != seq)
        problem = "file name does not match its seq";
    }
    if (problem.empty()) continue;
    if (Status st = move_aside(seq, quarantine_, problem); !st) return st;
    lost_at_open_.push_back(std::move(lost));
  }
  refresh(true);
  return Ok{};
}

Result<Tip> Spool::read_tip_locked() const {
  Tip tip;
  if (auto text = dir_.read("chain", 4096); text) {
    auto parsed = parse_chain_file(*text);
    if (parsed) tip = *parsed;
  }
  // A batch newer than the chain file means a crash (or a full disk) hit
  // between writing the batch and the chain file: the batch is the tip.
  if (!files_.empty() && files_.rbegin()->first > tip.seq) {
    const uint64_t seq = files_.rbegin()->first;
    auto bytes = dir_.read(batch_name(seq), batch::Limits{}.max_batch_bytes);
    if (!bytes) return bytes.error();
    tip.seq = seq;
    tip.hash = batch::batch_hash(crypto::as_bytes(*bytes));
  }
  return tip;
}

Result<Appended> Spool::seal_and_append(batch::Sealer& sealer) {
  DirLock lock(dir_);
  if (!lock.ok()) {
    // The events are consumed either way, so the caller can count them lost.
    const std::string why = lock.error();
    auto discarded = sealer.seal(1, crypto::Digest{});
    Appended out;
    if (discarded) out.header = discarded->header;
    out.reason = "spool_write_error";
    out.detail = why;
    return out;
  }
  // Always read (under the lock, so no seal is half seen): a batch this
  // process ships must come with every older one another process sealed.
  refresh(true);
  auto tip = read_tip_locked();
  if (!tip) return tip.error();
  tip_ = *tip;
  auto sealed = sealer.seal(tip_.seq + 1, tip_.hash);
  if (!sealed) return sealed.error();
  Appended out;
  out.header = sealed->header;
  out.bytes = sealed->bytes.size();
  if (bytes_ + sealed->bytes.size() > config_.max_bytes) {
    out.reason = "spool_full";
    out.detail = "spool holds " + std::to_string(bytes_) + " of " + std::to_string(config_.max_bytes) + " bytes";
    return out;
  }
  const uint64_t seq = sealed->header.seq;
  if (Status st = dir_.write_atomic(batch_name(seq), sealed->bytes, 0600); !st) {
    out.reason = "spool_write_error";
    out.detail = st.error().message;
    return out;
  }
  files_[seq] = sealed->bytes.size();
  bytes_ += sealed->bytes.size();
  tip_ = Tip{seq, sealed->hash};
  // If this write fails the batch file alone still records the tip (see
  // read_tip_locked), so the chain cannot fork.
  (void)dir_.write_atomic("chain", std::to_string(seq) + " " + crypto::to_hex(sealed->hash) + "\n", 0600);
  note_own_change();
  out.stored = true;
  return out;
}

Tip Spool::tip() const { return tip_; }

Result<std::string> Spool::read(uint64_t seq) const {
  return dir_.read(batch_name(seq), batch::Limits{}.max_batch_bytes);
}

bool Spool::gone(uint64_t seq) {
  auto st = dir_.stat(batch_name(seq));
  if (st || st.error().code != ErrorCode::kNotFound) return false;
  if (auto it = files_.find(seq); it != files_.end()) {
    bytes_ -= it->second;
    files_.erase(it);
  }
  return true;
}

Status Spool::remove(uint64_t seq) {
  if (Status st = dir_.remove(batch_name(seq)); !st && st.error().code != ErrorCode::kNotFound) return st;
  if (auto it = files_.find(seq); it != files_.end()) {
    bytes_ -= it->second;
    files_.erase(it);
  }
  note_own_change();
  return Ok{};
}

Status Spool::move_aside(uint64_t seq, const fs::PrivateDir& folder, const std::string& reason) {
  const std::string name = batch_name(seq);
  if (Status st = dir_.move(name, folder, name); !st && st.error().code != ErrorCode::kNotFound) return st;
  (void)folder.write_atomic(name + ".reason", reason + "\n", 0600);
  if (auto it = files_.find(seq); it != files_.end()) {
    bytes_ -= it->second;
    files_.erase(it);
  }
  note_own_change();
  return Ok{};
}

Status Spool::reject(uint64_t seq, const std::string& reason) {
  Status st = move_aside(seq, rejected_, reason);
  if (!st) return st;
  // Keep rejected/ under its cap by dropping the oldest evidence first.
  std::map<uint64_t, uint64_t> kept;
  uint64_t total = 0;
  if (auto names = rejected_.list(); names) {
    for (const auto& name : *names) {
      uint64_t s = 0;
      if (!parse_batch_name(name.c_str(), &s)) continue;
      if (auto sb = rejected_.stat(name); sb) {
        kept[s] = static_cast<uint64_t>(sb->st_size);
        total += static_cast<uint64_t>(sb->st_size);
      }
    }
  }
  for (auto it = kept.begin(); total > config_.max_rejected_bytes && it != kept.end(); ++it) {
    const std::string name = batch_name(it->first);
    (void)rejected_.remove(name);
    (void)rejected_.remove(name + ".reason");
    total -= it->second;
  }
  return Ok{};
}

Status Spool::quarantine(uint64_t seq, const std::string& reason) { return move_aside(seq, quarantine_, reason); }

uint64_t Spool::bytes() const { return bytes_; }

}  // namespace bt::transport::spool

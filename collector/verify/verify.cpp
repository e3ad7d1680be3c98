#include "collector/verify/verify.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>

#include "collector/evidence/dsse.h"
#include "collector/evidence/intoto.h"
#include "common/batch/batch.h"
#include "common/fs.h"

namespace bt::collector::verify {

namespace {

struct Checked {
  std::size_t index;  // into the report list
  batch::Header header;
  crypto::Digest hash;
};

const char* status_for(ErrorCode code) {
  switch (code) {
    case ErrorCode::kTruncated:
      return "truncated";
    case ErrorCode::kBadSignature:
      return "bad signature";
    case ErrorCode::kUnknownKey:
      return "unknown key";
    case ErrorCode::kIo:
      return "unreadable";
    default:
      return "malformed";
  }
}

std::string seq_range(uint64_t from, uint64_t to) { return std::to_string(from) + ".." + std::to_string(to); }

using KeyFor = std::function<const crypto::PublicKey*(const batch::Header&)>;

std::nullopt_t fail(FileReport& report, const Error& e) {
  report.status = status_for(e.code);
  report.detail = e.message;
  return std::nullopt;
}

// Authenticates and parses one batch; `key_for` picks the public key for
// its header (nullptr: none). On failure the report says why and nothing
// is returned.
std::optional<Checked> check_bytes(const std::string& bytes, std::size_t index, const KeyFor& key_for,
                                   const batch::Limits& limits, FileReport& report) {
  auto fail = [&](const Error& e) { return verify::fail(report, e); };
  const auto span = crypto::as_bytes(bytes);
  auto header = batch::parse_header(span, limits);
  if (!header) return fail(header.error());
  const crypto::PublicKey* key = key_for(*header);
  if (!key) return fail(make_error(ErrorCode::kUnknownKey, "no key has key id " + crypto::to_hex(header->key_id)));
  auto opened = batch::open(span, *key, limits);
  if (!opened) return fail(opened.error());
  Status parsed = batch::for_each_event(*opened, [](events::Event&&) {});
  if (!parsed) return fail(parsed.error());
  report.status = "ok";
  report.detail = "agent " + header->agent_id + " seq " + std::to_string(header->seq) + ", " +
                  std::to_string(header->event_count) + " events";
  return Checked{index, *header, opened->hash};
}

std::optional<Checked> check_one(const std::string& path, std::size_t index, const KeyFor& key_for,
                                 const batch::Limits& limits, FileReport& report) {
  auto bytes = fs::read_file(path, limits.max_batch_bytes);
  if (!bytes) return fail(report, bytes.error());
  return check_bytes(*bytes, index, key_for, limits, report);
}

// ---- DSSE envelopes (export --dsse, export --intoto) ----

// The key a DSSE signature names (by its keyid, the 16 hex digits of the
// key id), or the only key given when the envelope names none.
const crypto::PublicKey* key_for_envelope(const evidence::Envelope& e, const std::vector<crypto::PublicKey>& keys) {
  for (const auto& s : e.signatures) {
    if (s.keyid.empty() && keys.size() == 1) return &keys[0];
    for (const auto& k : keys)
      if (crypto::to_hex(crypto::key_id(k)) == s.keyid) return &k;
  }
  return nullptr;
}

// One envelope: first its signature, as any DSSE verifier checks it; then
// a batch gets the checks of a batch file (and its place in the chain), a
// statement the shape of an in-toto Statement v1. `statement` is set for
// a statement, which takes no part in the chain.
std::optional<Checked> check_envelope(std::string_view json, std::size_t index,
                                      const std::vector<crypto::PublicKey>& keys, const KeyFor& key_for,
                                      const batch::Limits& limits, FileReport& report, bool* statement) {
  auto envelope = evidence::parse_envelope(json);
  if (!envelope) return fail(report, envelope.error());
  const crypto::PublicKey* key = key_for_envelope(*envelope, keys);
  if (!key) {
    const std::string named = envelope->signatures.front().keyid;
    return fail(report, make_error(ErrorCode::kUnknownKey, "no key has key id " + (named.empty() ? "(none)" : named)));
  }
  if (!evidence::verify(*envelope, *key))
    return fail(report, make_error(ErrorCode::kBadSignature, "DSSE signature does not verify"));
  if (envelope->payload_type == evidence::kInTotoPayloadType) {
    *statement = true;
    auto described = evidence::describe_statement(envelope->payload);
    if (!described) return fail(report, described.error());
    report.status = "ok";
    report.detail = *described + ", signed by " + crypto::to_hex(crypto::key_id(*key));
    return std::nullopt;
  }
  auto bytes = evidence::to_batch(*envelope);
  if (!bytes) return fail(report, bytes.error());
  auto checked = check_bytes(*bytes, index, key_for, limits, report);
  if (checked) report.detail += " (DSSE envelope)";
  return checked;
}

// Calls `on_line` with each non-empty line of a file of JSON lines (one
// envelope is one line); a line over `max_line` bytes is handed over as
// an error instead. kIo when the file cannot be read.
Status for_each_line(const std::string& path, std::size_t max_line,
                     const std::function<void(std::size_t number, Result<std::string> line)>& on_line) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), std::fclose);
  if (!f) return make_error(ErrorCode::kIo, path + ": " + fs::errno_text(errno));
  std::string line;
  std::size_t number = 1;
  bool too_long = false;
  auto emit = [&] {
    if (too_long)
      on_line(number, make_error(ErrorCode::kTooLarge, "line longer than " + std::to_string(max_line) + " bytes"));
    else if (line.find_first_not_of(" \t\r") != std::string::npos)
      on_line(number, std::move(line));
    line.clear();
    too_long = false;
    ++number;
  };
  char buffer[1 << 16];
  for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, f.get())) > 0;) {
    for (std::size_t i = 0; i < n; ++i) {
      if (buffer[i] == '\n') {
        emit();
      } else if (!too_long && line.size() < max_line) {
        line.push_back(buffer[i]);
      } else {
        too_long = true;
        line.clear();
      }
    }
  }
  if (std::ferror(f.get())) return make_error(ErrorCode::kIo, path + ": read error");
  if (!line.empty() || too_long) emit();
  return Ok{};
}

// Whether a file holds JSON (envelopes) rather than a batch: its first
// byte that is not white space is '{'. A batch starts with "BTBATCH".
bool is_json_file(const std::string& path) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), std::fclose);
  if (!f) return false;
  for (int c; (c = std::fgetc(f.get())) != EOF;)
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return c == '{';
  return false;
}

// The batches of one agent given as files. Links are rebuilt from the
// files alone: a batch's parent is the given batch at seq - 1 whose hash is
// its prev_hash. Every seq 1 starts a chain (an epoch); the earliest by
// event time is the agent's first, the others are restarts.
class AgentChains {
 public:
  AgentChains(std::string agent, std::vector<FileReport>& reports) : agent_(std::move(agent)), reports_(reports) {}

  void check(const std::vector<const Checked*>& batches) {
    drop_replays(batches);
    for (const Checked* c : distinct_) {
      by_seq_.emplace(c->header.seq, c);
      if (c->header.seq > 1) children_[{c->header.prev_hash, c->header.seq}].push_back(c);
    }
    mark_restarts();
    mark_forks_and_gaps();
  }

 private:
  FileReport& report(const Checked* c) { return reports_[c->index]; }

  // The same bytes twice: the first given is checked, the others are replays.
  void drop_replays(const std::vector<const Checked*>& batches) {
    for (const Checked* c : batches) {
      auto [it, fresh] = by_hash_.emplace(c->hash, c);
      if (fresh) {
        distinct_.push_back(c);
        continue;
      }
      report(c).status = "replay";
      report(c).detail = "seq " + std::to_string(c->header.seq) + " of agent " + agent_ + " given twice (also " +
                         report(it->second).path + ")";
    }
  }

  const Checked* parent_of(const Checked* c) const {
    auto it = by_hash_.find(c->header.prev_hash);
    return it != by_hash_.end() && it->second->header.seq + 1 == c->header.seq ? it->second : nullptr;
  }

  // When a chain began: the earliest event time among its batches (an
  // empty batch has none), then the order the files were given in.
  std::pair<uint64_t, std::size_t> start_of(const Checked* root) const {
    uint64_t earliest = UINT64_MAX;
    std::vector<const Checked*> todo = {root};
    while (!todo.empty()) {
      const Checked* c = todo.back();
      todo.pop_back();
      if (c->header.first_time_ns) earliest = std::min(earliest, c->header.first_time_ns);
      if (auto it = children_.find({c->hash, c->header.seq + 1}); it != children_.end())
        for (const Checked* child : it->second) todo.push_back(child);
    }
    return {earliest, root->index};
  }

  void mark_restarts() {
    std::vector<const Checked*> roots;
    for (auto [it, end] = by_seq_.equal_range(1); it != end; ++it) roots.push_back(it->second);
    std::sort(roots.begin(), roots.end(),
              [&](const Checked* a, const Checked* b) { return start_of(a) < start_of(b); });
    for (std::size_t i = 1; i < roots.size(); ++i) {
      report(roots[i]).status = "restart";
      report(roots[i]).detail = "agent " + agent_ + " restarted its chain at seq 1";
    }
    has_root_ = !roots.empty();
  }

  void mark_forks_and_gaps() {
    const uint64_t lowest = distinct_.empty() ? 0 : by_seq_.begin()->first;
    for (const Checked* c : distinct_) {
      if (c->header.seq == 1) continue;
      const auto& siblings = children_[{c->header.prev_hash, c->header.seq}];
      if (siblings.size() > 1) {
        mark_fork(c, siblings);
      } else if (!parent_of(c)) {
        // The lowest batch of a chain given without its seq 1 is its start.
        if (!has_root_ && c->header.seq == lowest) {
          report(c).detail += " (the first given: seq 1.." + std::to_string(lowest - 1) + " not given)";
          continue;
        }
        mark_gap(c);
      }
    }
  }

  // Two batches naming the same predecessor: which one the collector stored
  // cannot be told from the files, so both are reported, each naming the other.
  void mark_fork(const Checked* c, const std::vector<const Checked*>& siblings) {
    std::string others;
    for (const Checked* s : siblings)
      if (s != c) others += (others.empty() ? "" : ", ") + report(s).path;
    report(c).status = "fork";
    report(c).detail = "seq " + std::to_string(c->header.seq) + " of agent " + agent_ + " chains to the same seq " +
                       std::to_string(c->header.seq - 1) + " as " + others;
  }

  void mark_gap(const Checked* c) {
    const uint64_t seq = c->header.seq;
    auto below = by_seq_.lower_bound(seq);
    const uint64_t before = below == by_seq_.begin() ? 0 : std::prev(below)->first;
    report(c).status = "gap";
    if (before + 1 < seq) {
      report(c).detail = "seq " + seq_range(before + 1, seq - 1) + " of agent " + agent_ + " missing before seq " +
                         std::to_string(seq);
    } else {
      report(c).detail = "seq " + std::to_string(seq) + " of agent " + agent_ + " chains to a seq " +
                         std::to_string(seq - 1) + " not among the files (prev_hash " +
                         crypto::to_hex(c->header.prev_hash).substr(0, 16) + "; the seq " + std::to_string(seq - 1) +
                         " given is another batch)";
    }
  }

  std::string agent_;
  std::vector<FileReport>& reports_;
  std::vector<const Checked*> distinct_;
  std::map<crypto::Digest, const Checked*> by_hash_;
  std::multimap<uint64_t, const Checked*> by_seq_;
  // By the prev_hash they name and their own seq: the batches claiming one parent.
  std::map<std::pair<crypto::Digest, uint64_t>, std::vector<const Checked*>> children_;
  bool has_root_ = false;
};

}  // namespace

std::vector<FileReport> verify_files(const std::vector<std::string>& paths, const std::vector<crypto::PublicKey>& keys,
                                     const batch::Limits& limits) {
  std::vector<FileReport> reports;
  std::vector<Checked> checked;
  auto key_for = [&](const batch::Header& h) -> const crypto::PublicKey* {
    for (const auto& k : keys)
      if (crypto::key_id(k) == h.key_id) return &k;
    return nullptr;
  };
  // An envelope is base64 (4/3) of at most a batch, and a little JSON.
  const std::size_t max_line = limits.max_batch_bytes / 3 * 4 + 4096;
  for (const auto& path : paths) {
    if (!is_json_file(path)) {
      reports.push_back({path, "", ""});
      if (auto c = check_one(path, reports.size() - 1, key_for, limits, reports.back())) checked.push_back(*c);
      continue;
    }
    // One report per envelope, named FILE:LINE when the file holds several.
    const std::size_t first = reports.size();
    Status read = for_each_line(path, max_line, [&](std::size_t number, Result<std::string> line) {
      reports.push_back({path + ":" + std::to_string(number), "", ""});
      bool statement = false;
      if (!line)
        fail(reports.back(), line.error());
      else if (auto c = check_envelope(*line, reports.size() - 1, keys, key_for, limits, reports.back(), &statement))
        checked.push_back(*c);
    });
    if (!read) {
      reports.push_back({path, "", ""});
      fail(reports.back(), read.error());
    }
    if (reports.size() == first + 1) reports[first].path = path;
  }
  std::map<std::string, std::vector<const Checked*>> by_agent;
  for (const Checked& c : checked) by_agent[c.header.agent_id].push_back(&c);
  for (const auto& [agent, batches] : by_agent) AgentChains(agent, reports).check(batches);
  return reports;
}

// ---- the archive of a data folder ---------------------------------------------------

ArchiveChecker::ArchiveChecker(std::string data_dir, std::map<std::string, crypto::PublicKey> keys,
                               batch::Limits limits)
    : dir_(std::move(data_dir)), keys_(std::move(keys)), limits_(limits) {}

FileReport ArchiveChecker::stored(const StoredEntry& e) {
  FileReport r;
  r.path = dir_ + "/" + e.archive_path;
  named_.insert(e.archive_path);
  check_stored(e, r);
  last_ = e;
  have_last_ = true;
  return r;
}

// The file first (present, authentic, the batch the store names), then
// its place in the chain.
void ArchiveChecker::check_stored(const StoredEntry& e, FileReport& r) {
  std::error_code ec;
  if (!std::filesystem::exists(r.path, ec)) {
    r.status = "missing";
    r.detail = "the store names this batch (agent " + e.agent_id + " seq " + std::to_string(e.seq) +
               ") but the archive has no such file";
    return;
  }
  auto key_for = [&](const batch::Header& h) -> const crypto::PublicKey* {
    auto it = keys_.find(e.agent_id);
    return it != keys_.end() && crypto::key_id(it->second) == h.key_id ? &it->second : nullptr;
  };
  auto c = check_one(r.path, 0, key_for, limits_, r);
  if (!c) return;
  if (c->hash != e.hash || c->header.agent_id != e.agent_id || c->header.seq != e.seq ||
      c->header.prev_hash != e.prev_hash) {
    r.status = "mismatch";
    r.detail = "the file is signed as agent " + c->header.agent_id + " seq " + std::to_string(c->header.seq) +
               " with hash " + crypto::to_hex(c->hash).substr(0, 16) + "; the store has agent " + e.agent_id + " seq " +
               std::to_string(e.seq) + " with hash " + crypto::to_hex(e.hash).substr(0, 16);
    return;
  }
  std::string detail;
  const std::string status = check_links(e, &detail);
  if (status == "ok") return;
  r.status = status;
  r.detail = detail;
}

// The chain as the store keeps it: within an epoch each batch names the one
// stored before it, and a hole is a gap; a later epoch starts with a
// restart. These are the collector's findings, seen from the archive.
std::string ArchiveChecker::check_links(const StoredEntry& e, std::string* detail) {
  const bool same_agent = have_last_ && last_.agent_id == e.agent_id;
  const bool same_epoch = same_agent && last_.epoch == e.epoch;
  const uint64_t before = same_epoch ? last_.seq : 0;
  if (before + 1 < e.seq) {
    *detail = "seq " + seq_range(before + 1, e.seq - 1) + " of agent " + e.agent_id + " (epoch " +
              std::to_string(e.epoch) + ") missing before seq " + std::to_string(e.seq);
    return "gap";
  }
  if (same_epoch && e.prev_hash != last_.hash) {
    *detail = "seq " + std::to_string(e.seq) + " of agent " + e.agent_id + " does not chain to the stored seq " +
              std::to_string(last_.seq);
    return "fork";
  }
  if (same_agent && !same_epoch) {
    *detail = "agent " + e.agent_id + " restarted its chain at seq 1 (epoch " + std::to_string(e.epoch) + ")";
    return "restart";
  }
  return "ok";
}

void ArchiveChecker::refused(const std::string& path, std::vector<FileReport>& out) {
  FileReport r;
  r.path = path;
  auto key_for = [&](const batch::Header& h) -> const crypto::PublicKey* {
    auto it = keys_.find(h.agent_id);
    return it != keys_.end() && crypto::key_id(it->second) == h.key_id ? &it->second : nullptr;
  };
  if (auto c = check_one(path, 0, key_for, limits_, r)) {
    r.status = "refused";
    r.detail = "agent " + c->header.agent_id + " seq " + std::to_string(c->header.seq) +
               ": refused as a fork, kept as evidence (agents findings " + c->header.agent_id + ")";
  }
  out.push_back(std::move(r));
}

std::vector<FileReport> ArchiveChecker::rest() {
  namespace sfs = std::filesystem;
  std::vector<FileReport> out;
  std::vector<std::string> refused_files, stored_files;
  std::error_code ec;
  const sfs::path root = sfs::path(dir_) / "archive";
  for (auto it = sfs::recursive_directory_iterator(root, ec); !ec && it != sfs::recursive_directory_iterator();
       it.increment(ec)) {
    if (!it->is_regular_file() || it->path().extension() != ".btb") continue;
    const std::string rel = "archive/" + it->path().lexically_relative(root).string();
    (rel.rfind("archive/refused/", 0) == 0 ? refused_files : stored_files).push_back(rel);
  }
  if (ec) out.push_back(FileReport{root.string(), "unreadable", ec.message()});
  std::sort(refused_files.begin(), refused_files.end());
  std::sort(stored_files.begin(), stored_files.end());
  for (const auto& rel : refused_files) refused(dir_ + "/" + rel, out);
  for (const auto& rel : stored_files) {
    if (named_.count(rel)) continue;
    out.push_back(FileReport{dir_ + "/" + rel, "unreferenced",
                             "no stored batch names this file (a crash before its commit leaves these)"});
  }
  return out;
}

}  // namespace bt::collector::verify

#include "collector/verify/verify.h"

#include <algorithm>
#include <map>
#include <optional>

#include "common/batch/chain.h"
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

std::optional<Checked> check_one(const std::string& path, std::size_t index, const std::vector<crypto::PublicKey>& keys,
                                 const batch::Limits& limits, FileReport& report) {
  auto fail = [&](const Error& e) {
    report.status = status_for(e.code);
    report.detail = e.message;
    return std::nullopt;
  };
  auto bytes = fs::read_file(path, limits.max_batch_bytes);
  if (!bytes) return fail(bytes.error());
  const auto span = crypto::as_bytes(*bytes);
  auto header = batch::parse_header(span, limits);
  if (!header) return fail(header.error());
  const crypto::PublicKey* key = nullptr;
  for (const auto& k : keys)
    if (crypto::key_id(k) == header->key_id) key = &k;
  if (!key) return fail(make_error(ErrorCode::kUnknownKey, "no --pubkey has key id " + crypto::to_hex(header->key_id)));
  auto opened = batch::open(span, *key, limits);
  if (!opened) return fail(opened.error());
  Status parsed = batch::for_each_event(*opened, [](events::Event&&) {});
  if (!parsed) return fail(parsed.error());
  report.status = "ok";
  report.detail = "agent " + header->agent_id + " seq " + std::to_string(header->seq) + ", " +
                  std::to_string(header->event_count) + " events";
  return Checked{index, *header, opened->hash};
}

// Walks each agent's batches in seq order and marks chain problems.
void check_chains(std::vector<Checked>& checked, std::vector<FileReport>& reports) {
  std::stable_sort(checked.begin(), checked.end(), [](const Checked& a, const Checked& b) {
    return std::tie(a.header.agent_id, a.header.seq) < std::tie(b.header.agent_id, b.header.seq);
  });
  std::string agent;
  std::optional<batch::Tip> tip;
  std::map<uint64_t, crypto::Digest> seen;
  for (const auto& c : checked) {
    if (c.header.agent_id != agent) {
      agent = c.header.agent_id;
      tip.reset();
      seen.clear();
    }
    const auto link = batch::classify(tip, c.header, c.hash, [&](uint64_t seq) {
      auto it = seen.find(seq);
      return it == seen.end() ? std::nullopt : std::optional(it->second);
    });
    FileReport& r = reports[c.index];
    switch (link) {
      case batch::Link::kFirst:
      case batch::Link::kNext:
        break;
      case batch::Link::kGap:
        r.status = "gap";
        r.detail = "seq " + std::to_string(tip->seq + 1) + ".." + std::to_string(c.header.seq - 1) + " of agent " +
                   agent + " missing before seq " + std::to_string(c.header.seq);
        break;
      case batch::Link::kFork:
      case batch::Link::kLate:  // files are walked in seq order, so never late here
        r.status = "fork";
        r.detail =
            "seq " + std::to_string(c.header.seq) + " of agent " + agent + " does not chain to the batch before it";
        break;
      case batch::Link::kReplay:
        r.status = "replay";
        r.detail = "seq " + std::to_string(c.header.seq) + " of agent " + agent + " given twice";
        continue;  // the chain tip does not move
      case batch::Link::kRestart:
        r.status = "restart";
        r.detail = "agent " + agent + " restarted its chain at seq 1";
        seen.clear();
        break;
    }
    if (link != batch::Link::kFork || c.header.seq > (tip ? tip->seq : 0)) {
      tip = batch::Tip{c.header.seq, c.hash};
      seen[c.header.seq] = c.hash;
    }
  }
}

}  // namespace

std::vector<FileReport> verify_files(const std::vector<std::string>& paths, const std::vector<crypto::PublicKey>& keys,
                                     const batch::Limits& limits) {
  std::vector<FileReport> reports(paths.size());
  std::vector<Checked> checked;
  for (std::size_t i = 0; i < paths.size(); ++i) {
    reports[i].path = paths[i];
    if (auto c = check_one(paths[i], i, keys, limits, reports[i])) checked.push_back(*c);
  }
  check_chains(checked, reports);
  return reports;
}

}  // namespace bt::collector::verify

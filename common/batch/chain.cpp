#include "common/batch/chain.h"

namespace bt::batch {

namespace {

Verdict fork(Conflict conflict, const crypto::Digest& other) { return Verdict{Link::kFork, conflict, other}; }

// Short enough for a one-line message, long enough to find the batch.
std::string short_hex(const crypto::Digest& d) { return crypto::to_hex(d).substr(0, 16); }

// A batch below the tip with no batch stored at its seq: it fills a hole
// and must fit whichever neighbours are stored. A neighbour that is not
// stored cannot be checked now; it is checked against this batch when it
// arrives.
Verdict classify_late(const Header& h, const crypto::Digest& hash,
                      const std::function<std::optional<Stored>(uint64_t)>& stored_at) {
  if (h.seq > 1) {
    const auto before = stored_at(h.seq - 1);
    if (before && before->hash != h.prev_hash) return fork(Conflict::kBadPrev, before->hash);
  }
  const auto after = stored_at(h.seq + 1);
  if (after && after->prev_hash != hash) return fork(Conflict::kBadNext, after->prev_hash);
  return Verdict{Link::kLate};
}

}  // namespace

const char* link_name(Link link) {
  switch (link) {
    case Link::kFirst:
      return "first";
    case Link::kNext:
      return "next";
    case Link::kGap:
      return "gap";
    case Link::kFork:
      return "fork";
    case Link::kReplay:
      return "replay";
    case Link::kRestart:
      return "restart";
    case Link::kLate:
      return "late";
  }
  return "unknown";
}

Verdict classify(const std::optional<Tip>& tip, const Header& h, const crypto::Digest& hash,
                 const std::function<std::optional<Stored>(uint64_t)>& stored_at) {
  if (!tip) return Verdict{Link::kFirst};
  if (h.seq > tip->seq) {
    if (h.seq > tip->seq + 1) return Verdict{Link::kGap};
    if (h.prev_hash == tip->hash) return Verdict{Link::kNext};
    return fork(Conflict::kBadPrev, tip->hash);
  }
  const auto here = stored_at(h.seq);
  if (here && here->hash == hash) return Verdict{Link::kReplay};
  if (h.seq == 1 && is_zero(h.prev_hash)) {
    if (!here) {
      const auto second = stored_at(2);
      if (second && second->prev_hash == hash) return Verdict{Link::kLate};
    }
    return Verdict{Link::kRestart};
  }
  if (here) return fork(Conflict::kSeqTaken, here->hash);
  return classify_late(h, hash, stored_at);
}

std::string conflict_text(const Verdict& v, const Header& h, const crypto::Digest& hash) {
  const std::string seq = std::to_string(h.seq);
  switch (v.conflict) {
    case Conflict::kSeqTaken:
      return "a different batch " + short_hex(hash) + " for seq " + seq + ", where " + short_hex(v.other) +
             " is stored";
    case Conflict::kBadPrev:
      return "seq " + seq + " does not chain to the stored seq " + std::to_string(h.seq - 1) + ": its prev_hash " +
             short_hex(h.prev_hash) + " is not that batch's hash " + short_hex(v.other);
    case Conflict::kBadNext:
      return "seq " + seq + " does not fit before the stored seq " + std::to_string(h.seq + 1) + ", which names " +
             short_hex(v.other) + " as its predecessor, not this batch's hash " + short_hex(hash);
    case Conflict::kNone:
      break;
  }
  return "seq " + seq + " " + link_name(v.link);
}

}  // namespace bt::batch

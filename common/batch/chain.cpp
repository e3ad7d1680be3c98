#include "common/batch/chain.h"

namespace bt::batch {

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

Link classify(const std::optional<Tip>& tip, const Header& h, const crypto::Digest& hash,
              const std::function<std::optional<crypto::Digest>(uint64_t)>& hash_at) {
  if (!tip) return Link::kFirst;
  if (h.seq <= tip->seq) {
    const auto known = h.seq == tip->seq ? std::optional(tip->hash) : hash_at(h.seq);
    if (known && *known == hash) return Link::kReplay;
    if (h.seq == 1 && is_zero(h.prev_hash)) return Link::kRestart;
    return known ? Link::kFork : Link::kLate;
  }
  if (h.seq == tip->seq + 1) return h.prev_hash == tip->hash ? Link::kNext : Link::kFork;
  return Link::kGap;
}

}  // namespace bt::batch

// Hash chain rules shared by the offline verifier and the collector. Each
// agent's batches form a chain: seq increases by one and prev_hash is the
// SHA-256 of the previous batch. Classifying a new batch needs only the
// chain's tip and, for old sequence numbers, the hash stored at that seq.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>

#include "common/batch/batch.h"

namespace bt::batch {

enum class Link {
  kFirst,    // first batch seen for this agent
  kNext,     // seq = tip + 1 and prev_hash = tip hash
  kGap,      // seq > tip + 1: batches tip+1 .. seq-1 are missing
  kFork,     // a second, different batch for a seq already seen, or a broken prev_hash
  kReplay,   // the very same batch again (same seq, same hash)
  kRestart,  // seq 1 with a zero prev_hash after a longer chain: the agent lost its state
  kLate,     // seq < tip and no batch known at seq: a batch from an earlier gap arrives late
};

const char* link_name(Link link);

struct Tip {
  uint64_t seq = 0;
  crypto::Digest hash{};
};

// A stored batch of the chain, as far as linking is concerned.
struct Stored {
  crypto::Digest hash{};
  crypto::Digest prev_hash{};
};

// After kRestart the caller starts a new epoch of the chain with this batch
// as its tip; `hash_at` must answer for the current epoch only.
// `hash_at(seq)` returns the stored hash of an earlier batch of this chain,
// if known. `tip` is empty for an agent never seen.
Link classify(const std::optional<Tip>& tip, const Header& header, const crypto::Digest& hash,
              const std::function<std::optional<crypto::Digest>(uint64_t)>& hash_at);

inline bool is_zero(const crypto::Digest& d) {
  for (auto b : d)
    if (b) return false;
  return true;
}

}  // namespace bt::batch

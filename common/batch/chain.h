// Hash chain rules of the collector. Each agent's batches form a chain:
// seq increases by one and prev_hash is the SHA-256 of the previous batch.
// A batch is classified against the chain's tip and the stored batches
// next to its seq; a batch that arrives late must fit both neighbours it
// finds stored (its prev_hash names the one before, the one after names its
// hash), or it is a fork. docs/batch-format.md ("The chain") states the rules.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "common/batch/batch.h"

namespace bt::batch {

enum class Link {
  kFirst,    // first batch seen for this agent
  kNext,     // seq = tip + 1 and prev_hash = tip hash
  kGap,      // seq > tip + 1: batches tip+1 .. seq-1 are missing
  kFork,     // conflicts with a stored batch; see Conflict
  kReplay,   // the very same batch again (same seq, same hash)
  kRestart,  // seq 1 after a chain it does not belong to: the agent lost its state
  kLate,     // seq < tip, none stored at seq, and it fits the stored neighbours
};

const char* link_name(Link link);

// What a fork conflicts with.
enum class Conflict {
  kNone,
  kSeqTaken,  // another batch is stored at this seq
  kBadPrev,   // prev_hash is not the hash of the stored batch at seq - 1
  kBadNext,   // the stored batch at seq + 1 names another prev_hash than this batch's hash
};

struct Tip {
  uint64_t seq = 0;
  crypto::Digest hash{};
};

// A stored batch of the chain, as far as linking is concerned.
struct Stored {
  crypto::Digest hash{};
  crypto::Digest prev_hash{};
};

struct Verdict {
  Link link = Link::kFirst;
  Conflict conflict = Conflict::kNone;
  // kSeqTaken: the stored batch's hash; kBadPrev: the hash prev_hash should
  // have been; kBadNext: the prev_hash the stored successor names.
  crypto::Digest other{};
};

// `stored_at(seq)` answers for the chain's current epoch only (after
// kRestart the caller starts a new epoch with this batch as its tip), and
// must answer for the tip's seq too. `tip` is empty for an agent never seen.
//
// Seq 1 with a zero prev_hash is kLate only when this epoch has no seq 1
// and its stored seq 2 names this batch; any other seq 1 that is not a
// replay starts a new epoch (kRestart), so an agent that lost its state is
// never locked out by its own old chain.
[[nodiscard]] Verdict classify(const std::optional<Tip>& tip, const Header& header, const crypto::Digest& hash,
                               const std::function<std::optional<Stored>(uint64_t)>& stored_at);

// One line for people on a fork: what the batch conflicts with.
std::string conflict_text(const Verdict& verdict, const Header& header, const crypto::Digest& hash);

inline bool is_zero(const crypto::Digest& d) {
  for (auto b : d)
    if (b) return false;
  return true;
}

}  // namespace bt::batch

// The agent's identity in its state folder: an Ed25519 key pair (agent.key,
// mode 0600; agent.pub in the format `keygen` writes, so anyone can verify
// its batches offline) and an agent id (agent.id). Created on first start.
#pragma once

#include <string>

#include "common/crypto/keys.h"
#include "common/result.h"

namespace bt::agent::identity {

struct Identity {
  std::string state_dir;
  std::string agent_id;
  crypto::KeyPair key;
  bool created = false;  // made by this call (first start)
};

// Loads or creates the identity under `state_dir` (made 0700 if missing).
Result<Identity> load_or_create(const std::string& state_dir);

// The enrollment request body for POST /v1/enroll.
std::string enroll_request(const Identity& id, const std::string& token);

// Marks the identity as enrolled with `collector` (state_dir/enrolled).
bool enrolled_with(const Identity& id, const std::string& collector);
Status mark_enrolled(const Identity& id, const std::string& collector);

struct Inventory {
  std::string hostname, os, kernel, ci;
};
Inventory inventory();

}  // namespace bt::agent::identity

// The agent's identity in its state folder: an Ed25519 key pair (agent.key,
// mode 0600; agent.pub in the format `keygen` writes, so anyone can verify
// its batches offline) and an agent id (agent.id). Created on first start.
// The folder must be the running user's alone, and so must the key
// (common/private_dir.h): an agent never signs with a key another user
// could have read or planted.
#pragma once

#include <string>

#include "common/crypto/keys.h"
#include "common/private_dir.h"
#include "common/result.h"

namespace bt::agent::identity {

struct Identity {
  std::string state_dir;
  fs::PrivateDir state;  // the folder, held open: files in it are opened relative to it
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

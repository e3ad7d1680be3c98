// The people who may use the UI and their sessions, in a SQLite database of
// its own, DATA/access.db (WAL), beside the evidence store: credentials of
// people are not evidence, are changed by `users` while `serve` runs, and
// never travel with an export of the store. `users add|list|remove|passwd`
// write it; `serve` reads users at login and sessions on every request that
// presents the cookie (no cache: a removed user or a changed password ends
// every session of the user from that commit on).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "collector/store/store.h"
#include "common/crypto/keys.h"
#include "common/result.h"

struct sqlite3;

namespace bt::collector::access {

struct User {
  std::string name;
  std::string password_hash;  // crypto_pwhash_str
  store::ApiRole role = store::ApiRole::kViewer;
  uint64_t created_ns = 0;
  uint64_t password_changed_ns = 0;
  uint64_t sessions = 0;  // open sessions (users())
};

// A login's session: the cookie is a credential (credential.h, `bts_`);
// the row keeps its SHA-256. The role is the user's now, read with it.
struct Session {
  std::string id;
  crypto::Digest hash{};
  std::string user;
  store::ApiRole role = store::ApiRole::kViewer;  // the user's (filled by session())
  uint64_t created_ns = 0;
  uint64_t expires_ns = 0;
};

class AccessDb {
 public:
  // Opens (creating) DATA/access.db; its file is readable by its owner only.
  static Result<std::unique_ptr<AccessDb>> open(const std::string& data_dir, int busy_timeout_ms = 5000);
  ~AccessDb();

  // Thread-safe: one connection, one statement at a time.
  // kConflict when the name is taken.
  Status add_user(const User& user);
  Result<std::optional<User>> user(const std::string& name);
  // Every user, by name, with the number of sessions not expired at `now_ns`.
  Result<std::vector<User>> users(uint64_t now_ns);
  // kNotFound for an unknown name; the user's sessions end with it.
  Status remove_user(const std::string& name);
  // kNotFound for an unknown name; every session of the user ends.
  Status set_password(const std::string& name, const std::string& hash, uint64_t now_ns);

  Status add_session(const Session& session);
  // The session with this id, if any and its user still exists (expired
  // ones too: the caller tells them apart).
  Result<std::optional<Session>> session(const std::string& id);
  Status remove_session(const std::string& id);
  // Forgets sessions that expired before `now_ns`; returns how many.
  Result<uint64_t> remove_expired_sessions(uint64_t now_ns);

 private:
  explicit AccessDb(sqlite3* db) : db_(db) {}
  Status exec(const char* sql);

  std::mutex mu_;
  sqlite3* db_;
};

}  // namespace bt::collector::access

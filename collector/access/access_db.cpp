#include "collector/access/access_db.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <cstring>

namespace bt::collector::access {

namespace {

constexpr const char* kSchema = R"sql(
PRAGMA journal_mode = WAL;
PRAGMA foreign_keys = ON;
CREATE TABLE IF NOT EXISTS users (
  name                 TEXT PRIMARY KEY,
  password_hash        TEXT NOT NULL,
  role                 TEXT NOT NULL,
  created_ns           INTEGER NOT NULL,
  password_changed_ns  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sessions (
  id          TEXT PRIMARY KEY,
  sha256      BLOB NOT NULL,
  user        TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
  created_ns  INTEGER NOT NULL,
  expires_ns  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sessions_user ON sessions(user);
)sql";

Error db_error(sqlite3* db, const std::string& what) {
  const int code = sqlite3_errcode(db);
  const bool busy = code == SQLITE_BUSY || code == SQLITE_LOCKED;
  return make_error(busy ? ErrorCode::kUnavailable : ErrorCode::kIo, "access.db: " + what + ": " + sqlite3_errmsg(db));
}

// One prepared statement, finalized when it goes out of scope.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { ok_ = sqlite3_prepare_v2(db, sql, -1, &s_, nullptr) == SQLITE_OK; }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  bool ok() const { return ok_; }
  Stmt& text(int i, const std::string& v) {
    ok_ = ok_ && sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT) == SQLITE_OK;
    return *this;
  }
  Stmt& integer(int i, uint64_t v) {
    ok_ = ok_ && sqlite3_bind_int64(s_, i, static_cast<sqlite3_int64>(v)) == SQLITE_OK;
    return *this;
  }
  Stmt& blob(int i, const crypto::Digest& v) {
    ok_ = ok_ && sqlite3_bind_blob(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT) == SQLITE_OK;
    return *this;
  }
  // SQLITE_ROW, SQLITE_DONE, or an error code.
  int step() { return ok_ ? sqlite3_step(s_) : SQLITE_ERROR; }
  std::string column_text(int i) const {
    const auto* p = sqlite3_column_text(s_, i);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(s_, i)))
             : std::string();
  }
  uint64_t column_integer(int i) const { return static_cast<uint64_t>(sqlite3_column_int64(s_, i)); }
  crypto::Digest column_digest(int i) const {
    crypto::Digest d{};
    if (sqlite3_column_bytes(s_, i) == static_cast<int>(d.size()))
      std::memcpy(d.data(), sqlite3_column_blob(s_, i), d.size());
    return d;
  }

 private:
  sqlite3_stmt* s_ = nullptr;
  bool ok_ = false;
};

store::ApiRole role_of(const std::string& name) {
  return store::parse_api_role(name).value_or(store::ApiRole::kViewer);
}

User read_user(const Stmt& s) {
  User u;
  u.name = s.column_text(0);
  u.password_hash = s.column_text(1);
  u.role = role_of(s.column_text(2));
  u.created_ns = s.column_integer(3);
  u.password_changed_ns = s.column_integer(4);
  return u;
}

}  // namespace

Result<std::unique_ptr<AccessDb>> AccessDb::open(const std::string& data_dir, int busy_timeout_ms) {
  const std::string path = data_dir + "/access.db";
  // Created readable by its owner only: it holds password hashes.
  const mode_t old_mask = ::umask(077);
  sqlite3* db = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  ::umask(old_mask);
  if (rc != SQLITE_OK) {
    Error e = db_error(db, "cannot open " + path);
    sqlite3_close(db);
    return e;
  }
  sqlite3_busy_timeout(db, busy_timeout_ms);
  std::unique_ptr<AccessDb> out(new AccessDb(db));
  if (Status s = out->exec(kSchema); !s) return s.error();
  return out;
}

AccessDb::~AccessDb() { sqlite3_close(db_); }

Status AccessDb::exec(const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    Error e = db_error(db_, message ? message : "cannot run a statement");
    sqlite3_free(message);
    return e;
  }
  return Ok{};
}

Status AccessDb::add_user(const User& user) {
  std::lock_guard lock(mu_);
  Stmt s(db_,
         "INSERT INTO users (name, password_hash, role, created_ns, password_changed_ns) VALUES (?1, ?2, ?3, ?4, ?4) "
         "ON CONFLICT DO NOTHING");
  s.text(1, user.name).text(2, user.password_hash).text(3, store::api_role_name(user.role)).integer(4, user.created_ns);
  if (s.step() != SQLITE_DONE) return db_error(db_, "cannot add a user");
  if (sqlite3_changes(db_) == 0) return make_error(ErrorCode::kConflict, "user '" + user.name + "' exists");
  return Ok{};
}

Result<std::optional<User>> AccessDb::user(const std::string& name) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "SELECT name, password_hash, role, created_ns, password_changed_ns FROM users WHERE name = ?1");
  s.text(1, name);
  const int rc = s.step();
  if (rc == SQLITE_DONE) return std::optional<User>();
  if (rc != SQLITE_ROW) return db_error(db_, "cannot read a user");
  return std::optional(read_user(s));
}

Result<std::vector<User>> AccessDb::users(uint64_t now_ns) {
  std::lock_guard lock(mu_);
  Stmt s(db_,
         "SELECT name, password_hash, role, created_ns, password_changed_ns, "
         "(SELECT count(*) FROM sessions WHERE user = users.name AND expires_ns > ?1) FROM users ORDER BY name");
  s.integer(1, now_ns);
  std::vector<User> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    out.push_back(read_user(s));
    out.back().sessions = s.column_integer(5);
  }
  if (rc != SQLITE_DONE) return db_error(db_, "cannot list users");
  return out;
}

Status AccessDb::remove_user(const std::string& name) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "DELETE FROM users WHERE name = ?1");
  s.text(1, name);
  if (s.step() != SQLITE_DONE) return db_error(db_, "cannot remove a user");
  if (sqlite3_changes(db_) == 0) return make_error(ErrorCode::kNotFound, "no user '" + name + "'");
  return Ok{};
}

Status AccessDb::set_password(const std::string& name, const std::string& hash, uint64_t now_ns) {
  std::lock_guard lock(mu_);
  if (Status s = exec("BEGIN IMMEDIATE"); !s) return s;
  Stmt update(db_, "UPDATE users SET password_hash = ?2, password_changed_ns = ?3 WHERE name = ?1");
  update.text(1, name).text(2, hash).integer(3, now_ns);
  bool ok = update.step() == SQLITE_DONE;
  const bool found = ok && sqlite3_changes(db_) > 0;
  if (found) {
    Stmt end(db_, "DELETE FROM sessions WHERE user = ?1");
    end.text(1, name);
    ok = end.step() == SQLITE_DONE;
  }
  if (!ok || !found) {
    Error e = ok ? make_error(ErrorCode::kNotFound, "no user '" + name + "'") : db_error(db_, "cannot set a password");
    (void)exec("ROLLBACK");
    return e;
  }
  return exec("COMMIT");
}

Status AccessDb::add_session(const Session& session) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "INSERT INTO sessions (id, sha256, user, created_ns, expires_ns) VALUES (?1, ?2, ?3, ?4, ?5)");
  s.text(1, session.id)
      .blob(2, session.hash)
      .text(3, session.user)
      .integer(4, session.created_ns)
      .integer(5, session.expires_ns);
  if (s.step() != SQLITE_DONE) return db_error(db_, "cannot add a session");
  return Ok{};
}

Result<std::optional<Session>> AccessDb::session(const std::string& id) {
  std::lock_guard lock(mu_);
  Stmt s(db_,
         "SELECT sessions.id, sha256, user, role, sessions.created_ns, expires_ns FROM sessions "
         "JOIN users ON users.name = sessions.user WHERE sessions.id = ?1");
  s.text(1, id);
  const int rc = s.step();
  if (rc == SQLITE_DONE) return std::optional<Session>();
  if (rc != SQLITE_ROW) return db_error(db_, "cannot read a session");
  Session out;
  out.id = s.column_text(0);
  out.hash = s.column_digest(1);
  out.user = s.column_text(2);
  out.role = role_of(s.column_text(3));
  out.created_ns = s.column_integer(4);
  out.expires_ns = s.column_integer(5);
  return std::optional(std::move(out));
}

Status AccessDb::remove_session(const std::string& id) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "DELETE FROM sessions WHERE id = ?1");
  s.text(1, id);
  if (s.step() != SQLITE_DONE) return db_error(db_, "cannot remove a session");
  return Ok{};
}

Result<uint64_t> AccessDb::remove_expired_sessions(uint64_t now_ns) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "DELETE FROM sessions WHERE expires_ns <= ?1");
  s.integer(1, now_ns);
  if (s.step() != SQLITE_DONE) return db_error(db_, "cannot remove expired sessions");
  return static_cast<uint64_t>(sqlite3_changes(db_));
}

}  // namespace bt::collector::access

// The embedded store: one SQLite database, DATA/buildtrail.db, in WAL mode.
// docs/collector-store.md is the description of the schema; keep the two in
// step (and bump kSchemaVersion with a migration for any incompatible change).
//
// Every statement is prepared once per connection (cached by its SQL text)
// and takes its values through bindings; SQL text is only ever assembled
// from fixed fragments and the compile-time kind names of events.def.
#include "collector/store/sqlite/sqlite_store.h"

#include <sodium.h>
#include <sys/stat.h>

#include <algorithm>

#include "common/batch/batch.h"
#include "common/clock.h"
#include "common/fs.h"

namespace bt::collector::store::sqlite {

namespace {

// Version 2: findings follow the truth (epoch, resolved_ns, updated_ns,
// note), revoked keys, batches by hash. Version 3: a build is one agent's
// record (builds.agent_id), an event whose time is out of range is indexed
// at its receive time (events.claimed_ns), no value is stored negative.
// Version 4: detection (alerts, their evidence, the detector's cursors).
// Version 5: per-job baselines (baseline_keys, baseline_builds,
// baseline_items). Version 6: the read API's bearer tokens (api_tokens).
// Version 7: what the read API asks (builds' branch, mode, losses and
// chain span; events' parent key, exe digest and DNS name; agents' mode
// and losses). migrate_1_to_2() .. migrate_6_to_7() upgrade older stores
// in place.
constexpr int64_t kSchemaVersion = 7;
constexpr std::size_t kBuildCacheMax = 100000;  // ids of builds remembered across commits
// 16 KiB pages: fewer B-tree splits and WAL frames per event than 4 KiB.
// Takes effect when the database is created.
constexpr int kPageSize = 16384;
// Checkpoint once the WAL holds this many pages (32 MiB), not every 4 MiB.
constexpr int kCheckpointPages = 2048;
constexpr int64_t kWalSizeLimit = 64ll << 20;  // WAL file kept after a checkpoint

// ---- schema -----------------------------------------------------------------------

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta (
  key   TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS agents (
  id            TEXT PRIMARY KEY,
  public_key    BLOB NOT NULL,
  revoked       INTEGER NOT NULL DEFAULT 0,
  enrolled_ns   INTEGER NOT NULL DEFAULT 0,
  hostname      TEXT NOT NULL DEFAULT '',
  os            TEXT NOT NULL DEFAULT '',
  kernel        TEXT NOT NULL DEFAULT '',
  agent_version TEXT NOT NULL DEFAULT '',
  ci            TEXT NOT NULL DEFAULT '',
  epoch         INTEGER NOT NULL DEFAULT 0,
  last_seq      INTEGER NOT NULL DEFAULT 0,
  last_hash     BLOB NOT NULL DEFAULT x'',
  last_seen_ns  INTEGER NOT NULL DEFAULT 0,
  findings      INTEGER NOT NULL DEFAULT 0,
  mode          TEXT NOT NULL DEFAULT '',
  lost          INTEGER NOT NULL DEFAULT 0
) STRICT, WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS revoked_keys (
  public_key  BLOB PRIMARY KEY,
  revoked_ns  INTEGER NOT NULL,
  agent_id    TEXT NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS tokens (
  sha256      TEXT PRIMARY KEY,
  created_ns  INTEGER NOT NULL,
  expires_ns  INTEGER NOT NULL,
  uses_left   INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS batches (
  id           INTEGER PRIMARY KEY,
  agent_id     TEXT NOT NULL REFERENCES agents(id),
  epoch        INTEGER NOT NULL,
  seq          INTEGER NOT NULL,
  hash         BLOB NOT NULL,
  prev_hash    BLOB NOT NULL,
  archive_path TEXT NOT NULL,
  received_ns  INTEGER NOT NULL,
  size_bytes   INTEGER NOT NULL,
  event_count  INTEGER NOT NULL,
  first_event  INTEGER,
  first_ns     INTEGER NOT NULL,
  last_ns      INTEGER NOT NULL,
  UNIQUE (agent_id, epoch, seq)
) STRICT;
CREATE INDEX IF NOT EXISTS batches_last ON batches(last_ns);
CREATE INDEX IF NOT EXISTS batches_hash ON batches(hash);

@BUILDS@
CREATE INDEX IF NOT EXISTS builds_job ON builds(job, last_ns);
CREATE INDEX IF NOT EXISTS builds_last ON builds(last_ns);

CREATE TABLE IF NOT EXISTS events (
  id          INTEGER PRIMARY KEY,
  batch       INTEGER NOT NULL REFERENCES batches(id),
  line        INTEGER NOT NULL,
  time_ns     INTEGER NOT NULL,
  kind        INTEGER NOT NULL,
  build       INTEGER REFERENCES builds(id),
  pid         INTEGER NOT NULL,
  ppid        INTEGER NOT NULL,
  process_key TEXT,
  exe         TEXT,
  destination TEXT,
  secret_path TEXT,
  exit_code   INTEGER NOT NULL,
  loss_total  INTEGER NOT NULL,
  claimed_ns  INTEGER,
  parent_key  TEXT,
  exe_sha256  BLOB,
  dns_name    TEXT
) STRICT;
CREATE INDEX IF NOT EXISTS events_build ON events(build, time_ns) WHERE build IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_kind ON events(kind, time_ns) WHERE kind NOT IN (@EXEC@, @EXIT@);
CREATE INDEX IF NOT EXISTS events_destination ON events(destination) WHERE destination IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_secret_path ON events(secret_path) WHERE secret_path IS NOT NULL;

CREATE TABLE IF NOT EXISTS build_values (
  field    INTEGER NOT NULL,
  value    TEXT NOT NULL,
  build    INTEGER NOT NULL REFERENCES builds(id),
  events   INTEGER NOT NULL,
  first_ns INTEGER NOT NULL,
  last_ns  INTEGER NOT NULL,
  PRIMARY KEY (field, value, build)
) STRICT, WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS findings (
  id           INTEGER PRIMARY KEY,
  agent_id     TEXT NOT NULL,
  kind         TEXT NOT NULL,
  seq_from     INTEGER NOT NULL,
  seq_to       INTEGER NOT NULL,
  time_from_ns INTEGER NOT NULL,
  time_to_ns   INTEGER NOT NULL,
  recorded_ns  INTEGER NOT NULL,
  batch        INTEGER REFERENCES batches(id),
  detail       TEXT NOT NULL,
  epoch        INTEGER NOT NULL DEFAULT 0,
  resolved_ns  INTEGER NOT NULL DEFAULT 0,
  updated_ns   INTEGER NOT NULL DEFAULT 0,
  note         TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX IF NOT EXISTS findings_agent ON findings(agent_id, id);
CREATE INDEX IF NOT EXISTS findings_loss ON findings(agent_id, time_to_ns) WHERE kind = 'loss';
CREATE INDEX IF NOT EXISTS findings_open_gaps ON findings(agent_id, epoch, seq_from)
  WHERE kind = 'gap' AND resolved_ns = 0;

CREATE TABLE IF NOT EXISTS alerts (
  id         INTEGER PRIMARY KEY,
  rule_id    TEXT NOT NULL,
  dedup_key  TEXT NOT NULL,
  title      TEXT NOT NULL,
  severity   INTEGER NOT NULL,
  tags       TEXT NOT NULL,
  agent_id   TEXT NOT NULL,
  build      INTEGER REFERENCES builds(id),
  time_ns    INTEGER NOT NULL,
  raised_ns  INTEGER NOT NULL,
  detail     TEXT NOT NULL,
  acked_ns   INTEGER NOT NULL DEFAULT 0,
  ack_note   TEXT NOT NULL DEFAULT '',
  UNIQUE (rule_id, dedup_key)
) STRICT;
CREATE INDEX IF NOT EXISTS alerts_raised ON alerts(raised_ns);
CREATE INDEX IF NOT EXISTS alerts_build ON alerts(build) WHERE build IS NOT NULL;

CREATE TABLE IF NOT EXISTS alert_evidence (
  alert    INTEGER NOT NULL REFERENCES alerts(id),
  agent_id TEXT NOT NULL,
  seq      INTEGER NOT NULL,
  line     INTEGER NOT NULL,
  PRIMARY KEY (alert, agent_id, seq, line)
) STRICT, WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS suppressions (
  id          INTEGER PRIMARY KEY,
  rule_id     TEXT NOT NULL,
  ci          TEXT NOT NULL DEFAULT '',
  repository  TEXT NOT NULL DEFAULT '',
  job         TEXT NOT NULL DEFAULT '',
  exe         TEXT NOT NULL DEFAULT '',
  reason      TEXT NOT NULL,
  created_ns  INTEGER NOT NULL,
  expires_ns  INTEGER NOT NULL,
  hits        INTEGER NOT NULL DEFAULT 0,
  last_hit_ns INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE IF NOT EXISTS cursors (
  name     TEXT PRIMARY KEY,
  position INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS baseline_keys (
  id         INTEGER PRIMARY KEY,
  ci         TEXT NOT NULL,
  repository TEXT NOT NULL,
  job        TEXT NOT NULL,
  builds     INTEGER NOT NULL DEFAULT 0,
  first_ns   INTEGER NOT NULL DEFAULT 0,
  last_ns    INTEGER NOT NULL DEFAULT 0,
  UNIQUE (ci, repository, job)
) STRICT;

CREATE TABLE IF NOT EXISTS baseline_builds (
  key_id  INTEGER NOT NULL REFERENCES baseline_keys(id),
  build   TEXT NOT NULL,
  branch  TEXT NOT NULL,
  time_ns INTEGER NOT NULL,
  PRIMARY KEY (key_id, build)
) STRICT, WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS baseline_items (
  key_id   INTEGER NOT NULL REFERENCES baseline_keys(id),
  kind     TEXT NOT NULL,
  value    TEXT NOT NULL,
  first_ns INTEGER NOT NULL,
  last_ns  INTEGER NOT NULL,
  builds   INTEGER NOT NULL,
  PRIMARY KEY (key_id, kind, value)
) STRICT, WITHOUT ROWID;

INSERT OR IGNORE INTO meta(key, value) VALUES ('agents_rev', 0), ('events', 0), ('batches', 0);
)sql";

// A build is one agent's record of a CI build: the same CI ids from two
// agents are two rows. Kept apart from kSchema because the migration to
// version 3 creates it under another name and copies the old rows in.
constexpr const char* kBuildsTable = R"sql(CREATE TABLE IF NOT EXISTS builds (
  id          INTEGER PRIMARY KEY,
  ci          TEXT NOT NULL,
  build_id    TEXT NOT NULL,
  job         TEXT NOT NULL DEFAULT '',
  number      TEXT NOT NULL DEFAULT '',
  url         TEXT NOT NULL DEFAULT '',
  repository  TEXT NOT NULL DEFAULT '',
  commit_id   TEXT NOT NULL DEFAULT '',
  runner      TEXT NOT NULL DEFAULT '',
  first_ns    INTEGER NOT NULL DEFAULT 0,
  last_ns     INTEGER NOT NULL DEFAULT 0,
  start_ns    INTEGER NOT NULL DEFAULT 0,
  end_ns      INTEGER NOT NULL DEFAULT 0,
  ended       INTEGER NOT NULL DEFAULT 0,
  exit_code   INTEGER NOT NULL DEFAULT 0,
  events      INTEGER NOT NULL DEFAULT 0,
  agent_id    TEXT NOT NULL REFERENCES agents(id),
  branch      TEXT NOT NULL DEFAULT '',
  mode        TEXT NOT NULL DEFAULT '',
  unmonitored INTEGER NOT NULL DEFAULT 0,
  lost        INTEGER NOT NULL DEFAULT 0,
  first_epoch INTEGER NOT NULL DEFAULT 0,
  first_seq   INTEGER NOT NULL DEFAULT 0,
  last_epoch  INTEGER NOT NULL DEFAULT 0,
  last_seq    INTEGER NOT NULL DEFAULT 0,
  UNIQUE (build_id, ci, agent_id)
) STRICT;)sql";

// ---- API tokens: the table (version 6) ------------------------------------------
// The read API's bearer tokens (collector/api/), by the public id part of
// the token; only the token's SHA-256 is kept. A name is unique among the
// tokens not revoked, so a revoked token's name can be given again. The
// methods are the last section of this file.
constexpr const char* kApiTokensTable = R"sql(
CREATE TABLE IF NOT EXISTS api_tokens (
  id           TEXT PRIMARY KEY,
  name         TEXT NOT NULL,
  role         TEXT NOT NULL CHECK (role IN ('viewer', 'admin')),
  sha256       BLOB NOT NULL,
  created_ns   INTEGER NOT NULL,
  last_used_ns INTEGER NOT NULL DEFAULT 0,
  revoked_ns   INTEGER NOT NULL DEFAULT 0
) STRICT, WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS api_tokens_name ON api_tokens(name) WHERE revoked_ns = 0;
)sql";
// ---- end of API tokens: the table ------------------------------------------------

}  // namespace

// The ids of the bulk kinds (process_exec, process_exit) are filled in:
// the kind index leaves them out (an index matching most rows helps no
// query), and a query by another kind repeats the same term so the planner
// can use the partial index.
std::string kind_index_term(const char* column) {
  return std::string(column) + " NOT IN (" + std::to_string(static_cast<int>(events::Kind::process_exec)) + ", " +
         std::to_string(static_cast<int>(events::Kind::process_exit)) + ")";
}

namespace {

void replace_marker(std::string& sql, const std::string& marker, const std::string& with) {
  sql.replace(sql.find(marker), marker.size(), with);
}

// The builds table's definition under another name (the migration's copy).
std::string builds_table_sql(const std::string& name) {
  std::string sql = kBuildsTable;
  replace_marker(sql, "IF NOT EXISTS builds (", name + " (");
  return sql;
}

}  // namespace

std::string schema_sql() {
  std::string sql = kSchema;
  replace_marker(sql, "@BUILDS@", kBuildsTable);
  replace_marker(sql, "kind NOT IN (@EXEC@, @EXIT@)", kind_index_term("kind"));
  return sql + kApiTokensTable;
}

namespace {

// ---- small helpers ----------------------------------------------------------------

// What one commit adds to a build: ?1 its row, ?2/?3 first and last event
// time, ?4 build_start time, ?5..?7 ended/end time/exit code, ?8 events,
// ?9..?14 identity fields (kept once set), ?15.. one count per kind, then
// (schema 7, numbered from ?100) ?100 branch (kept once set), ?101/?102 the
// mode of its first build_start and that start's time, ?103 unmonitored
// starts, ?104 events lost, ?105..?108 the first and last batch (epoch,
// seq; ?109 is 0 when the commit gave it no event).
std::string update_build_sql() {
  std::string sql =
      "UPDATE builds SET"
      " first_ns = CASE WHEN first_ns = 0 OR first_ns > ?2 THEN ?2 ELSE first_ns END,"
      " last_ns = MAX(last_ns, ?3),"
      " start_ns = CASE WHEN ?4 <> 0 AND (start_ns = 0 OR ?4 < start_ns) THEN ?4 ELSE start_ns END,"
      " exit_code = CASE WHEN ?5 AND ?6 >= end_ns THEN ?7 ELSE exit_code END,"
      " end_ns = CASE WHEN ?5 AND ?6 >= end_ns THEN ?6 ELSE end_ns END,"
      " ended = CASE WHEN ?5 THEN 1 ELSE ended END,"
      " events = events + ?8,"
      " job = CASE WHEN job = '' THEN ?9 ELSE job END,"
      " number = CASE WHEN number = '' THEN ?10 ELSE number END,"
      " url = CASE WHEN url = '' THEN ?11 ELSE url END,"
      " repository = CASE WHEN repository = '' THEN ?12 ELSE repository END,"
      " commit_id = CASE WHEN commit_id = '' THEN ?13 ELSE commit_id END,"
      " runner = CASE WHEN runner = '' THEN ?14 ELSE runner END,"
      " branch = CASE WHEN branch = '' THEN ?100 ELSE branch END,"
      " mode = CASE WHEN ?101 <> '' AND (mode = '' OR ?102 < start_ns) THEN ?101 ELSE mode END,"
      " unmonitored = unmonitored + ?103, lost = lost + ?104,"
      " first_epoch = CASE WHEN ?109 AND (first_seq = 0 OR (?105, ?106) < (first_epoch, first_seq)) THEN ?105"
      " ELSE first_epoch END,"
      " first_seq = CASE WHEN ?109 AND (first_seq = 0 OR (?105, ?106) < (first_epoch, first_seq)) THEN ?106"
      " ELSE first_seq END,"
      " last_epoch = CASE WHEN ?109 AND (?107, ?108) > (last_epoch, last_seq) THEN ?107 ELSE last_epoch END,"
      " last_seq = CASE WHEN ?109 AND (?107, ?108) > (last_epoch, last_seq) THEN ?108 ELSE last_seq END";
  for (std::size_t i = 0; i < events::kKinds.size(); ++i)
    sql += ", " + kind_column(i) + " = " + kind_column(i) + " + ?" + std::to_string(15 + i);
  return sql + " WHERE id = ?1";
}

std::string token_hash(const std::string& secret) { return crypto::to_hex(crypto::sha256(crypto::as_bytes(secret))); }

}  // namespace

bool parse_finding_kind(std::string_view name, FindingKind* out) {
  for (auto k : {FindingKind::kGap, FindingKind::kFork, FindingKind::kReplay, FindingKind::kRestart, FindingKind::kLoss,
                 FindingKind::kRejected, FindingKind::kClock, FindingKind::kOversized}) {
    if (name == finding_kind_name(k)) {
      *out = k;
      return true;
    }
  }
  return false;
}

ErrorCode code_for(int rc) {
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
      return ErrorCode::kConflict;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return ErrorCode::kUnavailable;
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
      return ErrorCode::kIo;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return ErrorCode::kMalformed;
    default:
      return ErrorCode::kInternal;
  }
}

std::string kind_column(std::size_t kind_index) { return "\"" + std::string(events::kKinds[kind_index].name) + "\""; }

bool sha256_bytes(std::string_view hex, std::array<uint8_t, 32>& out) {
  std::size_t n = 0;
  return hex.size() == 64 &&
         sodium_hex2bin(out.data(), out.size(), hex.data(), hex.size(), nullptr, &n, nullptr) == 0 && n == 32;
}

int kind_index(events::Kind kind) {
  for (std::size_t i = 0; i < events::kKinds.size(); ++i)
    if (events::kKinds[i].kind == kind) return static_cast<int>(i);
  return -1;
}

// ---- the store ----------------------------------------------------------------------

void BuildAgg::add_event(const EventRow& ev, ChainPlace batch) {
  if (total == 0 || ev.time_ns < first_ns) first_ns = ev.time_ns;
  last_ns = std::max(last_ns, ev.time_ns);
  ++total;
  const int k = kind_index(ev.kind);
  if (k >= 0) ++counts[static_cast<std::size_t>(k)];
  if (ev.kind == events::Kind::build_start) {
    if (start_ns == 0 || ev.time_ns < start_ns) start_ns = ev.time_ns;
    if (mode.empty() || ev.time_ns < mode_ns) {
      mode = ev.mode;
      mode_ns = ev.time_ns;
    }
    if (ev.mode == "unmonitored") ++unmonitored;
  }
  if (ev.kind == events::Kind::build_end && (!ended || ev.time_ns >= end_ns)) {
    ended = true;
    end_ns = ev.time_ns;
    exit_code = ev.exit_code;
  }
  lost += ev.loss_total;
  if (!has_batch || batch < first_batch) first_batch = batch;
  if (!has_batch || last_batch < batch) last_batch = batch;
  has_batch = true;
  add_value(ValueField::kExe, ev.exe, ev.time_ns);
  add_value(ValueField::kDestination, ev.destination, ev.time_ns);
  add_value(ValueField::kSecretPath, ev.secret_path, ev.time_ns);
  add_value(ValueField::kExeSha256, ev.exe_sha256, ev.time_ns);
  if (!ev.dns_name.empty()) {
    ValueAgg& v = dns_values[dns_value(ev.dns_name)];
    if (v.events == 0 || ev.time_ns < v.first_ns) v.first_ns = ev.time_ns;
    v.last_ns = std::max(v.last_ns, ev.time_ns);
    ++v.events;
  }
}

void BuildAgg::add_value(ValueField field, std::string_view value, uint64_t time_ns) {
  if (value.empty()) return;
  ValueAgg& v = values[static_cast<std::size_t>(field) - 1][value];
  if (v.events == 0 || time_ns < v.first_ns) v.first_ns = time_ns;
  v.last_ns = std::max(v.last_ns, time_ns);
  ++v.events;
}

void AgentAgg::add_batch(const BatchRecord& rec) {
  if (!has_tip || rec.epoch > epoch || (rec.epoch == epoch && rec.header.seq > seq)) {
    has_tip = true;
    epoch = rec.epoch;
    seq = rec.header.seq;
    hash = &rec.hash;
  }
  last_seen_ns = std::max(last_seen_ns, rec.received_ns);
  const ChainPlace here{rec.epoch, rec.header.seq};
  for (const EventRow& ev : rec.events) {
    lost += ev.loss_total;
    if (ev.kind == events::Kind::agent_start && (mode.empty() || !(here < mode_at))) {
      mode = ev.mode;
      mode_at = here;
    }
  }
}

namespace {

// A commit touches a handful of agents: a linear search beats a map.
AgentAgg& agent_agg(std::vector<AgentAgg>& agents, const std::string& id) {
  for (auto& a : agents)
    if (*a.id == id) return a;
  agents.push_back(AgentAgg{&id});
  return agents.back();
}

// The time range of the rows themselves: time queries rely on
// batches.last_ns bounding every event of the batch.
std::pair<uint64_t, uint64_t> event_time_range(const BatchRecord& rec) {
  if (rec.events.empty()) return {rec.header.first_time_ns, rec.header.last_time_ns};
  uint64_t first_ns = UINT64_MAX, last_ns = 0;
  for (const auto& e : rec.events) {
    first_ns = std::min(first_ns, e.time_ns);
    last_ns = std::max(last_ns, e.time_ns);
  }
  return {first_ns, last_ns};
}

bool same_build(const events::Build* a, const events::Build& b) {
  return a && (a == &b || (a->id == b.id && a->ci == b.ci));
}

}  // namespace

Error SqliteStore::error(const std::string& what, int rc) const {
  return make_error(code_for(rc), "store " + path_ + ": " + what + ": " + sqlite3_errmsg(db_));
}

Status SqliteStore::exec(const char* sql, const char* what) {
  char* msg = nullptr;
  const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &msg);
  if (rc == SQLITE_OK) return Ok{};
  std::string m = msg ? msg : sqlite3_errstr(rc);
  sqlite3_free(msg);
  return make_error(code_for(rc), "store " + path_ + ": " + what + ": " + m);
}

Status SqliteStore::init(const Options& options) {
  sqlite3_busy_timeout(db_, options.busy_timeout_ms);
  sqlite3_extended_result_codes(db_, 1);
  Status s = check_readable();
  if (s) s = set_pragmas();
  if (!s) return s;
  // A writer creates or upgrades the schema in one transaction; every step
  // below rolls it back on failure (rollback is a no-op for a reader).
  s = read_only_ ? exec("PRAGMA query_only=ON", "pragmas") : create_or_upgrade_schema();
  if (s) s = check_schema_version();
  if (s) s = find_kind_columns();
  if (s && !read_only_) s = add_kind_columns();
  if (s && !read_only_) s = exec("COMMIT", "create schema");
  if (!s) {
    rollback();
    return s;
  }
  if (!read_only_) update_build_sql_ = update_build_sql();
  return Ok{};
}

// Reading the schema is the first access to the file.
Status SqliteStore::check_readable() {
  auto s = prepare("SELECT 1 FROM sqlite_schema LIMIT 1");
  const int rc = s ? Query(*s).step() : sqlite3_errcode(db_);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return make_error((rc & 0xff) == SQLITE_NOTADB ? ErrorCode::kMalformed : code_for(rc),
                      path_ + " is not a buildtrail store: " + sqlite3_errmsg(db_));
  return Ok{};
}

Status SqliteStore::set_pragmas() {
  if (!read_only_) {
    // page_size only applies to a new (empty) database; journal_mode is
    // persistent in the file. Neither may run inside a transaction.
    Status ps = exec(("PRAGMA page_size=" + std::to_string(kPageSize)).c_str(), "pragmas");
    if (!ps) return ps;
    auto s = prepare("PRAGMA journal_mode=WAL");
    if (!s) return s.error();
    Query q(*s);
    if (q.step() != SQLITE_ROW || q.text_at(0) != "wal")
      return make_error(ErrorCode::kIo, "store " + path_ + ": cannot switch to WAL mode: " + sqlite3_errmsg(db_));
  }
  // synchronous=FULL: COMMIT returns after the WAL is fsynced, so an
  // acknowledged batch survives a power cut. Foreign keys are declared for
  // the reader but not enforced: the single writer creates every referenced
  // row in the same transaction, and enforcement costs two lookups per event.
  return exec(("PRAGMA synchronous=FULL; PRAGMA foreign_keys=OFF; PRAGMA cache_size=-65536;"
               "PRAGMA wal_autocheckpoint=" +
               std::to_string(kCheckpointPages) + "; PRAGMA journal_size_limit=" + std::to_string(kWalSizeLimit) + ";")
                  .c_str(),
              "pragmas");
}

// 0 for a new database (no meta table or no version row yet).
Result<int64_t> SqliteStore::stored_schema_version() {
  auto has_meta = prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'meta'");
  if (!has_meta) return has_meta.error();
  {
    Query q(*has_meta);
    const int rc = q.step();
    if (rc == SQLITE_DONE) return int64_t{0};
    if (rc != SQLITE_ROW) return error("read schema", rc);
  }
  auto s = prepare("SELECT value FROM meta WHERE key = 'schema_version'");
  if (!s) return s.error();
  Query q(*s);
  const int rc = q.step();
  if (rc == SQLITE_ROW) return q.i64_at(0);
  if (rc == SQLITE_DONE) return int64_t{0};
  return error("read schema version", rc);
}

// In one transaction (committed by init): a new database gets the current
// schema, an older one is migrated step by step. A newer one is left alone
// for check_schema_version to refuse.
Status SqliteStore::create_or_upgrade_schema() {
  Status s = exec("BEGIN IMMEDIATE", "create schema");
  if (!s) return s;
  auto version = stored_schema_version();
  if (!version) return version.error();
  if (*version == 1) s = migrate_1_to_2();
  if (s && (*version == 1 || *version == 2)) s = migrate_2_to_3();
  if (s && *version >= 1 && *version <= 3) s = migrate_3_to_4();
  if (s && *version >= 1 && *version <= 4) s = migrate_4_to_5();
  if (s && *version >= 1 && *version <= 5) s = migrate_5_to_6();
  if (s && *version >= 1 && *version <= 6) return migrate_6_to_7();
  if (!s || *version > kSchemaVersion) return s;
  return exec(schema_sql().c_str(), "create schema");
}

// Version 1 -> 2. The new columns and tables first (the schema's new
// indexes use them), then what version 1 got wrong in the data: revoked
// keys, tips stored from out-of-range seqs, and gap findings that late
// batches had already filled.
Status SqliteStore::migrate_1_to_2() {
  for (const char* sql : {"ALTER TABLE findings ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0",
                          "ALTER TABLE findings ADD COLUMN resolved_ns INTEGER NOT NULL DEFAULT 0",
                          "ALTER TABLE findings ADD COLUMN updated_ns INTEGER NOT NULL DEFAULT 0",
                          "ALTER TABLE findings ADD COLUMN note TEXT NOT NULL DEFAULT ''"}) {
    if (Status s = exec(sql, "migrate to schema 2"); !s) return s;
  }
  Status s = exec(schema_sql().c_str(), "migrate to schema 2");
  if (!s) return s;
  // A finding made with a batch belongs to that batch's epoch.
  s = exec(
      "UPDATE findings SET epoch = COALESCE((SELECT epoch FROM batches WHERE batches.id = findings.batch), 0)"
      " WHERE batch IS NOT NULL",
      "migrate findings");
  if (!s) return s;
  // Revocation moves from the id to the key: every id holding a revoked key
  // is revoked too.
  auto keys = prepare(
      "INSERT OR IGNORE INTO revoked_keys(public_key, revoked_ns, agent_id)"
      " SELECT public_key, ?1, id FROM agents WHERE revoked = 1");
  if (!keys) return keys.error();
  {
    Query q(*keys);
    q.bind(1, clock::now_ns());
    if (s = run(q, "migrate revoked keys"); !s) return s;
  }
  s = exec("UPDATE agents SET revoked = 1 WHERE revoked = 0 AND public_key IN (SELECT public_key FROM revoked_keys)",
           "migrate revoked keys");
  if (s && sqlite3_changes(db_) > 0) s = bump_agents_rev();
  if (!s) return s;
  // Version 1 stored seqs >= 2^63 as negative numbers, and such a tip made
  // the agent look new; the tip becomes the highest valid seq of its epoch.
  s = exec(
      "UPDATE agents SET"
      " last_hash = COALESCE((SELECT hash FROM batches b WHERE b.agent_id = agents.id AND b.epoch = agents.epoch"
      " AND b.seq > 0 ORDER BY b.seq DESC LIMIT 1), x''),"
      " last_seq = COALESCE((SELECT MAX(seq) FROM batches b WHERE b.agent_id = agents.id AND b.epoch = agents.epoch"
      " AND b.seq > 0), 0)"
      " WHERE last_seq < 0",
      "migrate chain tips");
  if (s) s = resolve_filled_gaps();
  if (s) s = exec("UPDATE meta SET value = 2 WHERE key = 'schema_version'", "migrate to schema 2");
  return s;
}

// Version 1 never updated a gap finding: apply every stored batch inside
// an open gap, as if it had just arrived late.
Status SqliteStore::resolve_filled_gaps() {
  struct Gap {
    std::string agent_id;
    uint64_t epoch, from, to;
  };
  std::vector<Gap> gaps;
  {
    auto sel = prepare(
        "SELECT agent_id, epoch, seq_from, seq_to FROM findings WHERE kind = 'gap' AND resolved_ns = 0 ORDER BY id");
    if (!sel) return sel.error();
    Query q(*sel);
    int rc;
    while ((rc = q.step()) == SQLITE_ROW) gaps.push_back({q.text_at(0), q.u64_at(1), q.u64_at(2), q.u64_at(3)});
    if (rc != SQLITE_DONE) return error("read gap findings", rc);
  }
  auto inside = prepare(
      "SELECT seq, first_ns, last_ns FROM batches WHERE agent_id = ?1 AND epoch = ?2 AND seq BETWEEN ?3 AND ?4"
      " ORDER BY seq");
  auto count = prepare("UPDATE agents SET findings = findings + ?2 WHERE id = ?1");
  if (!inside) return inside.error();
  if (!count) return count.error();
  const uint64_t now = clock::now_ns();
  for (const Gap& g : gaps) {
    std::vector<std::array<uint64_t, 3>> filled;
    {
      Query q(*inside);
      q.bind(1, g.agent_id).bind(2, g.epoch).bind(3, g.from).bind(4, g.to);
      int rc;
      while ((rc = q.step()) == SQLITE_ROW) filled.push_back({q.u64_at(0), q.u64_at(1), q.u64_at(2)});
      if (rc != SQLITE_DONE) return error("read batches in a gap", rc);
    }
    int added = 0;
    for (const auto& [seq, first_ns, last_ns] : filled) {
      auto n = fill_gap(g.agent_id, g.epoch, seq, {first_ns, last_ns}, now);
      if (!n) return n.error();
      added += *n;
    }
    if (added == 0) continue;
    Query q(*count);
    q.bind(1, g.agent_id).bind(2, int64_t{added});
    if (Status s = run(q, "count findings"); !s) return s;
  }
  return Ok{};
}

// Version 2 -> 3 (issue 17/10, 17/12). A build becomes one agent's
// record: the table is rebuilt with builds.agent_id (a UNIQUE constraint
// cannot be altered), each build goes to the agent whose event created it,
// and the events other agents sent under the same CI ids move to records of
// their own. Then event times: what version 2 stored negative (>= 2^63) or
// beyond its batch's receive time plus the default skew is re-indexed at
// the receive time and flagged, as ingest now does. Every build whose
// events changed is counted again from its events. One pass over the
// events table (to find shared builds); the rest touches only what moved.
Status SqliteStore::migrate_2_to_3() {
  Status s = exec("ALTER TABLE events ADD COLUMN claimed_ns INTEGER", "migrate to schema 3");
  std::set<int64_t> touched;
  if (s) s = rebuild_builds_table();
  if (s) s = split_shared_builds(touched);
  if (s) s = reindex_future_times(touched);
  for (auto it = touched.begin(); s && it != touched.end(); ++it) s = recount_build(*it);
  // Other times version 2 stored negative: a finding's time bound, or the
  // header times of an empty batch, stay "after 2262"; a token's expiry
  // never let it be used, and it is not brought to life by an upgrade.
  if (s)
    s = exec(
        "UPDATE findings SET time_from_ns = 9223372036854775807 WHERE time_from_ns < 0;"
        "UPDATE findings SET time_to_ns = 9223372036854775807 WHERE time_to_ns < 0;"
        "UPDATE batches SET first_ns = 9223372036854775807 WHERE first_event IS NULL AND first_ns < 0;"
        "UPDATE batches SET last_ns = 9223372036854775807 WHERE first_event IS NULL AND last_ns < 0;"
        "UPDATE tokens SET expires_ns = 0 WHERE expires_ns < 0;",
        "migrate negative times");
  if (s) s = exec("UPDATE meta SET value = 3 WHERE key = 'schema_version'", "migrate to schema 3");
  return s;
}

// builds_v3 gets every old row (and id), with the agent of the build's first
// stored event; kind columns the old table lacks start at 0, as they would
// have there.
Status SqliteStore::rebuild_builds_table() {
  Status s = exec(builds_table_sql("builds_v3").c_str(), "migrate builds");
  for (std::size_t i = 0; s && i < events::kKinds.size(); ++i)
    s = exec(("ALTER TABLE builds_v3 ADD COLUMN " + kind_column(i) + " INTEGER NOT NULL DEFAULT 0").c_str(),
             "migrate builds");
  if (!s) return s;
  // The columns both tables have (kind columns come with the collector's
  // version: the old table may lack some, or hold one this build does not know).
  std::string columns;
  {
    auto cols = prepare(
        "SELECT name FROM pragma_table_info('builds') WHERE name IN (SELECT name FROM pragma_table_info('builds_v3'))");
    if (!cols) return cols.error();
    Query q(*cols);
    int rc;
    while ((rc = q.step()) == SQLITE_ROW) columns += (columns.empty() ? "\"" : ", \"") + q.text_at(0) + "\"";
    if (rc != SQLITE_DONE) return error("read builds columns", rc);
  }
  const std::string copy = "INSERT INTO builds_v3(" + columns + ", agent_id) SELECT " + columns +
                           ", COALESCE((SELECT b.agent_id FROM batches b WHERE b.id = (SELECT batch FROM events"
                           " WHERE id = (SELECT MIN(id) FROM events WHERE build = builds.id))), '') FROM builds";
  s = exec(copy.c_str(), "migrate builds");
  if (s) s = exec("DROP TABLE builds; ALTER TABLE builds_v3 RENAME TO builds;", "migrate builds");
  // The dropped table's indexes, on the new one.
  if (s) s = exec(schema_sql().c_str(), "migrate builds");
  return s;
}

// Version 3 -> 4: the detection tables are new; nothing else changes.
Status SqliteStore::migrate_3_to_4() {
  Status s = exec(schema_sql().c_str(), "migrate to schema 4");
  if (s) s = exec("UPDATE meta SET value = 4 WHERE key = 'schema_version'", "migrate to schema 4");
  return s;
}

// Version 4 -> 5: the baseline tables are new; nothing else changes.
Status SqliteStore::migrate_4_to_5() {
  Status s = exec(schema_sql().c_str(), "migrate to schema 5");
  if (s) s = exec("UPDATE meta SET value = 5 WHERE key = 'schema_version'", "migrate to schema 5");
  return s;
}

// Version 5 -> 6: the API token table is new; nothing else changes.
Status SqliteStore::migrate_5_to_6() {
  Status s = exec(schema_sql().c_str(), "migrate to schema 6");
  if (s) s = exec("UPDATE meta SET value = 6 WHERE key = 'schema_version'", "migrate to schema 6");
  return s;
}

// Version 2 merged the events of every agent with the same CI ids into one
// build: each other agent's events get a record of their own, with the
// build's CI identity.
Status SqliteStore::split_shared_builds(std::set<int64_t>& touched) {
  std::vector<std::pair<int64_t, std::string>> shared;
  {
    auto sel = prepare(
        "SELECT DISTINCT e.build, b.agent_id FROM events e JOIN batches b ON b.id = e.batch"
        " JOIN builds k ON k.id = e.build WHERE b.agent_id <> k.agent_id ORDER BY e.build, b.agent_id");
    if (!sel) return sel.error();
    Query q(*sel);
    int rc;
    while ((rc = q.step()) == SQLITE_ROW) shared.emplace_back(q.i64_at(0), q.text_at(1));
    if (rc != SQLITE_DONE) return error("find shared builds", rc);
  }
  auto add = prepare(
      "INSERT INTO builds(ci, build_id, job, number, url, repository, commit_id, runner, agent_id)"
      " SELECT ci, build_id, job, number, url, repository, commit_id, runner, ?2 FROM builds WHERE id = ?1");
  auto move = prepare(
      "UPDATE events SET build = ?2 WHERE build = ?1 AND batch IN (SELECT id FROM batches WHERE agent_id = ?3)");
  if (!add) return add.error();
  if (!move) return move.error();
  for (const auto& [build, agent_id] : shared) {
    {
      Query q(*add);
      q.bind(1, build).bind(2, agent_id);
      if (Status s = run(q, "split build"); !s) return s;
    }
    const int64_t record = sqlite3_last_insert_rowid(db_);
    Query q(*move);
    q.bind(1, build).bind(2, record).bind(3, agent_id);
    if (Status s = run(q, "split build"); !s) return s;
    touched.insert(build);
    touched.insert(record);
  }
  return Ok{};
}

// The batches holding an event beyond its receive time plus the default
// skew (a negative time is one version 2 wrapped from >= 2^63), in chain
// order so that the clock findings of consecutive batches merge.
Status SqliteStore::reindex_future_times(std::set<int64_t>& touched) {
  std::vector<StoredRange> batches;
  {
    auto sel = prepare(
        "SELECT id, agent_id, epoch, seq, received_ns, first_event, first_event + event_count - 1 FROM batches"
        " WHERE first_event IS NOT NULL AND (first_ns < 0 OR last_ns < 0 OR last_ns > received_ns + ?1)"
        " ORDER BY agent_id, epoch, seq");
    if (!sel) return sel.error();
    Query q(*sel);
    q.bind(1, kDefaultMaxClockSkewNs);
    int rc;
    while ((rc = q.step()) == SQLITE_ROW)
      batches.push_back(
          StoredRange{q.i64_at(0), q.text_at(1), q.u64_at(2), q.u64_at(3), q.u64_at(4), q.i64_at(5), q.i64_at(6)});
    if (rc != SQLITE_DONE) return error("find batches out of range", rc);
  }
  for (const StoredRange& b : batches)
    if (Status s = reindex_batch_times(b, touched); !s) return s;
  return Ok{};
}

// One batch: its events out of range are indexed at the receive time with
// their claim kept (a wrapped one as 2^63-1; the exact value is in the
// signed batch), the batch's time range follows, and a clock finding says
// what happened.
Status SqliteStore::reindex_batch_times(const StoredRange& b, std::set<int64_t>& touched) {
  auto up = prepare(
      "UPDATE events SET claimed_ns = CASE WHEN time_ns < 0 THEN 9223372036854775807 ELSE time_ns END,"
      " time_ns = ?3 WHERE id BETWEEN ?1 AND ?2 AND (time_ns < 0 OR time_ns > ?4)");
  auto sel = prepare(
      "SELECT COUNT(claimed_ns), COUNT(*), MIN(claimed_ns), MAX(claimed_ns), MIN(time_ns), MAX(time_ns) FROM events"
      " WHERE id BETWEEN ?1 AND ?2");
  auto builds = prepare(
      "SELECT DISTINCT build FROM events WHERE id BETWEEN ?1 AND ?2 AND claimed_ns IS NOT NULL AND build IS NOT NULL");
  auto range = prepare("UPDATE batches SET first_ns = ?2, last_ns = ?3 WHERE id = ?1");
  auto count = prepare("UPDATE agents SET findings = findings + 1 WHERE id = ?1");
  for (const auto* p : {&up, &sel, &builds, &range, &count})
    if (!*p) return p->error();
  {
    Query q(*up);
    q.bind(1, b.first_event).bind(2, b.last_event).bind(3, b.received_ns);
    q.bind(4, b.received_ns + kDefaultMaxClockSkewNs);
    if (Status s = run(q, "re-index event times"); !s) return s;
  }
  Finding f;
  f.kind = FindingKind::kClock;
  f.seq_from = f.seq_to = b.seq;
  uint64_t first_ns = 0, last_ns = 0, flagged = 0, events = 0;
  {
    Query q(*sel);
    q.bind(1, b.first_event).bind(2, b.last_event);
    if (q.step() != SQLITE_ROW) return error("read re-indexed events", sqlite3_errcode(db_));
    flagged = q.u64_at(0);
    events = q.u64_at(1);
    f.time_from_ns = q.u64_at(2);
    f.time_to_ns = q.u64_at(3);
    first_ns = q.u64_at(4);
    last_ns = q.u64_at(5);
  }
  {
    Query q(*builds);
    q.bind(1, b.first_event).bind(2, b.last_event);
    int rc;
    while ((rc = q.step()) == SQLITE_ROW) touched.insert(q.i64_at(0));
    if (rc != SQLITE_DONE) return error("read re-indexed builds", rc);
  }
  {
    Query q(*range);
    q.bind(1, b.batch).bind(2, first_ns).bind(3, last_ns);
    if (Status s = run(q, "re-index batch times"); !s) return s;
  }
  f.detail = std::to_string(flagged) + " of " + std::to_string(events) + " events claim a time more than " +
             std::to_string(kDefaultMaxClockSkewNs / 1000000000) +
             "s after the collector received them; indexed at the receive time (by the upgrade to schema 3)";
  auto added = add_batch_finding(b.agent_id, b.epoch, b.seq, b.batch, f, clock::now_ns());
  if (!added) return added.error();
  if (!*added) return Ok{};
  Query q(*count);
  q.bind(1, b.agent_id);
  return run(q, "count findings");
}

// A build's counts, times, outcome and distinct values, from its events.
Status SqliteStore::recount_build(int64_t build) {
  const auto kind_id = [](events::Kind k) { return std::to_string(static_cast<int>(k)); };
  const auto latest_end = [&](const std::string& column) {
    return "SELECT " + column + " FROM events WHERE build = ?1 AND kind = " + kind_id(events::Kind::build_end) +
           " ORDER BY time_ns DESC, id DESC LIMIT 1";
  };
  std::string counts =
      "UPDATE builds SET first_ns = COALESCE((SELECT MIN(time_ns) FROM events WHERE build = ?1), 0),"
      " last_ns = COALESCE((SELECT MAX(time_ns) FROM events WHERE build = ?1), 0),"
      " start_ns = COALESCE((SELECT MIN(time_ns) FROM events WHERE build = ?1 AND kind = " +
      kind_id(events::Kind::build_start) + "), 0), ended = EXISTS (" + latest_end("1") + "), end_ns = COALESCE((" +
      latest_end("time_ns") + "), 0), exit_code = COALESCE((" + latest_end("exit_code") +
      "), 0), events = (SELECT COUNT(*) FROM events WHERE build = ?1)";
  for (std::size_t i = 0; i < events::kKinds.size(); ++i)
    counts += ", " + kind_column(i) +
              " = (SELECT COUNT(*) FROM events WHERE build = ?1 AND kind = " + kind_id(events::kKinds[i].kind) + ")";
  std::vector<std::string> statements = {counts + " WHERE id = ?1", "DELETE FROM build_values WHERE build = ?1"};
  for (const auto& [field, column] :
       {std::pair{ValueField::kExe, "exe"}, std::pair{ValueField::kDestination, "destination"},
        std::pair{ValueField::kSecretPath, "secret_path"}}) {
    statements.push_back("INSERT INTO build_values(field, value, build, events, first_ns, last_ns) SELECT " +
                         std::to_string(static_cast<int>(field)) + ", " + column +
                         ", ?1, COUNT(*), MIN(time_ns), MAX(time_ns) FROM events WHERE build = ?1 AND " + column +
                         " IS NOT NULL GROUP BY " + column);
  }
  for (const std::string& sql : statements) {
    auto st = prepare(sql);
    if (!st) return st.error();
    Query q(*st);
    q.bind(1, build);
    if (Status s = run(q, "recount build"); !s) return s;
  }
  return Ok{};
}

// Written on creation, refused when it is not this collector's.
Status SqliteStore::check_schema_version() {
  auto s = prepare("SELECT value FROM meta WHERE key = 'schema_version'");
  if (!s) return make_error(ErrorCode::kMalformed, path_ + " is not a buildtrail store: " + sqlite3_errmsg(db_));
  Query q(*s);
  const int rc = q.step();
  if (rc == SQLITE_ROW) {
    const int64_t v = q.i64_at(0);
    if (v == kSchemaVersion) return Ok{};
    if (v < kSchemaVersion && read_only_)
      return make_error(ErrorCode::kMalformed, "store " + path_ + " has schema version " + std::to_string(v) +
                                                   "; run serve (or agents add, revoke or token) once to upgrade it" +
                                                   " to version " + std::to_string(kSchemaVersion));
    return make_error(ErrorCode::kMalformed, "store " + path_ + " has schema version " + std::to_string(v) +
                                                 ", this collector reads version " + std::to_string(kSchemaVersion));
  }
  if (rc == SQLITE_DONE && !read_only_) {
    auto ins = prepare("INSERT INTO meta(key, value) VALUES ('schema_version', ?1)");
    if (!ins) return ins.error();
    Query iq(*ins);
    iq.bind(1, kSchemaVersion);
    return run(iq, "write schema version");
  }
  return rc == SQLITE_DONE ? make_error(ErrorCode::kMalformed, "store " + path_ + " has no schema version")
                           : error("read schema version", rc);
}

// One count column per event kind; kinds are append-only, so a newer
// collector adds the columns of kinds it knows.
Status SqliteStore::find_kind_columns() {
  auto cols = prepare("SELECT name FROM pragma_table_info('builds')");
  if (!cols) return cols.error();
  Query q(*cols);
  while (q.step() == SQLITE_ROW) {
    const std::string name = q.text_at(0);
    for (std::size_t i = 0; i < events::kKinds.size(); ++i)
      if (name == events::kKinds[i].name) kind_column_[i] = true;
  }
  return Ok{};
}

Status SqliteStore::add_kind_columns() {
  for (std::size_t i = 0; i < events::kKinds.size(); ++i) {
    if (kind_column_[i]) continue;
    const std::string sql = "ALTER TABLE builds ADD COLUMN " + kind_column(i) + " INTEGER NOT NULL DEFAULT 0";
    Status s = exec(sql.c_str(), "add kind column");
    if (!s) return s;
    kind_column_[i] = true;
  }
  return Ok{};
}

// ---- agents ---------------------------------------------------------------------------

namespace {

// `revoked` is the key's state as much as the id's; open findings are
// counted on read (an agent has few findings, all under findings_agent).
constexpr const char* kAgentColumns =
    "id, public_key, revoked OR EXISTS (SELECT 1 FROM revoked_keys k WHERE k.public_key = agents.public_key),"
    " enrolled_ns, hostname, os, kernel, agent_version, ci, epoch, last_seq, last_hash, last_seen_ns, findings,"
    " (SELECT COUNT(*) FROM findings f WHERE f.agent_id = agents.id AND f.resolved_ns = 0), mode, lost";
}  // namespace

Agent SqliteStore::read_agent(const Query& q) const {
  Agent a;
  a.id = q.text_at(0);
  a.public_key = q.bytes_at<32>(1);
  a.revoked = q.i64_at(2) != 0;
  a.enrolled_ns = q.u64_at(3);
  a.inventory = Inventory{q.text_at(4), q.text_at(5), q.text_at(6), q.text_at(7), q.text_at(8)};
  a.epoch = q.u64_at(9);
  a.last_seq = q.u64_at(10);
  a.last_hash = q.bytes_at<32>(11);
  a.last_seen_ns = q.u64_at(12);
  a.findings = q.u64_at(13);
  a.open_findings = q.u64_at(14);
  a.mode = q.text_at(15);
  a.lost = q.u64_at(16);
  return a;
}

Result<std::optional<Agent>> SqliteStore::agent(const std::string& id) {
  auto s = prepare(std::string("SELECT ") + kAgentColumns + " FROM agents WHERE id = ?1");
  if (!s) return s.error();
  Query q(*s);
  q.bind(1, id);
  const int rc = q.step();
  if (rc == SQLITE_DONE) return std::optional<Agent>();
  if (rc != SQLITE_ROW) return error("read agent", rc);
  return std::optional<Agent>(read_agent(q));
}

Result<std::vector<Agent>> SqliteStore::agents() {
  auto s = prepare(std::string("SELECT ") + kAgentColumns + " FROM agents ORDER BY id");
  if (!s) return s.error();
  Query q(*s);
  std::vector<Agent> out;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) out.push_back(read_agent(q));
  if (rc != SQLITE_DONE) return error("list agents", rc);
  return out;
}

Result<std::optional<SqliteStore::Enrolled>> SqliteStore::enrolled(const std::string& id) {
  auto sel = prepare(
      "SELECT public_key, revoked OR EXISTS (SELECT 1 FROM revoked_keys k WHERE k.public_key = agents.public_key)"
      " FROM agents WHERE id = ?1");
  if (!sel) return sel.error();
  Query q(*sel);
  q.bind(1, id);
  const int rc = q.step();
  if (rc == SQLITE_DONE) return std::optional<Enrolled>();
  if (rc != SQLITE_ROW) return error("read agent", rc);
  return std::optional<Enrolled>(Enrolled{q.bytes_at<32>(0), q.i64_at(1) != 0});
}

// The id the key was revoked under, if it was.
Result<std::optional<std::string>> SqliteStore::key_revoked_as(const crypto::PublicKey& key) {
  auto sel = prepare("SELECT agent_id FROM revoked_keys WHERE public_key = ?1");
  if (!sel) return sel.error();
  Query q(*sel);
  q.bind_blob(1, key);
  const int rc = q.step();
  if (rc == SQLITE_DONE) return std::optional<std::string>();
  if (rc != SQLITE_ROW) return error("read revoked keys", rc);
  return std::optional<std::string>(q.text_at(0));
}

// Same key again (re-enrollment): refresh the inventory it reports.
Status SqliteStore::refresh_inventory(const Agent& agent) {
  auto up = prepare(
      "UPDATE agents SET hostname = COALESCE(NULLIF(?2, ''), hostname),"
      " os = COALESCE(NULLIF(?3, ''), os), kernel = COALESCE(NULLIF(?4, ''), kernel),"
      " agent_version = COALESCE(NULLIF(?5, ''), agent_version),"
      " ci = COALESCE(NULLIF(?6, ''), ci) WHERE id = ?1");
  if (!up) return up.error();
  const Inventory& inv = agent.inventory;
  Query q(*up);
  q.bind(1, agent.id).bind(2, inv.hostname).bind(3, inv.os).bind(4, inv.kernel);
  q.bind(5, inv.agent_version).bind(6, inv.ci);
  return run(q, "update agent");
}

Status SqliteStore::insert_agent(const Agent& agent) {
  auto ins = prepare(
      "INSERT INTO agents(id, public_key, revoked, enrolled_ns, hostname, os, kernel,"
      " agent_version, ci) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
  if (!ins) return ins.error();
  const Inventory& inv = agent.inventory;
  {
    Query q(*ins);
    q.bind(1, agent.id).bind_blob(2, agent.public_key).bind(3, int64_t{agent.revoked});
    q.bind(4, agent.enrolled_ns).bind(5, inv.hostname).bind(6, inv.os).bind(7, inv.kernel);
    q.bind(8, inv.agent_version).bind(9, inv.ci);
    Status s = run(q, "add agent");
    if (!s) return s;
  }
  return bump_agents_rev();
}

namespace {

Error key_is_revoked(const std::string& revoked_as) {
  return make_error(ErrorCode::kForbidden, "this public key is revoked (as agent '" + revoked_as + "')");
}
}  // namespace

Status SqliteStore::add_agent(const Agent& agent) {
  if (!batch::valid_agent_id(agent.id))
    return make_error(ErrorCode::kInvalidArgument, "invalid agent id '" + agent.id + "' (1..64 of A-Z a-z 0-9 _ -)");
  return transaction([&]() -> Status {
    auto existing = enrolled(agent.id);
    if (!existing) return existing.error();
    if (*existing) {
      if ((*existing)->public_key != agent.public_key)
        return make_error(ErrorCode::kConflict, "agent " + agent.id + " is already enrolled with another key");
      return refresh_inventory(agent);
    }
    auto revoked = key_revoked_as(agent.public_key);
    if (!revoked) return revoked.error();
    if (*revoked) return key_is_revoked(**revoked);
    return insert_agent(agent);
  });
}

Status SqliteStore::enroll(const Agent& agent, const std::string& token, uint64_t now_ns) {
  if (!batch::valid_agent_id(agent.id))
    return make_error(ErrorCode::kInvalidArgument, "invalid agent id '" + agent.id + "' (1..64 of A-Z a-z 0-9 _ -)");
  return transaction([&]() -> Status {
    auto existing = enrolled(agent.id);
    if (!existing) return existing.error();
    // Agents of one state folder starting at once all enroll: the same key
    // again changes nothing and needs no token.
    if (*existing && (*existing)->public_key == agent.public_key && !(*existing)->revoked)
      return refresh_inventory(agent);
    // Everything below tells something about who is enrolled: only to a
    // caller with a valid token.
    auto valid = token_valid(token, now_ns);
    if (!valid) return valid.error();
    if (!*valid) return make_error(ErrorCode::kNotFound, "enrollment token is unknown, expired or used up");
    auto revoked = key_revoked_as(agent.public_key);
    if (!revoked) return revoked.error();
    if (*revoked) return key_is_revoked(**revoked);
    if (*existing && (*existing)->revoked)
      return make_error(ErrorCode::kForbidden, "agent '" + agent.id + "' is revoked");
    if (*existing) return make_error(ErrorCode::kConflict, "agent '" + agent.id + "' is enrolled with another key");
    Status s = spend_token(token, now_ns);
    if (s) s = insert_agent(agent);
    return s;
  });
}

Result<std::vector<std::string>> SqliteStore::revoke_agent(const std::string& id) {
  std::vector<std::string> ids;
  Status s = transaction([&]() -> Status {
    auto existing = enrolled(id);
    if (!existing) return existing.error();
    if (!*existing) return make_error(ErrorCode::kNotFound, "no agent '" + id + "'");
    auto key = prepare("INSERT OR IGNORE INTO revoked_keys(public_key, revoked_ns, agent_id) VALUES (?1, ?2, ?3)");
    if (!key) return key.error();
    {
      Query q(*key);
      q.bind_blob(1, (*existing)->public_key).bind(2, clock::now_ns()).bind(3, id);
      Status st = run(q, "revoke key");
      if (!st) return st;
    }
    // Every id holding the key goes with it.
    auto up = prepare("UPDATE agents SET revoked = 1 WHERE public_key = ?1 RETURNING id");
    if (!up) return up.error();
    Query q(*up);
    q.bind_blob(1, (*existing)->public_key);
    int rc;
    while ((rc = q.step()) == SQLITE_ROW) ids.push_back(q.text_at(0));
    if (rc != SQLITE_DONE) return error("revoke agent", rc);
    return bump_agents_rev();
  });
  if (!s) return s.error();
  std::sort(ids.begin(), ids.end());
  return ids;
}

Status SqliteStore::add_token(const Token& token) {
  if (token.secret.empty() || token.uses == 0)
    return make_error(ErrorCode::kInvalidArgument, "a token needs a secret and at least one use");
  const std::string hash = token_hash(token.secret);
  return transaction([&]() -> Status {
    auto s = prepare(
        "INSERT INTO tokens(sha256, created_ns, expires_ns, uses_left)"
        " VALUES (?1, ?2, ?3, ?4)");
    if (!s) return s.error();
    Query q(*s);
    q.bind(1, hash).bind(2, clock::now_ns()).bind(3, token.expires_ns).bind(4, int64_t{token.uses});
    return run(q, "add token");
  });
}

Status SqliteStore::use_token(const std::string& secret, uint64_t now_ns) {
  if (read_only_) return make_error(ErrorCode::kInvalidArgument, "store " + path_ + " is open read-only");
  return spend_token(secret, now_ns);
}

// Inside enroll's transaction, so nothing can spend it between this check
// and spend_token.
Result<bool> SqliteStore::token_valid(const std::string& secret, uint64_t now_ns) {
  auto s = prepare("SELECT 1 FROM tokens WHERE sha256 = ?1 AND uses_left > 0 AND expires_ns > ?2");
  if (!s) return s.error();
  const std::string hash = token_hash(secret);
  Query q(*s);
  q.bind(1, hash).bind(2, now_ns);
  const int rc = q.step();
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return error("read token", rc);
}

Status SqliteStore::spend_token(const std::string& secret, uint64_t now_ns) {
  const std::string hash = token_hash(secret);
  // One UPDATE is atomic across processes: two enrollments racing for the
  // last use cannot both see uses_left > 0.
  auto s = prepare(
      "UPDATE tokens SET uses_left = uses_left - 1"
      " WHERE sha256 = ?1 AND uses_left > 0 AND expires_ns > ?2");
  if (!s) return s.error();
  int changed = 0;
  Query q(*s);
  q.bind(1, hash).bind(2, now_ns);
  Status st = run(q, "use token", &changed);
  if (!st) return st;
  if (changed != 1) return make_error(ErrorCode::kNotFound, "unknown, expired or used-up token");
  return Ok{};
}

Result<uint64_t> SqliteStore::agents_revision() {
  auto s = prepare("SELECT value FROM meta WHERE key = 'agents_rev'");
  if (!s) return s.error();
  Query q(*s);
  const int rc = q.step();
  if (rc == SQLITE_ROW) return q.u64_at(0);
  if (rc == SQLITE_DONE) return uint64_t{0};
  return error("read agents_rev", rc);
}

// ---- ingest ---------------------------------------------------------------------------

// The record of build `b` as `agent_id` observed it: another agent's
// events never land in it, whatever CI ids they carry (issue 17/10).
Result<int64_t> SqliteStore::build_row(const events::Build& b, const std::string& agent_id, bool* created) {
  *created = false;
  if (auto it = build_ids_.find(key_); it != build_ids_.end()) return it->second;
  auto sel = prepare("SELECT id FROM builds WHERE build_id = ?1 AND ci = ?2 AND agent_id = ?3");
  if (!sel) return sel.error();
  {
    Query q(*sel);
    q.bind(1, b.id).bind(2, b.ci).bind(3, agent_id);
    const int rc = q.step();
    if (rc == SQLITE_ROW) return q.i64_at(0);
    if (rc != SQLITE_DONE) return error("find build", rc);
  }
  auto ins = prepare(
      "INSERT INTO builds(ci, build_id, job, number, url, repository, commit_id, runner, agent_id, branch)"
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
  if (!ins) return ins.error();
  Query q(*ins);
  q.bind(1, b.ci).bind(2, b.id).bind(3, b.job).bind(4, b.number).bind(5, b.url);
  q.bind(6, b.repository).bind(7, b.commit).bind(8, b.runner).bind(9, agent_id).bind(10, b.branch);
  Status s = run(q, "add build");
  if (!s) return s.error();
  *created = true;
  return sqlite3_last_insert_rowid(db_);
}

Status SqliteStore::commit(const std::vector<BatchRecord>& batches) {
  if (batches.empty()) return Ok{};
  created_builds_.clear();
  Status s = transaction([&] { return commit_locked(batches); });
  if (s) {
    // Only ids of committed rows may be remembered: a rolled-back insert
    // frees its id for the next one.
    if (build_ids_.size() + created_builds_.size() > kBuildCacheMax) build_ids_.clear();
    for (auto& [key, id] : created_builds_) build_ids_.emplace(std::move(key), id);
  }
  created_builds_.clear();
  aggs_.clear();
  commit_builds_.clear();
  return s;
}

Status SqliteStore::commit_locked(const std::vector<BatchRecord>& batches) {
  auto next_event = next_event_id();
  if (!next_event) return next_event.error();
  std::vector<AgentAgg> agents;
  uint64_t total_events = 0;
  for (const BatchRecord& rec : batches) {
    Status s = commit_batch(rec, &*next_event, agents);
    if (!s) return s;
    total_events += rec.events.size();
  }
  Status s = update_agents(agents);
  if (s) s = update_builds();
  if (s) s = add_to_counters(total_events, batches.size());
  return s;
}

// Event ids are given explicitly so each batch knows the first id of its
// contiguous range (batches.first_event) before its events are written.
Result<int64_t> SqliteStore::next_event_id() {
  auto max_id = prepare("SELECT MAX(id) FROM events");
  if (!max_id) return max_id.error();
  Query q(*max_id);
  if (q.step() != SQLITE_ROW) return error("read event ids", sqlite3_errcode(db_));
  return q.i64_at(0) + 1;
}

Status SqliteStore::commit_batch(const BatchRecord& rec, int64_t* next_event, std::vector<AgentAgg>& agents) {
  if (!batch::valid_agent_id(rec.agent_id))
    return make_error(ErrorCode::kInvalidArgument, "invalid agent id '" + rec.agent_id + "'");
  // Every valid seq is stored as itself (batch::kMaxSeq fits an INTEGER).
  if (rec.header.seq == 0 || rec.header.seq > batch::kMaxSeq)
    return make_error(ErrorCode::kInvalidArgument,
                      "seq " + std::to_string(rec.header.seq) + " of agent " + rec.agent_id + " is outside 1..2^63-1");
  auto batch_row = insert_batch(rec, *next_event);
  if (!batch_row) return batch_row.error();
  Status s = insert_events(rec, *batch_row, next_event);
  if (s) s = insert_findings(rec, *batch_row, agents);
  if (s && rec.late) {
    auto added = fill_gap(rec.agent_id, rec.epoch, rec.header.seq, event_time_range(rec),
                          rec.received_ns ? rec.received_ns : clock::now_ns());
    if (!added) return added.error();
    agent_agg(agents, rec.agent_id).findings += static_cast<uint64_t>(*added);
  }
  if (s) agent_agg(agents, rec.agent_id).add_batch(rec);
  return s;
}

Result<int64_t> SqliteStore::insert_batch(const BatchRecord& rec, int64_t first_event) {
  auto ins = prepare(
      "INSERT INTO batches(agent_id, epoch, seq, hash, prev_hash, archive_path, received_ns,"
      " size_bytes, event_count, first_event, first_ns, last_ns)"
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)");
  if (!ins) return ins.error();
  const batch::Header& h = rec.header;
  const auto [first_ns, last_ns] = event_time_range(rec);
  Query q(*ins);
  q.bind(1, rec.agent_id).bind(2, rec.epoch).bind(3, h.seq).bind_blob(4, rec.hash);
  q.bind_blob(5, h.prev_hash).bind(6, rec.archive_path).bind(7, rec.received_ns);
  q.bind(8, rec.size_bytes).bind(9, uint64_t{rec.events.size()});
  if (rec.events.empty())
    q.bind_null(10);
  else
    q.bind(10, first_event);
  q.bind(11, first_ns).bind(12, last_ns);
  const int rc = q.step();
  if (rc == SQLITE_DONE) return sqlite3_last_insert_rowid(db_);
  if ((rc & 0xff) != SQLITE_CONSTRAINT) return error("add batch", rc);
  return make_error(ErrorCode::kConflict, rc == SQLITE_CONSTRAINT_UNIQUE
                                              ? "batch seq " + std::to_string(h.seq) + " of agent " + rec.agent_id +
                                                    " (epoch " + std::to_string(rec.epoch) + ") is already stored"
                                              : "batch of unknown agent '" + rec.agent_id + "'");
}

Status SqliteStore::insert_events(const BatchRecord& rec, int64_t batch_row, int64_t* next_event) {
  auto ins = prepare(
      "INSERT INTO events(id, batch, line, time_ns, kind, build, pid, ppid, process_key, exe,"
      " destination, secret_path, exit_code, loss_total, claimed_ns, parent_key, exe_sha256, dns_name)"
      " VALUES (?14, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?15, ?16, ?17, ?18)");
  if (!ins) return ins.error();
  // Consecutive events almost always share a build, so the last one is
  // checked before any hashing.
  // aggs_ only grows inside build_agg(), which also replaces last_agg.
  BuildAgg* last_agg = nullptr;
  const events::Build* last_build = nullptr;
  const ChainPlace here{rec.epoch, rec.header.seq};
  std::array<uint8_t, 32> digest{};
  for (const EventRow& ev : rec.events) {
    BuildAgg* agg = nullptr;
    if (ev.build) {
      if (same_build(last_build, *ev.build)) {
        agg = last_agg;
      } else {
        auto found = build_agg(*ev.build, rec.agent_id);
        if (!found) return found.error();
        agg = last_agg = *found;
        last_build = ev.build.get();
      }
      agg->add_event(ev, here);
    }
    Query q(*ins);
    q.bind(1, batch_row).bind(2, int64_t{ev.line}).bind(3, ev.time_ns);
    q.bind(4, int64_t{static_cast<uint16_t>(ev.kind)});
    if (agg)
      q.bind(5, agg->row);
    else
      q.bind_null(5);
    q.bind(6, ev.pid).bind(7, ev.ppid).bind_or_null(8, ev.process_key).bind_or_null(9, ev.exe);
    q.bind_or_null(10, ev.destination).bind_or_null(11, ev.secret_path);
    q.bind(12, ev.exit_code).bind(13, ev.loss_total).bind(14, (*next_event)++);
    if (ev.claimed_ns)
      q.bind(15, *ev.claimed_ns);
    else
      q.bind_null(15);
    q.bind_or_null(16, ev.parent_key).bind_or_null(18, ev.dns_name);
    // The digest as its 32 bytes: half the size of its hex, on most rows.
    if (sha256_bytes(ev.exe_sha256, digest))
      q.bind_blob(17, digest);
    else
      q.bind_null(17);
    const int rc = q.step();
    if (rc != SQLITE_DONE) return error("add event", rc);
  }
  return Ok{};
}

// The aggregate of a build in this commit, made (with the build's row, if
// the store has none) on the build's first event of the commit.
Result<BuildAgg*> SqliteStore::build_agg(const events::Build& build, const std::string& agent_id) {
  key_.assign(agent_id).push_back('\0');
  key_.append(build.ci).push_back('\0');
  key_.append(build.id);
  auto it = commit_builds_.find(key_);
  if (it == commit_builds_.end()) {
    bool created = false;
    auto row = build_row(build, agent_id, &created);
    if (!row) return row.error();
    if (created) created_builds_.emplace_back(key_, *row);
    aggs_.emplace_back();
    aggs_.back().row = *row;
    aggs_.back().first = &build;
    it = commit_builds_.emplace(key_, aggs_.size() - 1).first;
  }
  return &aggs_[it->second];
}

Status SqliteStore::insert_findings(const BatchRecord& rec, int64_t batch_row, std::vector<AgentAgg>& agents) {
  for (const Finding& f : rec.findings) {
    const std::string& agent_id = f.agent_id.empty() ? rec.agent_id : f.agent_id;
    auto added = add_batch_finding(agent_id, rec.epoch, rec.header.seq, batch_row, f,
                                   f.recorded_ns ? f.recorded_ns : rec.received_ns);
    if (!added) return added.error();
    if (*added) ++agent_agg(agents, agent_id).findings;
  }
  return Ok{};
}

// A finding revealed by the batch at `seq` (row `batch_row`); true when a
// row was added, false when a clock finding was extended instead.
Result<bool> SqliteStore::add_batch_finding(const std::string& agent_id, uint64_t epoch, uint64_t seq,
                                            int64_t batch_row, const Finding& f, uint64_t recorded_ns) {
  if (f.kind == FindingKind::kClock) {
    auto extended = extend_clock_finding(agent_id, epoch, seq, f, recorded_ns);
    if (!extended) return extended.error();
    if (*extended) return false;
  }
  auto ins = prepare(
      "INSERT INTO findings(agent_id, kind, seq_from, seq_to, time_from_ns, time_to_ns,"
      " recorded_ns, batch, detail, epoch) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
  if (!ins) return ins.error();
  Query q(*ins);
  q.bind(1, agent_id).bind(2, std::string_view(finding_kind_name(f.kind)));
  q.bind(3, f.seq_from).bind(4, f.seq_to).bind(5, f.time_from_ns).bind(6, f.time_to_ns);
  q.bind(7, recorded_ns).bind(8, batch_row).bind(9, f.detail).bind(10, epoch);
  Status st = run(q, "add finding");
  if (!st) return st.error();
  return true;
}

// An agent whose clock is off sends every batch out of range: the clock
// finding of its previous batch (same epoch, seq - 1) grows to cover this
// one, so the agent gets one finding per run of such batches rather than
// thousands. Returns whether there was one to extend.
Result<bool> SqliteStore::extend_clock_finding(const std::string& agent_id, uint64_t epoch, uint64_t seq,
                                               const Finding& f, uint64_t now_ns) {
  if (seq < 2) return false;
  auto sel = prepare(
      "SELECT id, seq_from FROM findings WHERE agent_id = ?1 AND epoch = ?2 AND kind = 'clock' AND seq_to = ?3"
      " AND resolved_ns = 0 ORDER BY id DESC LIMIT 1");
  if (!sel) return sel.error();
  int64_t id = 0;
  uint64_t from = 0;
  {
    Query q(*sel);
    q.bind(1, agent_id).bind(2, epoch).bind(3, seq - 1);
    const int rc = q.step();
    if (rc == SQLITE_DONE) return false;
    if (rc != SQLITE_ROW) return error("read clock finding", rc);
    id = q.i64_at(0);
    from = q.u64_at(1);
  }
  auto up = prepare(
      "UPDATE findings SET seq_to = ?2, time_from_ns = MIN(time_from_ns, ?3), time_to_ns = MAX(time_to_ns, ?4),"
      " updated_ns = ?5, note = ?6 WHERE id = ?1");
  if (!up) return up.error();
  const std::string note =
      "batches " + std::to_string(from) + ".." + std::to_string(seq) + " all had times out of range";
  Query q(*up);
  q.bind(1, id).bind(2, seq).bind(3, f.time_from_ns).bind(4, f.time_to_ns).bind(5, now_ns).bind(6, note);
  Status st = run(q, "extend clock finding");
  if (!st) return st.error();
  return true;
}

namespace {

std::string seq_range(uint64_t from, uint64_t to) {
  return from == to ? std::to_string(from) : std::to_string(from) + ".." + std::to_string(to);
}
}  // namespace

// Gap findings of one epoch never overlap (each starts above the tip of its
// time), so the open one starting at or below `seq` is the only candidate.
Result<std::optional<SqliteStore::OpenGap>> SqliteStore::open_gap_at(const std::string& agent_id, uint64_t epoch,
                                                                     uint64_t seq) {
  auto sel = prepare(
      "SELECT id, seq_from, seq_to, time_from_ns, time_to_ns FROM findings"
      " WHERE agent_id = ?1 AND epoch = ?2 AND kind = 'gap' AND resolved_ns = 0 AND seq_from <= ?3"
      " ORDER BY seq_from DESC LIMIT 1");
  if (!sel) return sel.error();
  Query q(*sel);
  q.bind(1, agent_id).bind(2, epoch).bind(3, seq);
  const int rc = q.step();
  if (rc == SQLITE_DONE) return std::optional<OpenGap>();
  if (rc != SQLITE_ROW) return error("read gap finding", rc);
  OpenGap g{q.i64_at(0), q.u64_at(1), q.u64_at(2), q.u64_at(3), q.u64_at(4)};
  if (g.to < seq) return std::optional<OpenGap>();
  return std::optional<OpenGap>(g);
}

Status SqliteStore::update_gap(const OpenGap& g, uint64_t resolved_ns, uint64_t now_ns, const std::string& note) {
  auto up = prepare(
      "UPDATE findings SET seq_from = ?2, seq_to = ?3, time_from_ns = ?4, time_to_ns = ?5, resolved_ns = ?6,"
      " updated_ns = ?7, note = ?8 WHERE id = ?1");
  if (!up) return up.error();
  Query q(*up);
  q.bind(1, g.id).bind(2, g.from).bind(3, g.to).bind(4, g.time_from).bind(5, g.time_to);
  q.bind(6, resolved_ns).bind(7, now_ns).bind(8, note);
  return run(q, "update gap finding");
}

// A batch now stored at `seq` (its events span `times`) shrinks the open
// gap finding that covers it: from either end, by splitting it in two, or
// to nothing (resolved). The time bounds close in on the batch. Returns
// the findings added (a split adds one).
Result<int> SqliteStore::fill_gap(const std::string& agent_id, uint64_t epoch, uint64_t seq,
                                  std::pair<uint64_t, uint64_t> times, uint64_t now_ns) {
  auto found = open_gap_at(agent_id, epoch, seq);
  if (!found) return found.error();
  if (!*found) return 0;
  const OpenGap gap = **found;
  const std::string arrived = "seq " + std::to_string(seq) + " arrived late";
  if (gap.from == gap.to) {
    Status s = update_gap(gap, now_ns, now_ns, arrived + "; nothing is missing any more");
    if (!s) return s.error();
    return 0;
  }
  OpenGap below = gap, above = gap;
  below.to = seq - 1;
  below.time_to = times.first;
  above.from = seq + 1;
  above.time_from = times.second;
  if (seq == gap.from || seq == gap.to) {
    const OpenGap& rest = seq == gap.from ? above : below;
    Status s = update_gap(rest, 0, now_ns, arrived + "; " + seq_range(rest.from, rest.to) + " still missing");
    if (!s) return s.error();
    return 0;
  }
  Status s = update_gap(below, 0, now_ns,
                        arrived + "; " + seq_range(below.from, below.to) + " still missing, " +
                            seq_range(above.from, above.to) + " split off");
  if (!s) return s.error();
  auto split = prepare(
      "INSERT INTO findings(agent_id, kind, seq_from, seq_to, time_from_ns, time_to_ns, recorded_ns, batch, detail,"
      " epoch, resolved_ns, updated_ns, note)"
      " SELECT agent_id, kind, ?2, ?3, ?4, ?5, recorded_ns, batch, detail, epoch, 0, ?6, ?7 FROM findings WHERE id = "
      "?1");
  if (!split) return split.error();
  Query q(*split);
  const std::string note =
      arrived + "; " + seq_range(above.from, above.to) + " still missing, split from finding " + std::to_string(gap.id);
  q.bind(1, gap.id).bind(2, above.from).bind(3, above.to).bind(4, above.time_from).bind(5, above.time_to);
  q.bind(6, now_ns).bind(7, note);
  s = run(q, "split gap finding");
  if (!s) return s.error();
  return 1;
}

// Chain state: the tip only moves forward (a late batch filling an old
// gap leaves it alone); last seen and findings always accumulate.
Status SqliteStore::update_agents(const std::vector<AgentAgg>& agents) {
  auto up = prepare(
      "UPDATE agents SET"
      " epoch = CASE WHEN ?2 AND (?3 > epoch OR (?3 = epoch AND ?4 > last_seq)) THEN ?3 ELSE epoch END,"
      " last_hash = CASE WHEN ?2 AND (?3 > epoch OR (?3 = epoch AND ?4 > last_seq)) THEN ?5 ELSE last_hash END,"
      " last_seq = CASE WHEN ?2 AND (?3 > epoch OR (?3 = epoch AND ?4 > last_seq)) THEN ?4 ELSE last_seq END,"
      " last_seen_ns = MAX(last_seen_ns, ?6), findings = findings + ?7,"
      " mode = CASE WHEN ?8 <> '' THEN ?8 ELSE mode END, lost = lost + ?9"
      " WHERE id = ?1");
  if (!up) return up.error();
  static const crypto::Digest kZero{};
  for (const AgentAgg& a : agents) {
    Query q(*up);
    q.bind(1, *a.id).bind(2, int64_t{a.has_tip}).bind(3, a.epoch).bind(4, a.seq);
    q.bind_blob(5, a.hash ? *a.hash : kZero).bind(6, a.last_seen_ns).bind(7, a.findings);
    q.bind(8, a.mode).bind(9, a.lost);
    int changed = 0;
    Status st = run(q, "update agent", &changed);
    if (!st) return st;
    // A finding may name an agent that was never enrolled (a rejected
    // batch); a committed batch may not.
    if (changed == 0 && a.has_tip) return make_error(ErrorCode::kNotFound, "batch of unknown agent '" + *a.id + "'");
  }
  return Ok{};
}

// One UPDATE per distinct build of this commit, one upsert per distinct
// value.
Status SqliteStore::update_builds() {
  auto up = prepare(update_build_sql_);
  if (!up) return up.error();
  for (const BuildAgg& agg : aggs_) {
    const events::Build& b = *agg.first;
    Query q(*up);
    q.bind(1, agg.row).bind(2, agg.first_ns).bind(3, agg.last_ns).bind(4, agg.start_ns);
    q.bind(5, int64_t{agg.ended}).bind(6, agg.end_ns).bind(7, agg.exit_code).bind(8, agg.total);
    q.bind(9, b.job).bind(10, b.number).bind(11, b.url).bind(12, b.repository);
    q.bind(13, b.commit).bind(14, b.runner);
    for (std::size_t i = 0; i < agg.counts.size(); ++i) q.bind(static_cast<int>(15 + i), agg.counts[i]);
    q.bind(100, b.branch).bind(101, agg.mode).bind(102, agg.mode_ns).bind(103, agg.unmonitored).bind(104, agg.lost);
    q.bind(105, agg.first_batch.epoch).bind(106, agg.first_batch.seq).bind(107, agg.last_batch.epoch);
    q.bind(108, agg.last_batch.seq).bind(109, int64_t{agg.has_batch});
    Status st = run(q, "update build");
    if (st) st = update_build_values(agg);
    if (!st) return st;
  }
  return Ok{};
}

Status SqliteStore::update_build_values(const BuildAgg& agg) {
  auto up = prepare(
      "INSERT INTO build_values(field, value, build, events, first_ns, last_ns)"
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(field, value, build) DO UPDATE SET"
      " events = events + excluded.events, first_ns = MIN(first_ns, excluded.first_ns),"
      " last_ns = MAX(last_ns, excluded.last_ns)");
  if (!up) return up.error();
  const auto upsert = [&](int64_t field, std::string_view value, const ValueAgg& v) {
    Query q(*up);
    q.bind(1, field).bind(2, value).bind(3, agg.row);
    q.bind(4, v.events).bind(5, v.first_ns).bind(6, v.last_ns);
    return run(q, "update build values");
  };
  for (std::size_t f = 0; f < kValueFields; ++f) {
    for (const auto& [value, v] : agg.values[f])
      if (Status st = upsert(static_cast<int64_t>(f + 1), value, v); !st) return st;
  }
  for (const auto& [value, v] : agg.dns_values)
    if (Status st = upsert(static_cast<int64_t>(ValueField::kDnsName), value, v); !st) return st;
  return Ok{};
}

// events and batches are counters kept here: COUNT(*) over the events
// table is a full scan (see stats()).
Status SqliteStore::add_to_counters(uint64_t events, uint64_t batches) {
  auto up = prepare("UPDATE meta SET value = value + ?2 WHERE key = ?1");
  if (!up) return up.error();
  for (auto [key, n] : {std::pair<std::string_view, uint64_t>{"events", events}, {"batches", batches}}) {
    Query q(*up);
    q.bind(1, key).bind(2, n);
    Status st = run(q, "update counters");
    if (!st) return st;
  }
  return Ok{};
}

Status SqliteStore::record_finding(const Finding& f) {
  return transaction([&]() -> Status {
    auto ins = prepare(
        "INSERT INTO findings(agent_id, kind, seq_from, seq_to, time_from_ns, time_to_ns,"
        " recorded_ns, batch, detail, epoch) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL, ?8, ?9)");
    if (!ins) return ins.error();
    {
      Query q(*ins);
      q.bind(1, f.agent_id).bind(2, std::string_view(finding_kind_name(f.kind)));
      q.bind(3, f.seq_from).bind(4, f.seq_to).bind(5, f.time_from_ns).bind(6, f.time_to_ns);
      q.bind(7, f.recorded_ns).bind(8, f.detail).bind(9, f.epoch);
      Status st = run(q, "add finding");
      if (!st) return st;
    }
    auto up = prepare("UPDATE agents SET findings = findings + 1 WHERE id = ?1");
    if (!up) return up.error();
    Query q(*up);
    q.bind(1, f.agent_id);
    return run(q, "count finding");
  });
}

Result<std::optional<batch::Stored>> SqliteStore::batch_link(const std::string& agent_id, uint64_t epoch,
                                                             uint64_t seq) {
  auto s = prepare("SELECT hash, prev_hash FROM batches WHERE agent_id = ?1 AND epoch = ?2 AND seq = ?3");
  if (!s) return s.error();
  Query q(*s);
  q.bind(1, agent_id).bind(2, epoch).bind(3, seq);
  const int rc = q.step();
  if (rc == SQLITE_DONE) return std::optional<batch::Stored>();
  if (rc != SQLITE_ROW) return error("read batch link", rc);
  return std::optional<batch::Stored>(batch::Stored{q.bytes_at<32>(0), q.bytes_at<32>(1)});
}

Result<bool> SqliteStore::has_batch(const crypto::Digest& hash) {
  auto s = prepare("SELECT 1 FROM batches WHERE hash = ?1 LIMIT 1");
  if (!s) return s.error();
  Query q(*s);
  q.bind_blob(1, hash);
  const int rc = q.step();
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return error("find batch", rc);
}

Status SqliteStore::for_each_batch(const std::function<bool(const StoredBatch&)>& on_batch) {
  auto s =
      prepare("SELECT agent_id, epoch, seq, hash, prev_hash, archive_path FROM batches ORDER BY agent_id, epoch, seq");
  if (!s) return s.error();
  Query q(*s);
  StoredBatch b;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) {
    b.agent_id = q.text_at(0);
    b.epoch = q.u64_at(1);
    b.seq = q.u64_at(2);
    b.hash = q.bytes_at<32>(3);
    b.prev_hash = q.bytes_at<32>(4);
    b.archive_path = q.text_at(5);
    if (!on_batch(b)) return Ok{};
  }
  if (rc != SQLITE_DONE) return error("list batches", rc);
  return Ok{};
}

// ---- reading ----------------------------------------------------------------------------

// Build records: build_reads.cpp.

namespace {

// The bulk kinds (process_exec, process_exit) are left out of the kind
// index; see kind_index_term().
bool indexed_kind(const std::optional<events::Kind>& kind) {
  return kind && *kind != events::Kind::process_exec && *kind != events::Kind::process_exit;
}

// Assembled from fixed fragments; every value is a binding (see
// bind_event_filter).
std::string events_sql(const EventFilter& filter) {
  std::string sql = std::string("SELECT ") + kEventRefColumns +
                    " FROM events e JOIN batches b ON b.id = e.batch WHERE e.time_ns >= ?1";
  if (filter.build) sql += " AND e.build = ?2";
  if (!filter.build_id.empty()) sql += " AND e.build IN (SELECT id FROM builds WHERE build_id = ?3)";
  if (filter.kind) {
    sql += " AND e.kind = ?4";
    if (indexed_kind(filter.kind)) sql += " AND " + kind_index_term("e.kind");
  }
  // exe is indexed per build (build_values), not per event: the builds
  // that ran it, then their events.
  if (!filter.exe.empty())
    sql += " AND e.exe = ?5 AND e.build IN (SELECT build FROM build_values WHERE field = " +
           std::to_string(static_cast<int>(ValueField::kExe)) + " AND value = ?5)";
  if (!filter.destination.empty()) sql += " AND e.destination = ?6";
  if (!filter.secret_path.empty()) sql += " AND e.secret_path = ?7";
  const bool indexed = filter.build || !filter.build_id.empty() || !filter.exe.empty() || !filter.destination.empty() ||
                       !filter.secret_path.empty() || indexed_kind(filter.kind);
  // Otherwise time is found through the batches: a batch's events are one
  // id range, so events at or after T all follow the first event of the
  // oldest batch ending at or after T. The range is then sorted by time.
  if (!indexed) sql += " AND e.id >= (SELECT MIN(first_event) FROM batches WHERE last_ns >= ?1)";
  return sql + " ORDER BY e.time_ns, e.id";
}

void bind_event_filter(Query& q, const EventFilter& filter) {
  q.bind(1, filter.since_ns);
  if (filter.build) q.bind(2, *filter.build);
  if (!filter.build_id.empty()) q.bind(3, filter.build_id);
  if (filter.kind) q.bind(4, int64_t{static_cast<uint16_t>(*filter.kind)});
  if (!filter.exe.empty()) q.bind(5, filter.exe);
  if (!filter.destination.empty()) q.bind(6, filter.destination);
  if (!filter.secret_path.empty()) q.bind(7, filter.secret_path);
}
}  // namespace

Status SqliteStore::events(const EventFilter& filter, const std::function<bool(const EventRef&)>& on_ref) {
  auto s = prepare(events_sql(filter));
  if (!s) return s.error();
  Query q(*s);
  bind_event_filter(q, filter);
  int rc;
  while ((rc = q.step()) == SQLITE_ROW)
    if (!on_ref(read_event_ref(q, 0))) return Ok{};
  if (rc != SQLITE_DONE) return error("read events", rc);
  return Ok{};
}

EventRef SqliteStore::read_event_ref(const Query& q, int at) {
  EventRef ref;
  ref.row = q.i64_at(at);
  ref.agent_id = q.text_at(at + 1);
  ref.seq = q.u64_at(at + 2);
  ref.archive_path = q.text_at(at + 3);
  ref.line = static_cast<uint32_t>(q.i64_at(at + 4));
  ref.time_ns = q.u64_at(at + 5);
  ref.time_out_of_range = q.i64_at(at + 6) != 0;
  return ref;
}

// A row of kFindingColumns. An unknown kind (a newer collector's) reads as
// kind kRejected with the name kept in the detail.
Finding SqliteStore::read_finding(const Query& q) const {
  Finding f;
  f.id = q.i64_at(0);
  f.agent_id = q.text_at(1);
  f.seq_from = q.u64_at(3);
  f.seq_to = q.u64_at(4);
  f.time_from_ns = q.u64_at(5);
  f.time_to_ns = q.u64_at(6);
  f.recorded_ns = q.u64_at(7);
  f.detail = q.text_at(8);
  f.epoch = q.u64_at(9);
  f.resolved_ns = q.u64_at(10);
  f.updated_ns = q.u64_at(11);
  f.note = q.text_at(12);
  return f;
}

Result<std::vector<Finding>> SqliteStore::findings(const std::string& agent_id) {
  std::string sql = std::string("SELECT ") + kFindingColumns + " FROM findings";
  sql += agent_id.empty() ? " ORDER BY id" : " WHERE agent_id = ?1 ORDER BY id";
  auto s = prepare(sql);
  if (!s) return s.error();
  Query q(*s);
  if (!agent_id.empty()) q.bind(1, agent_id);
  std::vector<Finding> out;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) {
    Finding f = read_finding(q);
    if (!parse_finding_kind(q.text_at(2), &f.kind))
      return make_error(ErrorCode::kMalformed,
                        "finding " + std::to_string(f.id) + " has unknown kind '" + q.text_at(2) + "'");
    out.push_back(std::move(f));
  }
  if (rc != SQLITE_DONE) return error("read findings", rc);
  return out;
}

Result<Stats> SqliteStore::stats() {
  // events and batches are counters kept by commit (COUNT(*) over the
  // events table is a full scan); the other tables are small.
  auto s = prepare(
      "SELECT (SELECT COUNT(*) FROM agents),"
      " (SELECT value FROM meta WHERE key = 'batches'),"
      " (SELECT value FROM meta WHERE key = 'events'),"
      " (SELECT COUNT(*) FROM builds), (SELECT COUNT(*) FROM findings),"
      " (SELECT page_count FROM pragma_page_count()) * (SELECT page_size FROM pragma_page_size())");
  if (!s) return s.error();
  Query q(*s);
  const int rc = q.step();
  if (rc != SQLITE_ROW) return error("read stats", rc);
  Stats st;
  st.agents = q.u64_at(0);
  st.batches = q.u64_at(1);
  st.events = q.u64_at(2);
  st.builds = q.u64_at(3);
  st.findings = q.u64_at(4);
  st.db_bytes = q.u64_at(5);
  struct stat wal {};
  if (::stat((path_ + "-wal").c_str(), &wal) == 0) st.db_bytes += static_cast<uint64_t>(wal.st_size);
  return st;
}

// ---- detection ----------------------------------------------------------------

Result<int64_t> SqliteStore::cursor(const std::string& name) {
  auto s = prepare("SELECT position FROM cursors WHERE name = ?1");
  if (!s) return s.error();
  Query q(*s);
  q.bind(1, name);
  const int rc = q.step();
  if (rc == SQLITE_ROW) return q.i64_at(0);
  if (rc == SQLITE_DONE) return int64_t{0};
  return error("read cursor", rc);
}

Result<std::vector<CommittedBatch>> SqliteStore::batches_after(int64_t position, std::size_t limit) {
  auto s =
      prepare("SELECT id, agent_id, seq, archive_path, received_ns FROM batches WHERE id > ?1 ORDER BY id LIMIT ?2");
  if (!s) return s.error();
  Query q(*s);
  q.bind(1, position).bind(2, static_cast<int64_t>(limit));
  std::vector<CommittedBatch> out;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW)
    out.push_back({q.i64_at(0), q.text_at(1), q.u64_at(2), q.text_at(3), q.u64_at(4)});
  if (rc != SQLITE_DONE) return error("read committed batches", rc);
  return out;
}

Result<EventBacklog> SqliteStore::event_backlog(int64_t after_position, uint64_t keep) {
  EventBacklog out;
  {
    auto s = prepare("SELECT COUNT(*), COALESCE(SUM(event_count), 0), MIN(received_ns) FROM batches WHERE id > ?1");
    if (!s) return s.error();
    Query q(*s);
    q.bind(1, after_position);
    if (const int rc = q.step(); rc != SQLITE_ROW) return error("count batches behind", rc);
    out.batches = q.u64_at(0);
    out.events = q.u64_at(1);
    out.oldest_received_ns = out.batches ? q.u64_at(2) : 0;
  }
  if (out.events <= keep) return out;
  // The last batch whose events, with all after it, are more than `keep`:
  // skipping through it leaves at most `keep`.
  auto s = prepare(
      "SELECT id, tail - event_count FROM (SELECT id, event_count, SUM(event_count) OVER (ORDER BY id DESC) AS tail"
      " FROM batches WHERE id > ?1) WHERE tail > ?2 ORDER BY id DESC LIMIT 1");
  if (!s) return s.error();
  Query q(*s);
  q.bind(1, after_position).bind(2, static_cast<int64_t>(keep));
  if (const int rc = q.step(); rc != SQLITE_ROW) return error("find where to skip to", rc);
  out.skip_through = q.i64_at(0);
  out.skipped = out.events - q.u64_at(1);
  return out;
}

Result<std::vector<Finding>> SqliteStore::findings_after(int64_t after, std::size_t limit) {
  auto s = prepare(std::string("SELECT ") + kFindingColumns + " FROM findings WHERE id > ?1 ORDER BY id LIMIT ?2");
  if (!s) return s.error();
  Query q(*s);
  q.bind(1, after).bind(2, static_cast<int64_t>(limit));
  std::vector<Finding> out;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) {
    Finding f = read_finding(q);
    if (!parse_finding_kind(q.text_at(2), &f.kind)) f.kind = FindingKind::kRejected;
    out.push_back(std::move(f));
  }
  if (rc != SQLITE_DONE) return error("read findings", rc);
  return out;
}

namespace {

std::string join_tags(const std::vector<std::string>& tags) {
  std::string out;
  for (const auto& t : tags) out += (out.empty() ? "" : " ") + t;
  return out;
}

std::vector<std::string> split_tags(const std::string& text) {
  std::vector<std::string> out;
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t end = std::min(text.find(' ', at), text.size());
    if (end > at) out.push_back(text.substr(at, end - at));
    at = end + 1;
  }
  return out;
}
}  // namespace

// False when (rule_id, key) is stored already.
Result<bool> SqliteStore::insert_alert(const Alert& a) {
  auto ins = prepare(
      "INSERT OR IGNORE INTO alerts(rule_id, dedup_key, title, severity, tags, agent_id, build, time_ns, raised_ns,"
      " detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
  if (!ins) return ins.error();
  const std::string tags = join_tags(a.tags);
  {
    Query q(*ins);
    q.bind(1, a.rule_id).bind(2, a.key).bind(3, a.title).bind(4, int64_t{std::max(0, severity_rank(a.severity))});
    q.bind(5, tags).bind(6, a.agent_id);
    if (a.build_ref)
      q.bind(7, *a.build_ref);
    else
      q.bind_null(7);
    q.bind(8, a.time_ns).bind(9, a.raised_ns).bind(10, a.detail);
    if (Status st = run(q, "add alert"); !st) return st.error();
  }
  if (sqlite3_changes(db_) == 0) return false;
  const int64_t id = sqlite3_last_insert_rowid(db_);
  auto ev = prepare("INSERT OR IGNORE INTO alert_evidence(alert, agent_id, seq, line) VALUES (?1, ?2, ?3, ?4)");
  if (!ev) return ev.error();
  for (const auto& e : a.evidence) {
    Query q(*ev);
    q.bind(1, id).bind(2, e.agent_id).bind(3, e.seq).bind(4, int64_t{e.line});
    if (Status st = run(q, "add alert evidence"); !st) return st.error();
  }
  return true;
}

Result<std::vector<bool>> SqliteStore::commit_detection(const std::vector<Alert>& alerts,
                                                        const std::vector<std::pair<std::string, int64_t>>& cursors,
                                                        const std::vector<BaselineLesson>& lessons) {
  std::vector<bool> added;
  Status s = transaction([&]() -> Status {
    added.clear();
    for (const auto& a : alerts) {
      auto one = insert_alert(a);
      if (!one) return one.error();
      added.push_back(*one);
    }
    auto up = prepare(
        "INSERT INTO cursors(name, position) VALUES (?1, ?2)"
        " ON CONFLICT(name) DO UPDATE SET position = excluded.position");
    if (!up) return up.error();
    for (const auto& [name, position] : cursors) {
      Query q(*up);
      q.bind(1, name).bind(2, position);
      if (Status st = run(q, "move cursor"); !st) return st;
    }
    for (const auto& l : lessons)
      if (Status st = learn(l); !st) return st;
    return Ok{};
  });
  if (!s) return s.error();
  return added;
}

namespace {

constexpr const char* kAlertColumns =
    "id, rule_id, dedup_key, title, severity, tags, agent_id, build, time_ns, raised_ns, detail, acked_ns, ack_note";

Alert read_alert(const Query& q) {
  Alert a;
  a.id = q.i64_at(0);
  a.rule_id = q.text_at(1);
  a.key = q.text_at(2);
  a.title = q.text_at(3);
  const int64_t rank = q.i64_at(4);
  a.severity = kSeverities[rank >= 0 && rank < static_cast<int64_t>(std::size(kSeverities)) ? rank : 0];
  a.tags = split_tags(q.text_at(5));
  a.agent_id = q.text_at(6);
  if (const int64_t b = q.i64_at(7); b != 0) a.build_ref = b;
  a.time_ns = q.u64_at(8);
  a.raised_ns = q.u64_at(9);
  a.detail = q.text_at(10);
  a.acked_ns = q.u64_at(11);
  a.ack_note = q.text_at(12);
  return a;
}
}  // namespace

Status SqliteStore::read_evidence(Alert& a) {
  auto s = prepare("SELECT agent_id, seq, line FROM alert_evidence WHERE alert = ?1 ORDER BY agent_id, seq, line");
  if (!s) return s.error();
  Query q(*s);
  q.bind(1, a.id);
  int rc;
  while ((rc = q.step()) == SQLITE_ROW)
    a.evidence.push_back({q.text_at(0), q.u64_at(1), static_cast<uint32_t>(q.i64_at(2))});
  if (rc != SQLITE_DONE) return error("read alert evidence", rc);
  return Ok{};
}

Result<std::vector<Alert>> SqliteStore::alerts(const AlertFilter& filter) {
  std::string sql =
      std::string("SELECT ") + kAlertColumns + " FROM alerts WHERE raised_ns >= ?1 AND severity >= ?2 AND id > ?5";
  if (filter.build) sql += " AND build = ?3";
  if (filter.open_only) sql += " AND acked_ns = 0";
  sql += " ORDER BY id LIMIT ?4";
  auto s = prepare(sql);
  if (!s) return s.error();
  Query q(*s);
  q.bind(1, filter.since_ns)
      .bind(2, int64_t{filter.min_severity})
      .bind(4, static_cast<int64_t>(filter.limit))
      .bind(5, filter.after_id);
  if (filter.build) q.bind(3, *filter.build);
  std::vector<Alert> out;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) out.push_back(read_alert(q));
  if (rc != SQLITE_DONE) return error("read alerts", rc);
  for (auto& a : out)
    if (Status st = read_evidence(a); !st) return st.error();
  return out;
}

Result<AlertBacklog> SqliteStore::alert_backlog(int64_t after_id, int min_severity, uint64_t keep) {
  AlertBacklog out;
  {
    auto s = prepare("SELECT COUNT(*), MIN(raised_ns) FROM alerts WHERE id > ?1 AND severity >= ?2");
    if (!s) return s.error();
    Query q(*s);
    q.bind(1, after_id).bind(2, int64_t{min_severity});
    if (const int rc = q.step(); rc != SQLITE_ROW) return error("count alerts", rc);
    out.count = q.u64_at(0);
    out.oldest_raised_ns = out.count ? q.u64_at(1) : 0;
  }
  if (out.count <= keep) return out;
  out.skipped = out.count - keep;
  auto s = prepare("SELECT id FROM alerts WHERE id > ?1 AND severity >= ?2 ORDER BY id LIMIT 1 OFFSET ?3");
  if (!s) return s.error();
  Query q(*s);
  q.bind(1, after_id).bind(2, int64_t{min_severity}).bind(3, static_cast<int64_t>(out.skipped - 1));
  if (const int rc = q.step(); rc != SQLITE_ROW) return error("find where to skip to", rc);
  out.skip_through = q.i64_at(0);
  return out;
}

Result<std::optional<Alert>> SqliteStore::alert(int64_t id) {
  auto s = prepare(std::string("SELECT ") + kAlertColumns + " FROM alerts WHERE id = ?1");
  if (!s) return s.error();
  std::optional<Alert> out;
  {
    Query q(*s);
    q.bind(1, id);
    const int rc = q.step();
    if (rc == SQLITE_ROW)
      out = read_alert(q);
    else if (rc != SQLITE_DONE)
      return error("read alert", rc);
  }
  if (out)
    if (Status st = read_evidence(*out); !st) return st.error();
  return out;
}

Status SqliteStore::ack_alert(int64_t id, const std::string& note, uint64_t now_ns) {
  return transaction([&]() -> Status {
    auto s = prepare("UPDATE alerts SET acked_ns = ?2, ack_note = ?3 WHERE id = ?1 AND acked_ns = 0");
    if (!s) return s.error();
    {
      Query q(*s);
      q.bind(1, id).bind(2, now_ns).bind(3, note);
      if (Status st = run(q, "acknowledge alert"); !st) return st;
    }
    if (sqlite3_changes(db_) > 0) return Ok{};
    auto known = alert(id);
    if (!known) return known.error();
    if (!*known) return make_error(ErrorCode::kNotFound, "no alert " + std::to_string(id));
    return Ok{};
  });
}

Result<std::optional<int64_t>> SqliteStore::build_ref(const std::string& agent_id, const events::Build& build) {
  auto s = prepare("SELECT id FROM builds WHERE build_id = ?1 AND ci = ?2 AND agent_id = ?3");
  if (!s) return s.error();
  Query q(*s);
  q.bind(1, build.id).bind(2, build.ci).bind(3, agent_id);
  const int rc = q.step();
  if (rc == SQLITE_ROW) return std::optional<int64_t>(q.i64_at(0));
  if (rc == SQLITE_DONE) return std::optional<int64_t>();
  return error("find build", rc);
}

// A build record's events are one agent's: its chain order (epoch, seq,
// line) is the order the agent recorded them in.
Result<std::map<std::string, uint64_t>> SqliteStore::build_tally(int64_t build_ref, int64_t position, uint32_t line) {
  auto s = prepare(
      "SELECT e.kind, count(*) FROM batches here, events e JOIN batches b ON b.id = e.batch"
      " WHERE here.id = ?2 AND e.build = ?1 AND (b.epoch < here.epoch OR (b.epoch = here.epoch AND"
      " (b.seq < here.seq OR (b.seq = here.seq AND e.line <= ?3)))) GROUP BY e.kind");
  if (!s) return s.error();
  Query q(*s);
  q.bind(1, build_ref).bind(2, position).bind(3, int64_t{line});
  std::map<std::string, uint64_t> out;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW)
    out[std::string(events::kind_name(static_cast<events::Kind>(q.i64_at(0))))] = q.u64_at(1);
  if (rc != SQLITE_DONE) return error("count a build's events", rc);
  return out;
}

Result<int64_t> SqliteStore::add_suppression(const Suppression& x) {
  int64_t id = 0;
  Status st = transaction([&]() -> Status {
    auto s = prepare(
        "INSERT INTO suppressions(rule_id, ci, repository, job, exe, reason, created_ns, expires_ns)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    if (!s) return s.error();
    Query q(*s);
    q.bind(1, x.rule_id).bind(2, x.ci).bind(3, x.repository).bind(4, x.job).bind(5, x.exe).bind(6, x.reason);
    q.bind(7, x.created_ns).bind(8, x.expires_ns);
    if (Status r = run(q, "add suppression"); !r) return r;
    id = sqlite3_last_insert_rowid(db_);
    return Ok{};
  });
  if (!st) return st.error();
  return id;
}

Result<std::vector<Suppression>> SqliteStore::suppressions() {
  auto s = prepare(
      "SELECT id, rule_id, ci, repository, job, exe, reason, created_ns, expires_ns, hits, last_hit_ns"
      " FROM suppressions ORDER BY id");
  if (!s) return s.error();
  Query q(*s);
  std::vector<Suppression> out;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) {
    Suppression x;
    x.id = q.i64_at(0);
    x.rule_id = q.text_at(1);
    x.ci = q.text_at(2);
    x.repository = q.text_at(3);
    x.job = q.text_at(4);
    x.exe = q.text_at(5);
    x.reason = q.text_at(6);
    x.created_ns = q.u64_at(7);
    x.expires_ns = q.u64_at(8);
    x.hits = q.u64_at(9);
    x.last_hit_ns = q.u64_at(10);
    out.push_back(std::move(x));
  }
  if (rc != SQLITE_DONE) return error("read suppressions", rc);
  return out;
}

Status SqliteStore::remove_suppression(int64_t id) {
  return transaction([&]() -> Status {
    auto s = prepare("DELETE FROM suppressions WHERE id = ?1");
    if (!s) return s.error();
    Query q(*s);
    q.bind(1, id);
    if (Status r = run(q, "remove suppression"); !r) return r;
    if (sqlite3_changes(db_) == 0) return make_error(ErrorCode::kNotFound, "no suppression " + std::to_string(id));
    return Ok{};
  });
}

Status SqliteStore::count_suppressed(int64_t id, uint64_t hits, uint64_t now_ns) {
  return transaction([&]() -> Status {
    auto s = prepare("UPDATE suppressions SET hits = hits + ?2, last_hit_ns = ?3 WHERE id = ?1");
    if (!s) return s.error();
    Query q(*s);
    q.bind(1, id).bind(2, hits).bind(3, now_ns);
    return run(q, "count suppressed alerts");
  });
}

// One clean build into its key's baseline. The build row goes first: when
// it is there already (learned before a restart), nothing else changes.
Status SqliteStore::learn(const BaselineLesson& l) {
  auto key = prepare(
      "INSERT INTO baseline_keys(ci, repository, job, first_ns) VALUES (?1, ?2, ?3, ?4)"
      " ON CONFLICT(ci, repository, job) DO NOTHING");
  if (!key) return key.error();
  {
    Query q(*key);
    q.bind(1, l.key.ci).bind(2, l.key.repository).bind(3, l.key.job).bind(4, l.time_ns);
    if (Status st = run(q, "add baseline"); !st) return st;
  }
  auto id_s = prepare("SELECT id FROM baseline_keys WHERE ci = ?1 AND repository = ?2 AND job = ?3");
  if (!id_s) return id_s.error();
  int64_t id = 0;
  {
    Query q(*id_s);
    q.bind(1, l.key.ci).bind(2, l.key.repository).bind(3, l.key.job);
    if (q.step() != SQLITE_ROW) return error("find baseline", SQLITE_ERROR);
    id = q.i64_at(0);
  }
  auto b = prepare("INSERT OR IGNORE INTO baseline_builds(key_id, build, branch, time_ns) VALUES (?1, ?2, ?3, ?4)");
  if (!b) return b.error();
  int changes = 0;
  {
    Query q(*b);
    q.bind(1, id).bind(2, l.build).bind(3, l.branch).bind(4, l.time_ns);
    if (Status st = run(q, "add baseline build", &changes); !st) return st;
  }
  if (changes == 0) return Ok{};
  auto up = prepare("UPDATE baseline_keys SET builds = builds + 1, last_ns = max(last_ns, ?2) WHERE id = ?1");
  if (!up) return up.error();
  {
    Query q(*up);
    q.bind(1, id).bind(2, l.time_ns);
    if (Status st = run(q, "count baseline build"); !st) return st;
  }
  auto item = prepare(
      "INSERT INTO baseline_items(key_id, kind, value, first_ns, last_ns, builds) VALUES (?1, ?2, ?3, ?4, ?4, 1)"
      " ON CONFLICT(key_id, kind, value) DO UPDATE SET builds = builds + 1,"
      " first_ns = min(first_ns, excluded.first_ns), last_ns = max(last_ns, excluded.last_ns)");
  if (!item) return item.error();
  for (const auto& [kind, value] : l.items) {
    Query q(*item);
    q.bind(1, id).bind(2, kind).bind(3, value).bind(4, l.time_ns);
    if (Status st = run(q, "add baseline item"); !st) return st;
  }
  auto expire = prepare("DELETE FROM baseline_items WHERE key_id = ?1 AND last_ns < ?2");
  if (!expire) return expire.error();
  Query q(*expire);
  q.bind(1, id).bind(2, l.expire_before_ns);
  return run(q, "expire baseline items");
}

Result<std::vector<Baseline>> SqliteStore::baselines(const std::optional<BaselineKey>& key) {
  std::string sql = "SELECT id, ci, repository, job, builds, first_ns, last_ns FROM baseline_keys";
  if (key) sql += " WHERE ci = ?1 AND repository = ?2 AND job = ?3";
  sql += " ORDER BY ci, repository, job";
  auto s = prepare(sql);
  if (!s) return s.error();
  std::vector<std::pair<int64_t, Baseline>> found;
  {
    Query q(*s);
    if (key) q.bind(1, key->ci).bind(2, key->repository).bind(3, key->job);
    int rc;
    while ((rc = q.step()) == SQLITE_ROW) {
      Baseline b;
      b.key = {q.text_at(1), q.text_at(2), q.text_at(3)};
      b.builds = q.u64_at(4);
      b.first_ns = q.u64_at(5);
      b.last_ns = q.u64_at(6);
      found.emplace_back(q.i64_at(0), std::move(b));
    }
    if (rc != SQLITE_DONE) return error("read baselines", rc);
  }
  auto is = prepare(
      "SELECT kind, value, first_ns, last_ns, builds FROM baseline_items WHERE key_id = ?1 ORDER BY kind, value");
  if (!is) return is.error();
  std::vector<Baseline> out;
  for (auto& [id, b] : found) {
    Query q(*is);
    q.bind(1, id);
    int rc;
    while ((rc = q.step()) == SQLITE_ROW)
      b.items.push_back({q.text_at(0), q.text_at(1), q.u64_at(2), q.u64_at(3), q.u64_at(4)});
    if (rc != SQLITE_DONE) return error("read baseline items", rc);
    out.push_back(std::move(b));
  }
  return out;
}

Result<bool> SqliteStore::reset_baseline(const BaselineKey& key) {
  bool had = false;
  Status s = transaction([&]() -> Status {
    auto id_s = prepare("SELECT id FROM baseline_keys WHERE ci = ?1 AND repository = ?2 AND job = ?3");
    if (!id_s) return id_s.error();
    int64_t id = 0;
    {
      Query q(*id_s);
      q.bind(1, key.ci).bind(2, key.repository).bind(3, key.job);
      const int rc = q.step();
      if (rc == SQLITE_DONE) return Ok{};
      if (rc != SQLITE_ROW) return error("find baseline", rc);
      id = q.i64_at(0);
    }
    had = true;
    for (const char* sql :
         {"DELETE FROM baseline_items WHERE key_id = ?1", "DELETE FROM baseline_builds WHERE key_id = ?1",
          "DELETE FROM baseline_keys WHERE id = ?1"}) {
      auto d = prepare(sql);
      if (!d) return d.error();
      Query q(*d);
      q.bind(1, id);
      if (Status st = run(q, "reset baseline"); !st) return st;
    }
    return Ok{};
  });
  if (!s) return s.error();
  return had;
}

// ---- API tokens -------------------------------------------------------------------
// The read API's bearer tokens (schema 6, kApiTokensTable). The store only
// keeps and returns rows: making a token, hashing it and comparing hashes
// is collector/api/token.cpp's.

namespace {

constexpr const char* kApiTokenColumns = "id, name, role, sha256, created_ns, last_used_ns, revoked_ns";

ApiToken read_api_token(const Query& q) {
  ApiToken t;
  t.id = q.text_at(0);
  t.name = q.text_at(1);
  t.role = parse_api_role(q.text_at(2)).value_or(ApiRole::kViewer);  // the CHECK allows no other
  t.hash = q.bytes_at<std::tuple_size_v<crypto::Digest>>(3);
  t.created_ns = q.u64_at(4);
  t.last_used_ns = q.u64_at(5);
  t.revoked_ns = q.u64_at(6);
  return t;
}
}  // namespace

Status SqliteStore::add_api_token(const ApiToken& t) {
  if (t.id.empty() || t.name.empty())
    return make_error(ErrorCode::kInvalidArgument, "an API token needs an id and a name");
  return transaction([&]() -> Status {
    auto s = prepare(
        "INSERT INTO api_tokens(id, name, role, sha256, created_ns, last_used_ns, revoked_ns)"
        " VALUES (?1, ?2, ?3, ?4, ?5, 0, 0)");
    if (!s) return s.error();
    Query q(*s);
    q.bind(1, t.id).bind(2, t.name).bind(3, std::string_view(api_role_name(t.role)));
    q.bind_blob(4, t.hash).bind(5, t.created_ns);
    const int rc = q.step();
    if ((rc & 0xff) == SQLITE_CONSTRAINT)
      return make_error(ErrorCode::kConflict, "an API token named '" + t.name + "' exists (revoke it first)");
    if (rc != SQLITE_DONE) return error("add API token", rc);
    return Ok{};
  });
}

Result<std::optional<ApiToken>> SqliteStore::api_token(const std::string& id) {
  auto s = prepare(std::string("SELECT ") + kApiTokenColumns + " FROM api_tokens WHERE id = ?1");
  if (!s) return s.error();
  Query q(*s);
  q.bind(1, id);
  const int rc = q.step();
  if (rc == SQLITE_ROW) return std::optional(read_api_token(q));
  if (rc == SQLITE_DONE) return std::optional<ApiToken>();
  return error("read API token", rc);
}

Result<std::vector<ApiToken>> SqliteStore::api_tokens() {
  auto s = prepare(std::string("SELECT ") + kApiTokenColumns + " FROM api_tokens ORDER BY created_ns, id");
  if (!s) return s.error();
  Query q(*s);
  std::vector<ApiToken> out;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) out.push_back(read_api_token(q));
  if (rc != SQLITE_DONE) return error("read API tokens", rc);
  return out;
}

Result<ApiToken> SqliteStore::revoke_api_token(const std::string& name_or_id, uint64_t now_ns) {
  ApiToken revoked;
  Status st = transaction([&]() -> Status {
    // By id or by name; should an operator have named a token after
    // another's id, the token with that id is the one meant.
    auto find = prepare(std::string("SELECT ") + kApiTokenColumns +
                        " FROM api_tokens WHERE revoked_ns = 0 AND (id = ?1 OR name = ?1) ORDER BY id = ?1 DESC"
                        " LIMIT 1");
    if (!find) return find.error();
    {
      Query q(*find);
      q.bind(1, name_or_id);
      const int rc = q.step();
      if (rc == SQLITE_DONE)
        return make_error(ErrorCode::kNotFound, "no API token named '" + name_or_id + "' or with that id, not revoked");
      if (rc != SQLITE_ROW) return error("find API token", rc);
      revoked = read_api_token(q);
    }
    auto up = prepare("UPDATE api_tokens SET revoked_ns = ?2 WHERE id = ?1");
    if (!up) return up.error();
    Query q(*up);
    revoked.revoked_ns = std::max<uint64_t>(now_ns, 1);
    q.bind(1, revoked.id).bind(2, revoked.revoked_ns);
    return run(q, "revoke API token");
  });
  if (!st) return st.error();
  return revoked;
}

// Outside any transaction of the caller: one UPDATE, its own commit.
Status SqliteStore::touch_api_token(const std::string& id, uint64_t now_ns) {
  if (read_only_) return make_error(ErrorCode::kInvalidArgument, "store " + path_ + " is open read-only");
  auto s = prepare("UPDATE api_tokens SET last_used_ns = MAX(last_used_ns, ?2) WHERE id = ?1");
  if (!s) return s.error();
  Query q(*s);
  q.bind(1, id).bind(2, now_ns);
  return run(q, "record API token use");
}
// ---- end of API tokens ------------------------------------------------------------

}  // namespace bt::collector::store::sqlite

namespace bt::collector::store {

Result<std::unique_ptr<Store>> open_sqlite(const std::string& data_dir, const Options& options) {
  // Memory statistics take a global mutex on every allocation; nothing here
  // reads them. Only possible before SQLite initialises (once per process).
  static const bool configured = [] {
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    return true;
  }();
  (void)configured;
  const std::string path = data_dir + "/buildtrail.db";
  if (options.read_only) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return make_error(ErrorCode::kNotFound, "no store at " + path);
  } else {
    Status s = fs::make_dirs(data_dir, 0750);
    if (!s) return s.error();
  }
  sqlite3* db = nullptr;
  const int flags =
      (options.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) | SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    return make_error(sqlite::code_for(rc), "store " + path + ": open: " + msg);
  }
  auto store = std::make_unique<sqlite::SqliteStore>(db, path, options.read_only);
  Status s = store->init(options);
  if (!s) return s.error();
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace bt::collector::store

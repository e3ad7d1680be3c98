// The SQLite store's class and the pieces its files share. The store is
// one class (store::Store over one connection) whose methods live in one
// file per concern: sqlite_store.cpp (schema, ingest, agents, detection,
// tokens), migrate_v7.cpp (the upgrade to schema 7), build_reads.cpp and
// index_reads.cpp (the read API's questions). Included only by them.
#pragma once

#include <sqlite3.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "collector/store/store.h"

namespace bt::collector::store::sqlite {

// SQLite integers are signed: a value >= 2^63 cast to int64_t would be
// stored negative, sort before every other and fail every `>=` (issue
// 17/12: far-future events vanished from every time query). Unsigned
// values are therefore stored saturated at 2^63-1, never negative; where
// the exact value matters it is in the signed batch (an event's claimed
// time) or refused before (a seq).
inline int64_t i64(uint64_t v) { return v > uint64_t{INT64_MAX} ? INT64_MAX : static_cast<int64_t>(v); }

// Kind names are [a-z0-9_] from events.def; quoted all the same.
std::string kind_column(std::size_t kind_index);
// Position of a kind in events::kKinds, or -1.
int kind_index(events::Kind kind);
// `column NOT IN (3, 4)`: the term that lets the planner use the partial
// kind index (the bulk kinds process_exec and process_exit are left out).
std::string kind_index_term(const char* column);
ErrorCode code_for(int rc);
// A SHA-256 in hex (64 digits) as its bytes, as events.exe_sha256 keeps it.
bool sha256_bytes(std::string_view hex, std::array<uint8_t, 32>& out);
// The whole schema, every statement IF NOT EXISTS (sqlite_store.cpp).
std::string schema_sql();
// A finding's kind by its stored name; false for a name this collector
// does not know (a newer one's).
bool parse_finding_kind(std::string_view name, FindingKind* out);

// The columns read_finding() reads, in its order.
inline constexpr const char* kFindingColumns =
    "id, agent_id, kind, seq_from, seq_to, time_from_ns, time_to_ns, recorded_ns, detail,"
    " epoch, resolved_ns, updated_ns, note";
// The columns read_event_ref() reads from `e` (events) and `b` (its batch).
inline constexpr const char* kEventRefColumns =
    "e.id, b.agent_id, b.seq, b.archive_path, e.line, e.time_ns, e.claimed_ns IS NOT NULL";

// build_values.field: the fields of ValueField, 1..kValueFields.
constexpr std::size_t kValueFields = 5;

// A cached statement in use: binds by position, steps, and resets itself
// when it goes out of scope so the statement can be reused.
class Query {
 public:
  explicit Query(sqlite3_stmt* stmt) : s_(stmt) {}
  ~Query() {
    if (s_) sqlite3_reset(s_);
  }
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;

  // Text and blob bindings are SQLITE_STATIC: the caller keeps the value
  // alive until the statement is stepped (and reset).
  Query& bind(int i, int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  Query& bind(int i, uint64_t v) { return bind(i, i64(v)); }
  Query& bind(int i, std::string_view v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    return *this;
  }
  // Empty text is stored as NULL (keeps partial indexes small).
  Query& bind_or_null(int i, std::string_view v) {
    if (v.empty()) {
      sqlite3_bind_null(s_, i);
      return *this;
    }
    return bind(i, v);
  }
  Query& bind_null(int i) {
    sqlite3_bind_null(s_, i);
    return *this;
  }
  Query& bind_blob(int i, std::span<const uint8_t> v) {
    sqlite3_bind_blob(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    return *this;
  }
  int step() { return sqlite3_step(s_); }

  int64_t i64_at(int col) const { return sqlite3_column_int64(s_, col); }
  bool is_null(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
  uint64_t u64_at(int col) const { return static_cast<uint64_t>(sqlite3_column_int64(s_, col)); }
  std::string text_at(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, col));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s_, col))) : std::string();
  }
  template <std::size_t N>
  std::array<uint8_t, N> bytes_at(int col) const {
    std::array<uint8_t, N> out{};
    const void* p = sqlite3_column_blob(s_, col);
    if (p && static_cast<std::size_t>(sqlite3_column_bytes(s_, col)) == N) std::memcpy(out.data(), p, N);
    return out;
  }

 private:
  sqlite3_stmt* s_;
};

struct ValueAgg {
  uint64_t events = 0, first_ns = 0, last_ns = 0;
};

// A place in an agent's chain: (epoch, seq) compared in that order.
struct ChainPlace {
  uint64_t epoch = 0, seq = 0;
  bool operator<(const ChainPlace& o) const { return epoch < o.epoch || (epoch == o.epoch && seq < o.seq); }
};

// What one commit adds to one build; written with one UPDATE (and one
// upsert per distinct value) at the end of the commit.
struct BuildAgg {
  int64_t row = 0;
  const events::Build* first = nullptr;  // identity fields as first seen in this commit
  uint64_t first_ns = 0, last_ns = 0;
  uint64_t start_ns = 0;
  bool ended = false;
  uint64_t end_ns = 0;
  int64_t exit_code = 0;
  uint64_t total = 0;
  std::array<uint64_t, events::kKinds.size()> counts{};
  // Distinct values per ValueField (index field - 1); the views point into
  // the committed records, but DNS names, kept transformed (dns_value), in
  // dns_values.
  std::array<std::unordered_map<std::string_view, ValueAgg>, kValueFields> values;
  std::unordered_map<std::string, ValueAgg> dns_values;
  // Schema 7: the mode of its first build_start in this commit, build_starts
  // unmonitored, events lost, and the batches its events are in.
  std::string_view mode{};
  uint64_t mode_ns = 0;
  uint64_t unmonitored = 0, lost = 0;
  ChainPlace first_batch{}, last_batch{};
  bool has_batch = false;

  void add_event(const EventRow& ev, ChainPlace batch);
  void add_value(ValueField field, std::string_view value, uint64_t time_ns);
};

// What one commit changes of one agent's row.
struct AgentAgg {
  const std::string* id = nullptr;
  bool has_tip = false;
  uint64_t epoch = 0, seq = 0;
  const crypto::Digest* hash = nullptr;
  uint64_t last_seen_ns = 0;
  uint64_t findings = 0;
  // Schema 7: events its loss events say were dropped, and the mode of its
  // latest agent_start in this commit (by chain place).
  uint64_t lost = 0;
  std::string_view mode{};
  ChainPlace mode_at{};

  // The tip only moves forward within a commit, as in the UPDATE.
  void add_batch(const BatchRecord& rec);
};

class SqliteStore final : public Store {
 public:
  SqliteStore(sqlite3* db, std::string path, bool read_only) : db_(db), path_(std::move(path)), read_only_(read_only) {}
  ~SqliteStore() override {
    for (auto& [sql, stmt] : stmts_) sqlite3_finalize(stmt);
    sqlite3_close_v2(db_);
  }

  Status init(const Options& options);

  Result<std::optional<Agent>> agent(const std::string& id) override;
  Result<std::vector<Agent>> agents() override;
  Status add_agent(const Agent& agent) override;
  Status enroll(const Agent& agent, const std::string& token, uint64_t now_ns) override;
  Result<std::vector<std::string>> revoke_agent(const std::string& id) override;
  Status add_token(const Token& token) override;
  Status use_token(const std::string& secret, uint64_t now_ns) override;
  Result<uint64_t> agents_revision() override;

  Status commit(const std::vector<BatchRecord>& batches) override;
  Status record_finding(const Finding& finding) override;
  Result<std::optional<batch::Stored>> batch_link(const std::string& agent_id, uint64_t epoch, uint64_t seq) override;
  Result<bool> has_batch(const crypto::Digest& hash) override;
  Status for_each_batch(const std::function<bool(const StoredBatch&)>& on_batch) override;

  Result<std::vector<BuildRow>> builds(const BuildFilter& filter) override;
  Result<std::optional<BuildRow>> build(int64_t ref) override;
  Status events(const EventFilter& filter, const std::function<bool(const EventRef&)>& on_ref) override;
  Result<std::vector<Finding>> findings(const std::string& agent_id) override;
  Result<Stats> stats() override;

  Result<int64_t> cursor(const std::string& name) override;
  Result<std::vector<CommittedBatch>> batches_after(int64_t position, std::size_t limit) override;
  Result<EventBacklog> event_backlog(int64_t after_position, uint64_t keep) override;
  Result<std::vector<Finding>> findings_after(int64_t after, std::size_t limit) override;
  Result<std::vector<bool>> commit_detection(const std::vector<Alert>& alerts,
                                             const std::vector<std::pair<std::string, int64_t>>& cursors,
                                             const std::vector<BaselineLesson>& lessons) override;
  Result<std::vector<Alert>> alerts(const AlertFilter& filter) override;
  Result<std::optional<Alert>> alert(int64_t id) override;
  Result<AlertBacklog> alert_backlog(int64_t after_id, int min_severity, uint64_t keep) override;
  Status ack_alert(int64_t id, const std::string& note, uint64_t now_ns) override;
  Result<std::optional<int64_t>> build_ref(const std::string& agent_id, const events::Build& build) override;
  Result<std::map<std::string, uint64_t>> build_tally(int64_t build_ref, int64_t position, uint32_t line) override;
  Result<int64_t> add_suppression(const Suppression& s) override;
  Result<std::vector<Suppression>> suppressions() override;
  Status remove_suppression(int64_t id) override;
  Status count_suppressed(int64_t id, uint64_t hits, uint64_t now_ns) override;
  Result<std::vector<Baseline>> baselines(const std::optional<BaselineKey>& key) override;
  Result<bool> reset_baseline(const BaselineKey& key) override;

  // ---- API tokens (the last section of this file) ----
  Status add_api_token(const ApiToken& token) override;
  Result<std::optional<ApiToken>> api_token(const std::string& id) override;
  Result<std::vector<ApiToken>> api_tokens() override;
  Result<ApiToken> revoke_api_token(const std::string& name_or_id, uint64_t now_ns) override;
  Status touch_api_token(const std::string& id, uint64_t now_ns) override;

  // ---- the read API's questions (build_reads.cpp, index_reads.cpp) ----
  Result<std::vector<BuildRow>> build_page(const BuildQuery& query) override;
  Result<std::vector<Finding>> build_findings(const BuildRow& build) override;
  Status index_rows(const IndexQuery& query, const std::function<bool(const IndexRow&)>& on_row) override;
  Status build_values(ValueField field, std::string_view lo, std::string_view hi,
                      const std::function<bool(const BuildValue&)>& on_value) override;
  Status process_rows(int64_t build, const std::function<void(const ProcessRow&)>& on_row) override;
  Result<std::vector<EventRef>> event_refs(const std::vector<int64_t>& rows) override;

 private:
  Error error(const std::string& what, int rc) const;
  Status exec(const char* sql, const char* what);
  // The cached statement for `sql`, prepared on first use.
  Result<sqlite3_stmt*> prepare(const std::string& sql) {
    auto it = stmts_.find(sql);
    if (it != stmts_.end()) return it->second;
    sqlite3_stmt* stmt = nullptr;
    const int rc =
        sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) return error("prepare", rc);
    stmts_.emplace(sql, stmt);
    return stmt;
  }
  // Runs a statement that returns no rows; `changes` receives the rows changed.
  Status run(Query& q, const char* what, int* changes = nullptr) {
    const int rc = q.step();
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) return error(what, rc);
    if (changes) *changes = sqlite3_changes(db_);
    return Ok{};
  }
  Status begin() {
    auto s = prepare("BEGIN IMMEDIATE");
    if (!s) return s.error();
    Query q(*s);
    return run(q, "begin");
  }
  Status commit_tx() {
    auto s = prepare("COMMIT");
    if (!s) return s.error();
    Query q(*s);
    return run(q, "commit");
  }
  void rollback() {
    if (!sqlite3_get_autocommit(db_)) (void)exec("ROLLBACK", "rollback");
  }
  Status bump_agents_rev() {
    auto s = prepare("UPDATE meta SET value = value + 1 WHERE key = 'agents_rev'");
    if (!s) return s.error();
    Query q(*s);
    return run(q, "bump agents_rev");
  }
  // Runs `body` inside BEGIN IMMEDIATE .. COMMIT; rolls back on any error.
  template <class F>
  Status transaction(F&& body) {
    if (read_only_) return make_error(ErrorCode::kInvalidArgument, "store " + path_ + " is open read-only");
    Status s = begin();
    if (!s) return s;
    s = body();
    if (s) s = commit_tx();
    if (!s) rollback();
    return s;
  }

  std::string build_columns() const;
  BuildRow read_build(const Query& q) const;
  Status find_collisions(BuildRow& row);
  Agent read_agent(const Query& q) const;
  Status check_readable();
  Status set_pragmas();
  Result<int64_t> stored_schema_version();
  Status create_or_upgrade_schema();
  Status migrate_1_to_2();
  Status resolve_filled_gaps();
  Status migrate_2_to_3();
  Status migrate_3_to_4();
  Status migrate_4_to_5();
  Status migrate_5_to_6();
  Status migrate_6_to_7();  // migrate_v7.cpp
  Status add_columns_v7();
  Status backfill_v7();
  Status has_column(const char* table, const char* column, bool* has);
  Status learn(const BaselineLesson& lesson);
  Status rebuild_builds_table();
  Status split_shared_builds(std::set<int64_t>& touched);
  Status reindex_future_times(std::set<int64_t>& touched);
  struct StoredRange {
    int64_t batch = 0;
    std::string agent_id;
    uint64_t epoch = 0, seq = 0, received_ns = 0;
    int64_t first_event = 0, last_event = 0;
  };
  Status reindex_batch_times(const StoredRange& b, std::set<int64_t>& touched);
  Status recount_build(int64_t build);
  Status check_schema_version();
  Status find_kind_columns();
  Finding read_finding(const Query& q) const;
  // An event's reference from kEventRefColumns at column `at` on.
  static EventRef read_event_ref(const Query& q, int at);
  Status add_collisions(std::vector<BuildRow>& rows);
  Result<bool> insert_alert(const Alert& a);
  Status read_evidence(Alert& a);
  Status add_kind_columns();

  // Agents; each runs inside a transaction of its caller.
  struct Enrolled {
    crypto::PublicKey public_key{};
    bool revoked = false;
  };
  Result<std::optional<Enrolled>> enrolled(const std::string& id);
  Result<std::optional<std::string>> key_revoked_as(const crypto::PublicKey& key);
  Status refresh_inventory(const Agent& agent);
  Status insert_agent(const Agent& agent);
  Result<bool> token_valid(const std::string& secret, uint64_t now_ns);
  Status spend_token(const std::string& secret, uint64_t now_ns);

  Result<int64_t> build_row(const events::Build& b, const std::string& agent_id, bool* created);
  Status commit_locked(const std::vector<BatchRecord>& batches);
  Result<int64_t> next_event_id();
  Status commit_batch(const BatchRecord& rec, int64_t* next_event, std::vector<AgentAgg>& agents);
  Result<int64_t> insert_batch(const BatchRecord& rec, int64_t first_event);
  Status insert_events(const BatchRecord& rec, int64_t batch_row, int64_t* next_event);
  Result<BuildAgg*> build_agg(const events::Build& build, const std::string& agent_id);
  Status insert_findings(const BatchRecord& rec, int64_t batch_row, std::vector<AgentAgg>& agents);
  Result<bool> add_batch_finding(const std::string& agent_id, uint64_t epoch, uint64_t seq, int64_t batch_row,
                                 const Finding& f, uint64_t recorded_ns);
  Result<bool> extend_clock_finding(const std::string& agent_id, uint64_t epoch, uint64_t seq, const Finding& f,
                                    uint64_t now_ns);
  struct OpenGap {
    int64_t id = 0;
    uint64_t from = 0, to = 0, time_from = 0, time_to = 0;
  };
  Result<std::optional<OpenGap>> open_gap_at(const std::string& agent_id, uint64_t epoch, uint64_t seq);
  Status update_gap(const OpenGap& gap, uint64_t resolved_ns, uint64_t now_ns, const std::string& note);
  Result<int> fill_gap(const std::string& agent_id, uint64_t epoch, uint64_t seq, std::pair<uint64_t, uint64_t> times,
                       uint64_t now_ns);
  Status update_agents(const std::vector<AgentAgg>& agents);
  Status update_builds();
  Status update_build_values(const BuildAgg& agg);
  Status add_to_counters(uint64_t events, uint64_t batches);

  sqlite3* db_;
  std::string path_;
  bool read_only_;
  std::unordered_map<std::string, sqlite3_stmt*> stmts_;
  // Kind count columns present in builds (a read-only reader may face a
  // database written before a kind was added).
  std::array<bool, events::kKinds.size()> kind_column_{};
  std::string update_build_sql_;
  // (agent, ci, id) -> builds.id for builds this connection has seen committed.
  std::unordered_map<std::string, int64_t> build_ids_;
  // Per-commit scratch, kept to reuse its memory.
  std::unordered_map<std::string, std::size_t> commit_builds_;
  std::vector<BuildAgg> aggs_;
  std::vector<std::pair<std::string, int64_t>> created_builds_;
  std::string key_;
};

}  // namespace bt::collector::store::sqlite

// The collector's storage interface. Each backend is a folder beside this
// file that implements it: the embedded default is SQLite (sqlite/); a fleet
// backend (PostgreSQL) is another folder, not a rewrite of the callers.
//
// Event *content* lives in the signed batches of the archive (archive/);
// the store keeps the facts needed to find and filter events (time, kind,
// build, process, exe, destination, secret path) plus the position of each
// event in its batch. Every answer can therefore be re-verified against the
// bytes the agent signed.
//
// Thread-safety: a Store is used by one thread at a time; the collector
// opens one for its ingest writer and one per reader (tools, HTTP threads).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/batch/chain.h"
#include "common/crypto/keys.h"
#include "common/events/event.h"
#include "common/result.h"

namespace bt::collector::store {

// ---- agents, keys, enrollment -------------------------------------------------

struct Inventory {
  std::string hostname, os, kernel, agent_version, ci;
};

struct Agent {
  std::string id;
  crypto::PublicKey public_key{};
  // Revocation applies to the key: true when this id was revoked or its
  // key was revoked under any id.
  bool revoked = false;
  uint64_t enrolled_ns = 0;
  Inventory inventory;
  // Chain state (the tip of the current epoch).
  uint64_t epoch = 0;  // bumped on every chain restart
  uint64_t last_seq = 0;
  crypto::Digest last_hash{};
  uint64_t last_seen_ns = 0;
  uint64_t findings = 0;       // integrity findings recorded for this agent
  uint64_t open_findings = 0;  // of which not resolved
  // Schema 7: the mode of its last agent_start (run, daemon; empty before
  // one arrived under schema 7) and the events its loss events say it dropped.
  std::string mode;
  uint64_t lost = 0;
};

struct Token {
  std::string secret;  // shown once, stored only as a SHA-256
  uint64_t expires_ns = 0;
  uint32_t uses = 1;  // how many enrollments it allows
};

// ---- ingest ------------------------------------------------------------------

// Event times after the collector's clock plus this are out of range: such
// an event is indexed at its batch's receive time and flagged (EventRow::
// claimed_ns, a `clock` finding). ingest::Config's default; the migration
// to schema 3 applies it to the events already stored.
inline constexpr uint64_t kDefaultMaxClockSkewNs = 300ull * 1000000000;

// What ingest keeps of one event: the filterable facts and its place in the
// batch (0-based line number).
struct EventRow {
  uint32_t line = 0;
  // Where the event sorts: its own time, or its batch's receive time when
  // its own is out of range (then `claimed_ns` holds its own).
  uint64_t time_ns = 0;
  std::optional<uint64_t> claimed_ns;
  events::Kind kind{};
  // Shared by the consecutive rows of one build (most of a batch): one
  // copy of its eight strings per batch, not per event. Null: no build.
  std::shared_ptr<const events::Build> build;
  uint64_t pid = 0;
  uint64_t ppid = 0;
  std::string process_key;
  std::string exe;
  std::string destination;  // net_connect: daddr:port, dns_query: name, upload: destination
  std::string secret_path;  // secret_access: path
  int64_t exit_code = 0;    // build_end / process_exit
  uint64_t loss_total = 0;  // loss: sum of counts
  // Schema 7 (the read API, collector/api/):
  std::string parent_key;  // process_exec, process_exit: the parent's process key (the process tree)
  std::string exe_sha256;  // process_exec: 64 lowercase hex digits, or empty
  std::string dns_name;    // net_connect: dns_name, dns_query: name, secret_access: dest_name
  std::string mode;        // build_start, agent_start: their mode
};

// kClock: events claimed times beyond the collector's clock (indexed at
// receipt). kOversized: a batch's events had identity fields over their bounds
// (common/bounds.h); the batch is stored whole, its index rows hold the
// values cut.
enum class FindingKind { kGap, kFork, kReplay, kRestart, kLoss, kRejected, kClock, kOversized };
const char* finding_kind_name(FindingKind kind);

// Findings follow the truth: a gap finding's seq range is what is still
// missing; a late batch narrows it, splits it in two, or resolves it.
struct Finding {
  int64_t id = 0;
  std::string agent_id;
  FindingKind kind{};
  uint64_t epoch = 0;                 // chain epoch; a batch's findings take the batch's
  uint64_t seq_from = 0, seq_to = 0;  // seq range concerned (for an open gap: still missing)
  uint64_t time_from_ns = 0, time_to_ns = 0;
  uint64_t recorded_ns = 0;
  uint64_t updated_ns = 0;   // last change since it was recorded, 0 if none
  uint64_t resolved_ns = 0;  // when it stopped being true, 0 while open
  std::string detail;        // as recorded
  std::string note;          // the last change, one line
};

// One verified batch ready to commit. The chain link was decided by the
// single ingest writer, so classification and commit cannot race.
struct BatchRecord {
  std::string agent_id;
  uint64_t epoch = 0;
  batch::Header header;
  crypto::Digest hash{};
  std::string archive_path;  // relative to the data folder
  uint64_t received_ns = 0;
  uint64_t size_bytes = 0;
  std::vector<EventRow> events;
  // gap/restart/loss/clock findings this batch reveals. A clock finding
  // extends the agent's clock finding of the batch just before it (same
  // epoch, seq - 1) instead of adding one, so a clock that is off makes one
  // finding per run of batches, not one per batch.
  std::vector<Finding> findings;
  // Fills a hole below the tip: the open gap finding of its epoch that
  // covers its seq is narrowed or resolved in the same commit.
  bool late = false;
};

// A stored batch as `verify --data` walks them.
struct StoredBatch {
  std::string agent_id;
  uint64_t epoch = 0, seq = 0;
  crypto::Digest hash{}, prev_hash{};
  std::string archive_path;
};

// ---- reading -----------------------------------------------------------------

// Another build record with the same CI identity (ci, build id), which
// another agent recorded.
struct BuildLink {
  int64_t ref = 0;
  std::string agent_id;
};

// How complete the trail of a build record is, best first; a record is
// as bad as the worst that applies (docs/collector-api.md "Integrity").
// kLoss: its agent reported dropped events during it; kGap: batches of its
// agent's chain are missing where its events are (or may be); kUnmonitored:
// it ran without capture (build_start mode unmonitored).
enum class Integrity { kVerified, kLoss, kGap, kUnmonitored };
const char* integrity_name(Integrity integrity);

// A build is what one agent observed: the record of one (agent, ci, CI
// build id). The same CI ids from two agents are two records, each naming
// the other in `collides_with`.
struct BuildRow {
  int64_t id = 0;  // the record's reference (`builds` REF, `query --build`)
  std::string agent_id;
  std::string host;  // the agent's host name as it enrolled, empty if it reported none
  events::Build build;
  uint64_t first_ns = 0, last_ns = 0;
  uint64_t start_ns = 0, end_ns = 0;  // from build_start / build_end, 0 if not seen
  bool ended = false;
  int64_t exit_code = 0;
  events::Counts counts;  // events per kind
  std::vector<BuildLink> collides_with;
  uint64_t alerts = 0;  // alerts whose evidence is in this record
  // Schema 7 (stores upgraded from 6 keep "" and 0 for builds stored before,
  // but lost and the span, which the upgrade computes):
  std::string mode;          // of its first build_start
  uint64_t unmonitored = 0;  // build_starts in mode unmonitored
  uint64_t lost = 0;         // events its loss events say were dropped
  // Its first and last stored batch in its agent's chain; 0 when none.
  uint64_t first_epoch = 0, first_seq = 0, last_epoch = 0, last_seq = 0;
  Integrity integrity = Integrity::kVerified;
};

struct BuildFilter {
  std::string job;          // exact match when non-empty
  std::string ci_build_id;  // exact match on the CI's build id when non-empty
  uint64_t since_ns = 0;    // builds seen at or after
  bool open_only = false;   // only builds with no build_end yet
  std::size_t limit = 1000;
};

// Where to find one stored event: its batch in the archive and its line.
struct EventRef {
  int64_t row = 0;  // the index row (events.id); with time_ns a stable place in time order
  std::string agent_id;
  uint64_t seq = 0;
  std::string archive_path;
  uint32_t line = 0;
  uint64_t time_ns = 0;            // where it sorts (EventRow::time_ns)
  bool time_out_of_range = false;  // then time_ns is its batch's receive time, not its own
};

struct EventFilter {
  std::optional<int64_t> build;  // a build record (builds.id)
  std::string build_id;          // or every record of this CI build id (Build::id), from any agent
  std::optional<events::Kind> kind;
  uint64_t since_ns = 0;
  std::string exe, destination, secret_path;  // exact matches when non-empty
};

struct Stats {
  uint64_t agents = 0, batches = 0, events = 0, builds = 0, findings = 0;
  uint64_t db_bytes = 0;
};

// ---- the read API's questions (collector/api/) --------------------------------

// A page of build records, the newest record first: by id, which never
// changes, so a cursor (`before`) neither repeats nor skips a record.
struct BuildQuery {
  std::string ci, repository, job, branch;  // exact matches when non-empty
  enum class Outcome { kAny, kRunning, kPassed, kFailed };
  Outcome outcome = Outcome::kAny;
  uint64_t since_ns = 0;           // its last event at or after
  uint64_t until_ns = UINT64_MAX;  // its first event at or before
  std::optional<bool> has_alerts;
  std::optional<bool> incomplete;  // integrity other than verified
  std::vector<int64_t> ids;        // only these records, when non-empty
  int64_t before = 0;              // ids below this one; 0: from the newest
  std::size_t limit = 100;
};

// What the store indexed of one event (its EventRow), with its place.
struct IndexRow {
  EventRef ref;
  events::Kind kind{};
  uint64_t pid = 0, ppid = 0;
  std::string process_key, parent_key, exe, exe_sha256, destination, dns_name, secret_path;
  int64_t exit_code = 0;
  uint64_t loss_total = 0;
};

// A build record's index rows in time order (time_ns, then row), after a
// cursor. Matches are exact; dns_name compares in ASCII lower case.
struct IndexQuery {
  int64_t build = 0;
  std::vector<events::Kind> kinds;  // any kind when empty
  uint64_t since_ns = 0, until_ns = UINT64_MAX;
  uint64_t after_time_ns = 0;  // rows after (after_time_ns, after_row); both 0: from the first
  int64_t after_row = 0;
  std::string exe, exe_sha256, dns_name;
  std::size_t limit = 0;  // 0: all
};

// A process_exec or process_exit index row, as the process tree needs it:
// no place in the archive (event_refs() gives that for the rows shown).
struct ProcessRow {
  int64_t row = 0;  // events.id
  uint64_t time_ns = 0;
  events::Kind kind{};
  uint64_t pid = 0, ppid = 0;
  std::string key, parent_key, exe, exe_sha256;
  int64_t exit_code = 0;
};

// The fields whose distinct values are kept per build record (the table
// build_values); the numbers are stored.
enum class ValueField { kExe = 1, kDestination = 2, kSecretPath = 3, kExeSha256 = 4, kDnsName = 5 };

// One distinct value of a build record: how many of its events had it, first
// and last when.
struct BuildValue {
  int64_t build = 0;
  std::string value;
  uint64_t events = 0, first_ns = 0, last_ns = 0;
};

// How DNS names are kept in build_values: labels in reverse order, ASCII
// lower case ("Evil.Attacker.example" -> "example.attacker.evil"), so
// every name under a domain is one index range ("example.attacker.").
std::string dns_value(std::string_view name);
// And back (the lower-case name).
std::string dns_name_of(std::string_view value);

// ---- detection ---------------------------------------------------------------

// Where a stored event is, as an alert cites it: its batch (agent, seq) and
// its line. The signed batch in the archive stays the evidence.
struct Evidence {
  std::string agent_id;
  uint64_t seq = 0;
  uint32_t line = 0;
  bool operator==(const Evidence&) const = default;
};

// Severities in rising order (Sigma's levels).
inline constexpr const char* kSeverities[] = {"informational", "low", "medium", "high", "critical"};
// 0..4, or -1 for a name that is none of them.
int severity_rank(std::string_view severity);

// A rule matched (or an integrity check failed). (rule_id, key) is unique:
// raising the same alert twice stores it once.
struct Alert {
  int64_t id = 0;
  std::string rule_id, title, severity;
  std::vector<std::string> tags;  // ATT&CK and others, as the rule gives them (attack.t1003.007)
  std::string agent_id;
  std::optional<int64_t> build_ref;  // the build record of the evidence, when it had one
  uint64_t time_ns = 0;              // time of the last event that matched
  uint64_t raised_ns = 0;
  std::string detail;  // one line: what matched
  std::string key;     // what makes this alert one (the rule's own dedup key)
  std::vector<Evidence> evidence;
  uint64_t acked_ns = 0;
  std::string ack_note;
};

// An operator's "this is known": alerts of `rule_id` whose event matches
// the scope (each non-empty field equal: the build's CI system, repository
// and job, the process's executable) are not raised until `expires_ns`.
// Alerts with no event (integrity findings, open builds) match only a
// suppression with an empty scope.
struct Suppression {
  int64_t id = 0;
  std::string rule_id;
  std::string ci, repository, job, exe;
  std::string reason;
  uint64_t created_ns = 0, expires_ns = 0;
  uint64_t hits = 0, last_hit_ns = 0;  // alerts it kept from being raised
};

// A stored batch in commit order, as the detector walks them.
struct CommittedBatch {
  int64_t position = 0;  // increases with every commit; a late batch comes after those before it
  std::string agent_id;
  uint64_t seq = 0;
  std::string archive_path;
  uint64_t received_ns = 0;
};

struct AlertFilter {
  uint64_t since_ns = 0;  // raised at or after
  int min_severity = 0;   // severity_rank
  std::optional<int64_t> build;
  bool open_only = false;  // not acknowledged
  int64_t after_id = 0;    // ids above this one only: a reader's cursor (results are in id order)
  std::size_t limit = 1000;
};

// How far a reader of events (an output's batch cursor) is behind, in
// stored batches and their events; and, when that is more than `keep`
// events, the position to skip through so that at most `keep` remain.
struct EventBacklog {
  uint64_t batches = 0, events = 0;
  uint64_t oldest_received_ns = 0;  // of the first batch after the cursor (0: none)
  uint64_t skipped = 0;             // events in the batches up to skip_through
  int64_t skip_through = 0;
};

// How far a reader of alerts (an output's cursor) is behind.
struct AlertBacklog {
  uint64_t count = 0;             // alerts after the cursor at or above the severity
  int64_t skip_through = 0;       // the last of the oldest to skip so that at most `keep` are left; 0: none to skip
  uint64_t skipped = 0;           // how many that skips
  uint64_t oldest_raised_ns = 0;  // raise time of the first alert after the cursor (0: none)
};

// ---- per-job baselines (collector/detect/baseline/) ---------------------------

// What a baseline is kept for: one job of one repository in one CI system.
struct BaselineKey {
  std::string ci, repository, job;
  bool operator==(const BaselineKey&) const = default;
  auto operator<=>(const BaselineKey&) const = default;
};

// One thing a job was seen doing: `kind` names the item kind (dns, domain,
// destination, exe, product, edge, credential, metadata, upload), `value` the item.
struct BaselineItem {
  std::string kind, value;
  uint64_t first_ns = 0, last_ns = 0;
  uint64_t builds = 0;  // clean builds it appeared in
};

struct Baseline {
  BaselineKey key;
  uint64_t builds = 0;  // clean builds of protected branches learned from
  uint64_t first_ns = 0, last_ns = 0;
  std::vector<BaselineItem> items;
};

// One clean build of a protected branch, to be learned from. Learning it
// twice (the same `build`, e.g. after a restart) changes nothing.
struct BaselineLesson {
  BaselineKey key;
  std::string build;  // agent id + CI system + CI build id: what makes it one build
  std::string branch;
  uint64_t time_ns = 0;                                    // the build's end
  std::vector<std::pair<std::string, std::string>> items;  // (kind, value), distinct
  uint64_t expire_before_ns = 0;                           // items of the key last seen before this are dropped
};

// ---- API tokens (collector/api/) ----------------------------------------------

// What a read API token may do: a viewer reads, an admin also changes
// (issue 21). Stored by name.
enum class ApiRole { kViewer, kAdmin };
const char* api_role_name(ApiRole role);
std::optional<ApiRole> parse_api_role(std::string_view name);

// A bearer token of the read API (`tokens create`). The token itself is
// shown once and never stored: `hash` is its SHA-256 (collector/api/token.h
// says why a fast hash is right for it). `id` is the public part of the
// token, by which it is looked up.
struct ApiToken {
  std::string id;
  std::string name;  // the operator's; unique among tokens not revoked
  ApiRole role = ApiRole::kViewer;
  crypto::Digest hash{};
  uint64_t created_ns = 0;
  uint64_t last_used_ns = 0;  // 0: never; updated at most once a minute
  uint64_t revoked_ns = 0;    // 0: valid
};

class Store {
 public:
  virtual ~Store() = default;

  // Agents and enrollment.
  virtual Result<std::optional<Agent>> agent(const std::string& id) = 0;
  virtual Result<std::vector<Agent>> agents() = 0;
  // Adds an agent, or returns kConflict if the id exists with another key
  // and kForbidden if its key is revoked.
  virtual Status add_agent(const Agent& agent) = 0;
  // POST /v1/enroll in one transaction. The same id with the same key,
  // not revoked, is refreshed without a token. Anything else first needs a
  // valid token (kNotFound otherwise), so a caller without one learns
  // nothing of who is enrolled; then kForbidden for a revoked id or key,
  // kConflict for an id enrolled with another key. The token use is spent
  // only when the agent is added.
  virtual Status enroll(const Agent& agent, const std::string& token, uint64_t now_ns) = 0;
  // Revokes the id and its key: every id holding the key is revoked, and
  // the key can never be enrolled or added again. Returns those ids.
  virtual Result<std::vector<std::string>> revoke_agent(const std::string& id) = 0;
  virtual Status add_token(const Token& token) = 0;
  // Atomically checks and spends one use of a token; kNotFound when the
  // token is unknown, expired or used up.
  virtual Status use_token(const std::string& secret, uint64_t now_ns) = 0;
  // A counter that changes whenever agents or keys change (any process).
  virtual Result<uint64_t> agents_revision() = 0;

  // Ingest. Commits all records in one transaction, durably, or none.
  virtual Status commit(const std::vector<BatchRecord>& batches) = 0;
  // Integrity findings found outside a batch commit (fork, rejected).
  virtual Status record_finding(const Finding& finding) = 0;
  // The stored batch of an epoch at `seq`, for chain checks.
  virtual Result<std::optional<batch::Stored>> batch_link(const std::string& agent_id, uint64_t epoch,
                                                          uint64_t seq) = 0;
  // Whether this very batch is stored, in any epoch.
  virtual Result<bool> has_batch(const crypto::Digest& hash) = 0;
  // Every stored batch in (agent, epoch, seq) order; stops when `on_batch`
  // returns false.
  virtual Status for_each_batch(const std::function<bool(const StoredBatch&)>& on_batch) = 0;

  // Reading.
  virtual Result<std::vector<BuildRow>> builds(const BuildFilter& filter) = 0;
  // The build record `ref` (BuildRow::id); nothing else is looked up.
  virtual Result<std::optional<BuildRow>> build(int64_t ref) = 0;
  // Calls `on_ref` for matching events in time order; stops early if it
  // returns false.
  virtual Status events(const EventFilter& filter, const std::function<bool(const EventRef&)>& on_ref) = 0;
  virtual Result<std::vector<Finding>> findings(const std::string& agent_id) = 0;
  virtual Result<Stats> stats() = 0;

  // The read API (collector/api/). Builds with their integrity.
  virtual Result<std::vector<BuildRow>> build_page(const BuildQuery& query) = 0;
  // The findings of the build's agent behind its integrity: gaps open in
  // (or next to) its span of the chain, losses reported during it.
  virtual Result<std::vector<Finding>> build_findings(const BuildRow& build) = 0;
  // Calls `on_row` for the build's index rows matching `query`; stops when
  // it returns false.
  virtual Status index_rows(const IndexQuery& query, const std::function<bool(const IndexRow&)>& on_row) = 0;
  // The build's process_exec and process_exit rows, in time order.
  virtual Status process_rows(int64_t build, const std::function<void(const ProcessRow&)>& on_row) = 0;
  // Where these index rows (events.id) are: their references, in the
  // order given; a row that does not exist is left out.
  virtual Result<std::vector<EventRef>> event_refs(const std::vector<int64_t>& rows) = 0;
  // build_values rows of `field` with lo <= value < hi (hi empty: no upper
  // bound), in (value, build) order; stops when `on_value` returns false.
  virtual Status build_values(ValueField field, std::string_view lo, std::string_view hi,
                              const std::function<bool(const BuildValue&)>& on_value) = 0;

  // Detection. A detector's cursors are named positions (0 when unset).
  virtual Result<int64_t> cursor(const std::string& name) = 0;
  // Up to `limit` batches committed after `position`, in commit order.
  virtual Result<std::vector<CommittedBatch>> batches_after(int64_t position, std::size_t limit) = 0;
  virtual Result<EventBacklog> event_backlog(int64_t after_position, uint64_t keep) = 0;
  // Findings recorded after id `after`, in id order.
  virtual Result<std::vector<Finding>> findings_after(int64_t after, std::size_t limit) = 0;
  // Adds the alerts and moves the cursors in one transaction, so a
  // detector killed at any point resumes where its last commit left it:
  // no alert lost, none raised twice. An alert whose (rule_id, key) is
  // stored already is not added again. Returns, for each alert, whether
  // it was added.
  // `lessons` (per-job baselines) are learned in the same transaction, so a
  // build is learned exactly once with the step that saw its end.
  virtual Result<std::vector<bool>> commit_detection(const std::vector<Alert>& alerts,
                                                     const std::vector<std::pair<std::string, int64_t>>& cursors,
                                                     const std::vector<BaselineLesson>& lessons = {}) = 0;
  virtual Result<std::vector<Alert>> alerts(const AlertFilter& filter) = 0;
  virtual Result<std::optional<Alert>> alert(int64_t id) = 0;
  // The alerts after `after_id` at or above `min_severity` (a rank), and
  // where to skip to so that no more than `keep` are left.
  virtual Result<AlertBacklog> alert_backlog(int64_t after_id, int min_severity, uint64_t keep) = 0;
  // kNotFound for an unknown id; acknowledging twice keeps the first.
  virtual Status ack_alert(int64_t id, const std::string& note, uint64_t now_ns) = 0;
  // Suppressions, every one (expired too: listed until removed).
  virtual Result<int64_t> add_suppression(const Suppression& s) = 0;
  virtual Result<std::vector<Suppression>> suppressions() = 0;
  // kNotFound for an unknown id.
  virtual Status remove_suppression(int64_t id) = 0;
  virtual Status count_suppressed(int64_t id, uint64_t hits, uint64_t now_ns) = 0;
  // The build record an agent's events of `build` are stored under.
  virtual Result<std::optional<int64_t>> build_ref(const std::string& agent_id, const events::Build& build) = 0;
  // How many events of each kind (events::kind_name) a build record holds
  // up to one place in its agent's chain: line `line` of the batch at
  // `position` (CommittedBatch::position) and everything before it in the
  // chain, whenever it arrived. What that place's build_end accounts for.
  virtual Result<std::map<std::string, uint64_t>> build_tally(int64_t build_ref, int64_t position, uint32_t line) = 0;

  // Per-job baselines, with their items; only `key`'s when given.
  virtual Result<std::vector<Baseline>> baselines(const std::optional<BaselineKey>& key) = 0;
  // Forgets what a job's baseline learned (its builds and items): it
  // learns again from its next clean builds. Returns whether there was one.
  virtual Result<bool> reset_baseline(const BaselineKey& key) = 0;

  // ---- API tokens (collector/api/) ----
  // kConflict when the id is taken or a token not revoked has the name.
  virtual Status add_api_token(const ApiToken& token) = 0;
  virtual Result<std::optional<ApiToken>> api_token(const std::string& id) = 0;
  // Every token, revoked ones too, in creation order.
  virtual Result<std::vector<ApiToken>> api_tokens() = 0;
  // Revokes the token with this id, or the one not revoked with this name;
  // returns it. kNotFound when there is none (or it is revoked already).
  virtual Result<ApiToken> revoke_api_token(const std::string& name_or_id, uint64_t now_ns) = 0;
  virtual Status touch_api_token(const std::string& id, uint64_t now_ns) = 0;
};

struct Options {
  bool read_only = false;
  int busy_timeout_ms = 5000;
};

// The backends' constructors. Opens (creating if needed) the SQLite store at
// DIR/buildtrail.db (sqlite/sqlite_store.cpp).
Result<std::unique_ptr<Store>> open_sqlite(const std::string& data_dir, const Options& options = {});

}  // namespace bt::collector::store

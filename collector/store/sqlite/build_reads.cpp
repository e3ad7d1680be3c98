// Build records: the listings of `builds`, `query` and the detector
// (builds, build) and the read API's pages of them with their integrity
// (build_page, build_findings); docs/collector-api.md "Integrity".
#include <algorithm>

#include "collector/store/sqlite/sqlite_store.h"

namespace bt::collector::store::sqlite {

namespace {

std::string kind_id(events::Kind k) { return std::to_string(static_cast<int>(k)); }

// An open gap of the record's agent, in the epoch and seq span of the
// record's batches, or right after its last one while it has no build_end
// (its end may be in the missing batches), or right before its first one
// while it has no build_start. Served by findings_open_gaps.
std::string gap_sql() {
  return "EXISTS (SELECT 1 FROM findings f WHERE f.agent_id = builds.agent_id AND f.kind = 'gap'"
         " AND f.resolved_ns = 0 AND builds.first_seq > 0"
         " AND (f.epoch, f.seq_to) >= (builds.first_epoch, builds.first_seq - (builds.start_ns = 0))"
         " AND (f.epoch, f.seq_from) <= (builds.last_epoch, builds.last_seq + (builds.ended = 0)))";
}

// Events dropped during the record: those its agent attributed to it
// (builds.lost), or a loss its agent reported outside any build while the
// record ran (a full ring buffer drops events of every build on the host).
// Served by the kind index.
std::string loss_sql() {
  return "(builds.lost > 0 OR EXISTS (SELECT 1 FROM events e JOIN batches b ON b.id = e.batch WHERE e.kind = " +
         kind_id(events::Kind::loss) + " AND " + kind_index_term("e.kind") +
         " AND e.time_ns >= builds.first_ns AND (builds.ended = 0 OR e.time_ns <= builds.last_ns)"
         " AND e.build IS NULL AND b.agent_id = builds.agent_id))";
}

// Integrity as its number (store::Integrity), the worst that applies.
std::string integrity_sql() {
  return "CASE WHEN builds.unmonitored > 0 THEN " + std::to_string(static_cast<int>(Integrity::kUnmonitored)) +
         " WHEN " + gap_sql() + " THEN " + std::to_string(static_cast<int>(Integrity::kGap)) + " WHEN " + loss_sql() +
         " THEN " + std::to_string(static_cast<int>(Integrity::kLoss)) + " ELSE " +
         std::to_string(static_cast<int>(Integrity::kVerified)) + " END";
}

std::string json_ids(const std::vector<int64_t>& ids) {
  std::string out = "[";
  for (std::size_t i = 0; i < ids.size(); ++i) out += (i ? "," : "") + std::to_string(ids[i]);
  return out + "]";
}

}  // namespace

// The host is the one the agent enrolled with (the same name its events
// carry in `host`); an agent added by `agents add` reported none.
std::string SqliteStore::build_columns() const {
  std::string cols =
      "id, ci, build_id, job, number, url, repository, commit_id, runner, first_ns, last_ns,"
      " start_ns, end_ns, ended, exit_code";
  for (std::size_t i = 0; i < events::kKinds.size(); ++i)
    cols += kind_column_[i] ? ", " + kind_column(i) : std::string(", 0");
  return cols +
         ", agent_id, COALESCE((SELECT hostname FROM agents a WHERE a.id = builds.agent_id), ''),"
         " (SELECT COUNT(*) FROM alerts WHERE alerts.build = builds.id),"
         " branch, mode, unmonitored, lost, first_epoch, first_seq, last_epoch, last_seq, " +
         integrity_sql();
}

BuildRow SqliteStore::read_build(const Query& q) const {
  BuildRow r;
  r.id = q.i64_at(0);
  r.build = events::Build{q.text_at(1), q.text_at(3), q.text_at(2), q.text_at(4),
                          q.text_at(5), q.text_at(6), q.text_at(7), q.text_at(8)};
  const int after_counts = static_cast<int>(15 + events::kKinds.size());
  r.build.branch = q.text_at(after_counts + 3);
  r.first_ns = q.u64_at(9);
  r.last_ns = q.u64_at(10);
  r.start_ns = q.u64_at(11);
  r.end_ns = q.u64_at(12);
  r.ended = q.i64_at(13) != 0;
  r.exit_code = q.i64_at(14);
  for (std::size_t i = 0; i < events::kKinds.size(); ++i) {
    const uint64_t n = q.u64_at(static_cast<int>(15 + i));
    if (n) r.counts.emplace_back(std::string(events::kKinds[i].name), n);
  }
  r.agent_id = q.text_at(after_counts);
  r.host = q.text_at(after_counts + 1);
  r.alerts = q.u64_at(after_counts + 2);
  r.mode = q.text_at(after_counts + 4);
  r.unmonitored = q.u64_at(after_counts + 5);
  r.lost = q.u64_at(after_counts + 6);
  r.first_epoch = q.u64_at(after_counts + 7);
  r.first_seq = q.u64_at(after_counts + 8);
  r.last_epoch = q.u64_at(after_counts + 9);
  r.last_seq = q.u64_at(after_counts + 10);
  const int64_t integrity = q.i64_at(after_counts + 11);
  r.integrity = integrity >= 0 && integrity <= static_cast<int64_t>(Integrity::kUnmonitored)
                    ? static_cast<Integrity>(integrity)
                    : Integrity::kVerified;
  return r;
}

// The other agents' records of the same CI build: one lookup on the
// prefix (build_id, ci) of the builds' UNIQUE index.
Status SqliteStore::find_collisions(BuildRow& row) {
  auto s = prepare("SELECT id, agent_id FROM builds WHERE build_id = ?1 AND ci = ?2 AND id <> ?3 ORDER BY id");
  if (!s) return s.error();
  Query q(*s);
  q.bind(1, row.build.id).bind(2, row.build.ci).bind(3, row.id);
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) row.collides_with.push_back(BuildLink{q.i64_at(0), q.text_at(1)});
  if (rc != SQLITE_DONE) return error("read colliding builds", rc);
  return Ok{};
}

Status SqliteStore::add_collisions(std::vector<BuildRow>& rows) {
  for (BuildRow& row : rows)
    if (Status st = find_collisions(row); !st) return st;
  return Ok{};
}

Result<std::vector<BuildRow>> SqliteStore::builds(const BuildFilter& filter) {
  std::string sql = "SELECT " + build_columns() + " FROM builds WHERE last_ns >= ?1";
  if (!filter.job.empty()) sql += " AND job = ?2";
  if (!filter.ci_build_id.empty()) sql += " AND build_id = ?4";
  if (filter.open_only) sql += " AND ended = 0";
  sql += " ORDER BY first_ns DESC, id DESC LIMIT ?3";
  auto s = prepare(sql);
  if (!s) return s.error();
  std::vector<BuildRow> out;
  {
    Query q(*s);
    q.bind(1, filter.since_ns);
    if (!filter.job.empty()) q.bind(2, filter.job);
    q.bind(3, static_cast<int64_t>(std::min<std::size_t>(filter.limit, INT64_MAX)));
    if (!filter.ci_build_id.empty()) q.bind(4, filter.ci_build_id);
    int rc;
    while ((rc = q.step()) == SQLITE_ROW) out.push_back(read_build(q));
    if (rc != SQLITE_DONE) return error("list builds", rc);
  }
  if (Status st = add_collisions(out); !st) return st.error();
  return out;
}

// Only the record reference: a CI build id is never taken for one (issue
// 17/11); `builds` with BuildFilter::ci_build_id finds records by CI id.
Result<std::optional<BuildRow>> SqliteStore::build(int64_t ref) {
  auto s = prepare("SELECT " + build_columns() + " FROM builds WHERE id = ?1");
  if (!s) return s.error();
  std::optional<BuildRow> row;
  {
    Query q(*s);
    q.bind(1, ref);
    const int rc = q.step();
    if (rc == SQLITE_ROW) row = read_build(q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return error("read build", rc);
  }
  if (row)
    if (Status st = find_collisions(*row); !st) return st.error();
  return row;
}

// Assembled from fixed fragments; every value is bound.
Result<std::vector<BuildRow>> SqliteStore::build_page(const BuildQuery& query) {
  std::string sql = "SELECT " + build_columns() + " FROM builds WHERE id < ?1 AND last_ns >= ?2 AND first_ns <= ?3";
  if (!query.ci.empty()) sql += " AND ci = ?4";
  if (!query.repository.empty()) sql += " AND repository = ?5";
  if (!query.job.empty()) sql += " AND job = ?6";
  if (!query.branch.empty()) sql += " AND branch = ?7";
  if (!query.ids.empty()) sql += " AND id IN (SELECT value FROM json_each(?8))";
  switch (query.outcome) {
    case BuildQuery::Outcome::kAny:
      break;
    case BuildQuery::Outcome::kRunning:
      sql += " AND ended = 0";
      break;
    case BuildQuery::Outcome::kPassed:
      sql += " AND ended = 1 AND exit_code = 0";
      break;
    case BuildQuery::Outcome::kFailed:
      sql += " AND ended = 1 AND exit_code <> 0";
      break;
  }
  if (query.has_alerts)
    sql += std::string(*query.has_alerts ? " AND" : " AND NOT") +
           " EXISTS (SELECT 1 FROM alerts WHERE alerts.build = builds.id)";
  if (query.incomplete) sql += std::string(" AND (") + integrity_sql() + (*query.incomplete ? ") <> 0" : ") = 0");
  sql += " ORDER BY id DESC LIMIT ?9";
  auto s = prepare(sql);
  if (!s) return s.error();
  const std::string ids = json_ids(query.ids);
  std::vector<BuildRow> out;
  {
    Query q(*s);
    q.bind(1, query.before > 0 ? query.before : INT64_MAX).bind(2, query.since_ns).bind(3, query.until_ns);
    if (!query.ci.empty()) q.bind(4, query.ci);
    if (!query.repository.empty()) q.bind(5, query.repository);
    if (!query.job.empty()) q.bind(6, query.job);
    if (!query.branch.empty()) q.bind(7, query.branch);
    if (!query.ids.empty()) q.bind(8, ids);
    q.bind(9, static_cast<int64_t>(std::min<std::size_t>(query.limit, INT64_MAX)));
    int rc;
    while ((rc = q.step()) == SQLITE_ROW) out.push_back(read_build(q));
    if (rc != SQLITE_DONE) return error("list builds", rc);
  }
  if (Status st = add_collisions(out); !st) return st.error();
  return out;
}

// The same conditions as gap_sql(), and the agent's loss findings during
// the record, for the record's integrity to be explained.
Result<std::vector<Finding>> SqliteStore::build_findings(const BuildRow& build) {
  std::vector<Finding> out;
  if (build.first_seq == 0) return out;
  auto s = prepare(std::string("SELECT ") + kFindingColumns +
                   " FROM findings WHERE agent_id = ?1 AND ((kind = 'gap' AND resolved_ns = 0"
                   " AND (epoch, seq_to) >= (?2, ?3) AND (epoch, seq_from) <= (?4, ?5))"
                   " OR (kind = 'loss' AND time_to_ns >= ?6 AND time_from_ns <= ?7)) ORDER BY id LIMIT 1000");
  if (!s) return s.error();
  Query q(*s);
  q.bind(1, build.agent_id).bind(2, build.first_epoch).bind(3, build.first_seq - (build.start_ns == 0 ? 1 : 0));
  q.bind(4, build.last_epoch).bind(5, build.last_seq + (build.ended ? 0 : 1));
  q.bind(6, build.first_ns).bind(7, build.ended ? build.last_ns : uint64_t{INT64_MAX});
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) {
    Finding f = read_finding(q);
    parse_finding_kind(q.text_at(2), &f.kind);  // gap or loss, as selected
    out.push_back(std::move(f));
  }
  if (rc != SQLITE_DONE) return error("read a build's findings", rc);
  return out;
}

}  // namespace bt::collector::store::sqlite

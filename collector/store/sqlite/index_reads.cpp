// A build record's index rows and the distinct values of its fields, for
// the read API (collector/api/): pages of its events, its process tree,
// its egress, and the search across builds.
#include <algorithm>

#include "collector/store/sqlite/sqlite_store.h"

namespace bt::collector::store::sqlite {

namespace {

bool bulk_kind(events::Kind k) { return k == events::Kind::process_exec || k == events::Kind::process_exit; }

// Assembled from fixed fragments and kind ids; every value is bound.
// events_build (build, time_ns) serves the order and the time bounds; a
// kind list without the bulk kinds may use the kind index instead.
std::string index_rows_sql(const IndexQuery& query) {
  std::string sql =
      std::string("SELECT ") + kEventRefColumns +
      ", e.kind, e.pid, e.ppid, e.process_key, e.parent_key, e.exe, e.exe_sha256, e.destination, e.dns_name,"
      " e.secret_path, e.exit_code, e.loss_total FROM events e JOIN batches b ON b.id = e.batch"
      " WHERE e.build = ?1 AND e.time_ns >= ?2 AND e.time_ns <= ?3 AND e.time_ns >= ?4"
      " AND (e.time_ns, e.id) > (?4, ?5)";  // the first term on ?4 starts the index range at the cursor
  if (!query.kinds.empty()) {
    std::string list;
    for (events::Kind k : query.kinds) list += (list.empty() ? "" : ", ") + std::to_string(static_cast<int>(k));
    sql += " AND e.kind IN (" + list + ")";
    if (std::none_of(query.kinds.begin(), query.kinds.end(), bulk_kind)) sql += " AND " + kind_index_term("e.kind");
  }
  if (!query.exe.empty()) sql += " AND e.exe = ?6";
  if (!query.exe_sha256.empty()) sql += " AND e.exe_sha256 = ?7";
  if (!query.dns_name.empty()) sql += " AND lower(e.dns_name) = ?8";
  sql += " ORDER BY e.time_ns, e.id";
  if (query.limit) sql += " LIMIT ?9";
  return sql;
}

}  // namespace

Status SqliteStore::index_rows(const IndexQuery& query, const std::function<bool(const IndexRow&)>& on_row) {
  std::array<uint8_t, 32> digest{};
  if (!query.exe_sha256.empty() && !sha256_bytes(query.exe_sha256, digest)) return Ok{};  // matches no row
  auto s = prepare(index_rows_sql(query));
  if (!s) return s.error();
  Query q(*s);
  q.bind(1, query.build).bind(2, query.since_ns).bind(3, query.until_ns);
  q.bind(4, query.after_time_ns).bind(5, query.after_row);
  if (!query.exe.empty()) q.bind(6, query.exe);
  if (!query.exe_sha256.empty()) q.bind_blob(7, digest);
  if (!query.dns_name.empty()) q.bind(8, query.dns_name);
  if (query.limit) q.bind(9, static_cast<int64_t>(std::min<std::size_t>(query.limit, INT64_MAX)));
  IndexRow r;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) {
    r.ref = read_event_ref(q, 0);
    r.kind = static_cast<events::Kind>(q.i64_at(7));
    r.pid = q.u64_at(8);
    r.ppid = q.u64_at(9);
    r.process_key = q.text_at(10);
    r.parent_key = q.text_at(11);
    r.exe = q.text_at(12);
    const auto sha = q.bytes_at<32>(13);
    r.exe_sha256 = q.is_null(13) ? std::string() : crypto::to_hex(sha);
    r.destination = q.text_at(14);
    r.dns_name = q.text_at(15);
    r.secret_path = q.text_at(16);
    r.exit_code = q.i64_at(17);
    r.loss_total = q.u64_at(18);
    if (!on_row(r)) return Ok{};
  }
  if (rc != SQLITE_DONE) return error("read a build's events", rc);
  return Ok{};
}

// Served by events_build; no join: a tree of a 50,000-event build reads its
// ~50,000 rows here on every cold request.
Status SqliteStore::process_rows(int64_t build, const std::function<void(const ProcessRow&)>& on_row) {
  auto s = prepare(
      "SELECT id, time_ns, kind, pid, ppid, process_key, parent_key, exe, exe_sha256, exit_code FROM events"
      " WHERE build = ?1 AND time_ns >= 0 AND kind IN (" +
      std::to_string(static_cast<int>(events::Kind::process_exec)) + ", " +
      std::to_string(static_cast<int>(events::Kind::process_exit)) + ") ORDER BY time_ns, id");
  if (!s) return s.error();
  Query q(*s);
  q.bind(1, build);
  ProcessRow r;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) {
    r.row = q.i64_at(0);
    r.time_ns = q.u64_at(1);
    r.kind = static_cast<events::Kind>(q.i64_at(2));
    r.pid = q.u64_at(3);
    r.ppid = q.u64_at(4);
    r.key = q.text_at(5);
    r.parent_key = q.text_at(6);
    r.exe = q.text_at(7);
    r.exe_sha256 = q.is_null(8) ? std::string() : crypto::to_hex(q.bytes_at<32>(8));
    r.exit_code = q.i64_at(9);
    on_row(r);
  }
  if (rc != SQLITE_DONE) return error("read a build's processes", rc);
  return Ok{};
}

Result<std::vector<EventRef>> SqliteStore::event_refs(const std::vector<int64_t>& rows) {
  std::string list = "[";
  for (std::size_t i = 0; i < rows.size(); ++i) list += (i ? "," : "") + std::to_string(rows[i]);
  list += "]";
  auto s = prepare(std::string("SELECT ") + kEventRefColumns +
                   " FROM json_each(?1) j JOIN events e ON e.id = j.value JOIN batches b ON b.id = e.batch"
                   " ORDER BY j.key");
  if (!s) return s.error();
  Query q(*s);
  q.bind(1, list);
  std::vector<EventRef> out;
  out.reserve(rows.size());
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) out.push_back(read_event_ref(q, 0));
  if (rc != SQLITE_DONE) return error("find events", rc);
  return out;
}

// The primary key (field, value, build) serves the range.
Status SqliteStore::build_values(ValueField field, std::string_view lo, std::string_view hi,
                                 const std::function<bool(const BuildValue&)>& on_value) {
  auto s = prepare(hi.empty() ? "SELECT build, value, events, first_ns, last_ns FROM build_values"
                                " WHERE field = ?1 AND value >= ?2 ORDER BY value, build"
                              : "SELECT build, value, events, first_ns, last_ns FROM build_values"
                                " WHERE field = ?1 AND value >= ?2 AND value < ?3 ORDER BY value, build");
  if (!s) return s.error();
  Query q(*s);
  q.bind(1, static_cast<int64_t>(field)).bind(2, lo);
  if (!hi.empty()) q.bind(3, hi);
  BuildValue v;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) {
    v.build = q.i64_at(0);
    v.value = q.text_at(1);
    v.events = q.u64_at(2);
    v.first_ns = q.u64_at(3);
    v.last_ns = q.u64_at(4);
    if (!on_value(v)) return Ok{};
  }
  if (rc != SQLITE_DONE) return error("read build values", rc);
  return Ok{};
}

}  // namespace bt::collector::store::sqlite

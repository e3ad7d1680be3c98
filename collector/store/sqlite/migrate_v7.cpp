// Version 6 -> 7 (issue 21, the read API): the columns its questions need.
// Builds get their branch, the mode of their first build_start, their
// unmonitored starts, the events their loss events report and their span
// of the agent's chain (first and last batch); events their parent key,
// exe digest and DNS name; agents the mode of their last agent_start and
// the events they reported lost. What the index of a version 6 store
// holds is filled in: losses, spans, and the DNS names of dns_query events
// (their destination). The rest is in the signed batches only, which the
// store does not read: builds and events stored before keep "" (branch,
// mode, parent key, exe digest, a connection's DNS name) and 0
// (unmonitored) -- docs/collector-store.md "Migration from version 6".
#include <algorithm>

#include "collector/store/sqlite/sqlite_store.h"

namespace bt::collector::store::sqlite {

namespace {

struct NewColumn {
  const char* table;
  const char* column;
  const char* definition;
};

// Also in the CREATE TABLEs of kSchema: a store that an older migration
// step made from those has them already.
constexpr NewColumn kColumnsV7[] = {
    {"builds", "branch", "TEXT NOT NULL DEFAULT ''"},
    {"builds", "mode", "TEXT NOT NULL DEFAULT ''"},
    {"builds", "unmonitored", "INTEGER NOT NULL DEFAULT 0"},
    {"builds", "lost", "INTEGER NOT NULL DEFAULT 0"},
    {"builds", "first_epoch", "INTEGER NOT NULL DEFAULT 0"},
    {"builds", "first_seq", "INTEGER NOT NULL DEFAULT 0"},
    {"builds", "last_epoch", "INTEGER NOT NULL DEFAULT 0"},
    {"builds", "last_seq", "INTEGER NOT NULL DEFAULT 0"},
    {"events", "parent_key", "TEXT"},
    {"events", "exe_sha256", "BLOB"},
    {"events", "dns_name", "TEXT"},
    {"agents", "mode", "TEXT NOT NULL DEFAULT ''"},
    {"agents", "lost", "INTEGER NOT NULL DEFAULT 0"},
};

std::string kind_id(events::Kind k) { return std::to_string(static_cast<int>(k)); }

}  // namespace

Status SqliteStore::has_column(const char* table, const char* column, bool* has) {
  auto s = prepare("SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2");
  if (!s) return s.error();
  Query q(*s);
  q.bind(1, std::string_view(table)).bind(2, std::string_view(column));
  const int rc = q.step();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return error("read columns", rc);
  *has = rc == SQLITE_ROW;
  return Ok{};
}

Status SqliteStore::add_columns_v7() {
  for (const NewColumn& c : kColumnsV7) {
    bool has = false;
    if (Status s = has_column(c.table, c.column, &has); !s) return s;
    if (has) continue;
    const std::string sql = std::string("ALTER TABLE ") + c.table + " ADD COLUMN " + c.column + " " + c.definition;
    if (Status s = exec(sql.c_str(), "migrate to schema 7"); !s) return s;
  }
  return Ok{};
}

// One pass over the build rows of `events` (for the spans), the rest
// through the kind index (loss and dns_query events are few).
Status SqliteStore::backfill_v7() {
  const std::string loss = kind_id(events::Kind::loss);
  const std::string dns = kind_id(events::Kind::dns_query);
  const std::string statements[] = {
      "UPDATE builds SET lost = COALESCE((SELECT SUM(loss_total) FROM events WHERE build = builds.id AND kind = " +
          loss + " AND " + kind_index_term("kind") + "), 0)",
      "UPDATE agents SET lost = COALESCE((SELECT SUM(e.loss_total) FROM events e JOIN batches b ON b.id = e.batch"
      " WHERE b.agent_id = agents.id AND e.kind = " +
          loss + " AND " + kind_index_term("e.kind") + "), 0)",
      "UPDATE events SET dns_name = destination WHERE kind = " + dns + " AND " + kind_index_term("kind"),
      "CREATE TEMP TABLE v7_spans AS SELECT DISTINCT e.build AS build, b.epoch AS epoch, b.seq AS seq"
      " FROM events e JOIN batches b ON b.id = e.batch WHERE e.build IS NOT NULL",
      "CREATE INDEX temp.v7_spans_build ON v7_spans(build, epoch, seq)",
      "UPDATE builds SET"
      " (first_epoch, first_seq) = (SELECT epoch, seq FROM v7_spans s WHERE s.build = builds.id"
      " ORDER BY epoch, seq LIMIT 1),"
      " (last_epoch, last_seq) = (SELECT epoch, seq FROM v7_spans s WHERE s.build = builds.id"
      " ORDER BY epoch DESC, seq DESC LIMIT 1)"
      " WHERE id IN (SELECT build FROM v7_spans)",
      "DROP TABLE temp.v7_spans",
  };
  for (const std::string& sql : statements)
    if (Status s = exec(sql.c_str(), "migrate to schema 7"); !s) return s;
  // The DNS names of each build (build_values field 5), from its dns_query
  // events: kept transformed (dns_value), which SQL cannot do.
  auto sel = prepare("SELECT build, destination, COUNT(*), MIN(time_ns), MAX(time_ns) FROM events WHERE kind = " + dns +
                     " AND " + kind_index_term("kind") +
                     " AND build IS NOT NULL AND destination IS NOT NULL GROUP BY build, destination");
  if (!sel) return sel.error();
  auto up = prepare(
      "INSERT INTO build_values(field, value, build, events, first_ns, last_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
      " ON CONFLICT(field, value, build) DO UPDATE SET events = events + excluded.events,"
      " first_ns = MIN(first_ns, excluded.first_ns), last_ns = MAX(last_ns, excluded.last_ns)");
  if (!up) return up.error();
  Query q(*sel);
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) {
    const std::string value = dns_value(q.text_at(1));
    Query u(*up);
    u.bind(1, static_cast<int64_t>(ValueField::kDnsName)).bind(2, value).bind(3, q.i64_at(0));
    u.bind(4, q.i64_at(2)).bind(5, q.i64_at(3)).bind(6, q.i64_at(4));
    if (Status s = run(u, "migrate DNS names"); !s) return s;
  }
  if (rc != SQLITE_DONE) return error("migrate DNS names", rc);
  return Ok{};
}

Status SqliteStore::migrate_6_to_7() {
  Status s = add_columns_v7();
  if (s) s = exec(schema_sql().c_str(), "migrate to schema 7");
  if (s) s = backfill_v7();
  if (s) s = exec("UPDATE meta SET value = 7 WHERE key = 'schema_version'", "migrate to schema 7");
  return s;
}

}  // namespace bt::collector::store::sqlite

#include "collector/api/builds.h"

#include <charconv>
#include <tuple>

#include "collector/api/cursor.h"

namespace bt::collector::api {

namespace {

const char* status_of(const store::BuildRow& b) {
  if (!b.ended) return "running";
  return b.exit_code == 0 ? "passed" : "failed";
}

Result<store::BuildQuery::Outcome> outcome_of(std::string_view status) {
  using O = store::BuildQuery::Outcome;
  if (status == "running") return O::kRunning;
  if (status == "passed") return O::kPassed;
  if (status == "failed") return O::kFailed;
  return make_error(ErrorCode::kInvalidArgument,
                    "status is running, passed or failed, not '" + std::string(status) + "'");
}

// The filters of the query; an error names the parameter.
Result<store::BuildQuery> build_query(const Params& params, uint64_t now_ns) {
  if (Status s = params.only({"ci", "repository", "job", "branch", "status", "since", "until", "has_alerts",
                              "incomplete", "limit", "after"});
      !s)
    return s.error();
  store::BuildQuery q;
  q.ci = params.get("ci").value_or("");
  q.repository = params.get("repository").value_or("");
  q.job = params.get("job").value_or("");
  q.branch = params.get("branch").value_or("");
  if (auto status = params.get("status")) {
    auto o = outcome_of(*status);
    if (!o) return o.error();
    q.outcome = *o;
  }
  auto window = params.window(now_ns);
  if (!window) return window.error();
  std::tie(q.since_ns, q.until_ns) = *window;
  auto has_alerts = params.flag("has_alerts");
  if (!has_alerts) return has_alerts.error();
  q.has_alerts = *has_alerts;
  auto incomplete = params.flag("incomplete");
  if (!incomplete) return incomplete.error();
  q.incomplete = *incomplete;
  auto after = params.after(1);
  if (!after) return after.error();
  if (*after) q.before = (**after)[0];
  auto limit = params.page_limit(kDefaultBuildPage, kMaxBuildPage);
  if (!limit) return limit.error();
  q.limit = *limit;
  return q;
}

void write_findings(JsonOut& out, const std::vector<store::Finding>& findings) {
  out.key("findings").array();
  for (const auto& f : findings) {
    out.object();
    out.key("id").i64(f.id);
    out.key("kind").str(store::finding_kind_name(f.kind));
    out.key("epoch").u64(f.epoch);
    out.key("seq_from").u64(f.seq_from);
    out.key("seq_to").u64(f.seq_to);
    out.key("time_from_ns").u64(f.time_from_ns);
    out.key("time_to_ns").u64(f.time_to_ns);
    out.key("open").boolean(f.resolved_ns == 0);
    out.key("detail").str(f.note.empty() ? f.detail : f.detail + "; " + f.note);
    out.end_object();
  }
  out.end_array();
}

}  // namespace

void write_build(JsonOut& out, const store::BuildRow& b) {
  out.object();
  out.key("id").i64(b.id);
  out.key("agent_id").str(b.agent_id);
  out.key("host").str(b.host);
  out.key("ci").str(b.build.ci);
  out.key("job").str(b.build.job);
  out.key("build_id").str(b.build.id);
  out.key("number").str(b.build.number);
  out.key("url").str(b.build.url);
  out.key("repository").str(b.build.repository);
  out.key("commit").str(b.build.commit);
  out.key("runner").str(b.build.runner);
  out.key("branch").str(b.build.branch);
  out.key("mode").str(b.mode);
  out.key("status").str(status_of(b));
  out.key("exit_code");
  if (b.ended)
    out.i64(b.exit_code);
  else
    out.null();
  out.key("first_ns").u64(b.first_ns);
  out.key("last_ns").u64(b.last_ns);
  out.key("start_ns").u64(b.start_ns);
  out.key("end_ns").u64(b.end_ns);
  uint64_t events = 0;
  for (const auto& [kind, n] : b.counts) events += n;
  out.key("events").u64(events);
  out.key("alerts").u64(b.alerts);
  out.key("integrity").str(store::integrity_name(b.integrity));
  out.key("collides_with").array();
  for (const auto& c : b.collides_with) out.object().key("id").i64(c.ref).key("agent_id").str(c.agent_id).end_object();
  out.end_array();
  out.end_object();
}

Response list_builds(store::Store& db, const Params& params, uint64_t now_ns) {
  auto query = build_query(params, now_ns);
  if (!query) return error_response(400, query.error().message);
  const std::size_t page = query->limit;
  ++query->limit;  // one more, to know whether a next page exists
  auto rows = db.build_page(*query);
  if (!rows) return store_unavailable(rows.error());
  const bool more = rows->size() > page;
  if (more) rows->resize(page);
  JsonOut out;
  out.object().key("builds").array();
  for (const auto& b : *rows) write_build(out, b);
  out.end_array().key("next");
  if (more)
    out.str(make_cursor({rows->back().id}));
  else
    out.null();
  out.end_object();
  return json_response(out.done());
}

std::variant<store::BuildRow, Response> build_for_path(store::Store& db, std::string_view id_text) {
  int64_t id = 0;
  const auto [p, ec] = std::from_chars(id_text.data(), id_text.data() + id_text.size(), id);
  if (ec != std::errc() || p != id_text.data() + id_text.size() || id <= 0)
    return error_response(404, "no such build: a build id is a positive integer (the id of /v1/builds)");
  auto row = db.build(id);
  if (!row) return store_unavailable(row.error());
  if (!*row) return error_response(404, "no build " + std::to_string(id));
  return std::move(**row);
}

Response show_build(store::Store& db, std::string_view id_text) {
  auto found = build_for_path(db, id_text);
  if (auto* refused = std::get_if<Response>(&found)) return std::move(*refused);
  const auto& b = std::get<store::BuildRow>(found);
  auto findings = db.build_findings(b);
  if (!findings) return store_unavailable(findings.error());
  JsonOut out;
  out.object().key("build");
  write_build(out, b);
  out.key("counts").object();
  for (const auto& [kind, n] : b.counts) out.key(kind).u64(n);
  out.end_object();
  out.key("lost_events").u64(b.lost);
  out.key("unmonitored_starts").u64(b.unmonitored);
  out.key("chain").object();
  out.key("first").object().key("epoch").u64(b.first_epoch).key("seq").u64(b.first_seq).end_object();
  out.key("last").object().key("epoch").u64(b.last_epoch).key("seq").u64(b.last_seq).end_object();
  out.end_object();
  write_findings(out, *findings);
  out.end_object();
  return json_response(out.done());
}

}  // namespace bt::collector::api

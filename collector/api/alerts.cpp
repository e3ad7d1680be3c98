#include "collector/api/alerts.h"

#include <charconv>

#include "collector/view/alert.h"

namespace bt::collector::api {

namespace {

// The filters of the query; an error names the parameter.
Result<store::AlertFilter> alert_filter(const Params& params, uint64_t now_ns, std::optional<int64_t> fixed_build) {
  Status known = fixed_build ? params.only({"since", "severity", "open", "limit", "after"})
                             : params.only({"since", "severity", "build", "open", "limit", "after"});
  if (!known) return known.error();
  store::AlertFilter f;
  auto since = params.time("since", now_ns);
  if (!since) return since.error();
  f.since_ns = since->value_or(0);
  if (auto severity = params.get("severity")) {
    f.min_severity = store::severity_rank(*severity);
    if (f.min_severity < 0)
      return make_error(ErrorCode::kInvalidArgument, "severity is informational, low, medium, high or critical, not '" +
                                                         std::string(*severity) + "'");
  }
  auto build = params.integer("build", 1, INT64_MAX);
  if (!build) return build.error();
  f.build = fixed_build ? fixed_build : *build;
  auto open = params.flag("open");
  if (!open) return open.error();
  f.open_only = open->value_or(false);
  auto after = params.integer("after", 0, INT64_MAX);
  if (!after) return after.error();
  f.after_id = after->value_or(0);
  auto limit = params.page_limit(kDefaultAlertPage, kMaxAlertPage);
  if (!limit) return limit.error();
  f.limit = *limit;
  return f;
}

}  // namespace

Response list_alerts(store::Store& db, const Params& params, uint64_t now_ns, std::optional<int64_t> build) {
  auto filter = alert_filter(params, now_ns, build);
  if (!filter) return error_response(400, filter.error().message);
  // One more than the page, to know whether a next page exists.
  const std::size_t page = filter->limit;
  ++filter->limit;
  auto alerts = db.alerts(*filter);
  if (!alerts) return store_unavailable(alerts.error());
  const bool more = alerts->size() > page;
  if (more) alerts->resize(page);
  std::string body = "{\"alerts\":[";
  for (std::size_t i = 0; i < alerts->size(); ++i) body += (i ? "," : "") + view::alert_json((*alerts)[i]);
  body += "],\"next\":";
  body += more ? "\"" + std::to_string(alerts->back().id) + "\"" : "null";
  return json_response(body + "}\n");
}

Response show_alert(store::Store& db, std::string_view id_text) {
  int64_t id = 0;
  const auto [p, ec] = std::from_chars(id_text.data(), id_text.data() + id_text.size(), id);
  if (ec != std::errc() || p != id_text.data() + id_text.size() || id <= 0)
    return error_response(404, "no such alert: an alert id is a positive integer");
  auto alert = db.alert(id);
  if (!alert) return store_unavailable(alert.error());
  if (!*alert) return error_response(404, "no alert " + std::to_string(id));
  return json_response(view::alert_json(**alert) + "\n");
}

}  // namespace bt::collector::api

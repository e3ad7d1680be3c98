#include "collector/api/alerts.h"

#include <charconv>

#include "collector/view/alert.h"
#include "collector/view/time.h"

namespace bt::collector::api {

namespace {

Response json(std::string body) {
  Response r;
  r.body = std::move(body);
  return r;
}

// The store failed (busy past its timeout, or worse): the client may
// retry; the log says what happened.
Response unavailable(const Error& e) {
  Response r = error_response(503, "cannot read the store now; retry later");
  r.retry_after_s = 1;
  r.log = "api: " + e.message;
  return r;
}

// The filters of the query; an error names the parameter.
Result<store::AlertFilter> alert_filter(const Params& params, uint64_t now_ns) {
  if (Status s = params.only({"since", "severity", "build", "open", "limit", "after"}); !s) return s.error();
  store::AlertFilter f;
  if (auto since = params.get("since")) {
    auto ns = view::parse_since(*since, now_ns);
    if (!ns) return make_error(ErrorCode::kInvalidArgument, "since: " + ns.error().message);
    f.since_ns = *ns;
  }
  if (auto severity = params.get("severity")) {
    f.min_severity = store::severity_rank(*severity);
    if (f.min_severity < 0)
      return make_error(ErrorCode::kInvalidArgument, "severity is informational, low, medium, high or critical, not '" +
                                                         std::string(*severity) + "'");
  }
  auto build = params.integer("build", 1, INT64_MAX);
  if (!build) return build.error();
  f.build = *build;
  if (auto open = params.get("open")) {
    if (*open != "1" && *open != "0") return make_error(ErrorCode::kInvalidArgument, "open is 1 or 0");
    f.open_only = *open == "1";
  }
  auto after = params.integer("after", 0, INT64_MAX);
  if (!after) return after.error();
  f.after_id = after->value_or(0);
  auto limit = params.page_limit(kDefaultAlertPage, kMaxAlertPage);
  if (!limit) return limit.error();
  f.limit = *limit;
  return f;
}

}  // namespace

Response list_alerts(store::Store& db, const Params& params, uint64_t now_ns) {
  auto filter = alert_filter(params, now_ns);
  if (!filter) return error_response(400, filter.error().message);
  // One more than the page, to know whether a next page exists.
  const std::size_t page = filter->limit;
  ++filter->limit;
  auto alerts = db.alerts(*filter);
  if (!alerts) return unavailable(alerts.error());
  const bool more = alerts->size() > page;
  if (more) alerts->resize(page);
  std::string body = "{\"alerts\":[";
  for (std::size_t i = 0; i < alerts->size(); ++i) body += (i ? "," : "") + view::alert_json((*alerts)[i]);
  body += "],\"next\":";
  body += more ? "\"" + std::to_string(alerts->back().id) + "\"" : "null";
  return json(body + "}\n");
}

Response show_alert(store::Store& db, std::string_view id_text) {
  int64_t id = 0;
  const auto [p, ec] = std::from_chars(id_text.data(), id_text.data() + id_text.size(), id);
  if (ec != std::errc() || p != id_text.data() + id_text.size() || id <= 0)
    return error_response(404, "no such alert: an alert id is a positive integer");
  auto alert = db.alert(id);
  if (!alert) return unavailable(alert.error());
  if (!*alert) return error_response(404, "no alert " + std::to_string(id));
  return json(view::alert_json(**alert) + "\n");
}

}  // namespace bt::collector::api

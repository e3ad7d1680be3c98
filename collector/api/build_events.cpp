#include "collector/api/build_events.h"

#include <tuple>

#include "collector/api/cursor.h"
#include "collector/api/json.h"
#include "common/events/json.h"

namespace bt::collector::api {

namespace {

// "process_exec,net_connect": the kinds, each named as in events.def.
Result<std::vector<events::Kind>> kinds_of(std::string_view list) {
  std::vector<events::Kind> out;
  for (std::size_t at = 0; at <= list.size();) {
    const std::size_t comma = std::min(list.find(',', at), list.size());
    events::Kind k{};
    const std::string_view name = list.substr(at, comma - at);
    if (!events::kind_from_name(name, &k))
      return make_error(ErrorCode::kInvalidArgument, "kind: unknown kind '" + std::string(name) + "'");
    out.push_back(k);
    at = comma + 1;
  }
  return out;
}

Result<store::IndexQuery> event_query(const store::BuildRow& build, const Params& params, uint64_t now_ns,
                                      std::optional<events::Kind> fixed_kind) {
  Status known = fixed_kind ? params.only({"since", "until", "limit", "after"})
                            : params.only({"kind", "since", "until", "limit", "after"});
  if (!known) return known.error();
  store::IndexQuery q;
  q.build = build.id;
  if (fixed_kind) q.kinds = {*fixed_kind};
  if (auto kinds = params.get("kind")) {
    auto k = kinds_of(*kinds);
    if (!k) return k.error();
    q.kinds = std::move(*k);
  }
  auto window = params.window(now_ns);
  if (!window) return window.error();
  std::tie(q.since_ns, q.until_ns) = *window;
  auto after = params.after(2);
  if (!after) return after.error();
  if (*after) {
    q.after_time_ns = static_cast<uint64_t>((**after)[0]);
    q.after_row = (**after)[1];
  }
  auto limit = params.page_limit(kDefaultEventPage, kMaxEventPage);
  if (!limit) return limit.error();
  q.limit = *limit + 1;  // one more, to know whether a next page exists
  return q;
}

}  // namespace

Response build_events(store::Store& db, readback::EventReader& reader, const store::BuildRow& build,
                      const Params& params, uint64_t now_ns, std::optional<events::Kind> kind) {
  auto query = event_query(build, params, now_ns, kind);
  if (!query) return error_response(400, query.error().message);
  const std::size_t page = query->limit - 1;
  std::vector<store::EventRef> refs;
  Status listed = db.index_rows(*query, [&](const store::IndexRow& r) {
    refs.push_back(r.ref);
    return true;
  });
  if (!listed) return store_unavailable(listed.error());
  const bool more = refs.size() > page;
  if (more) refs.resize(page);
  const std::string next = more ? make_cursor({static_cast<int64_t>(refs.back().time_ns), refs.back().row}) : "";
  JsonOut out;
  out.object().key("events").array();
  events::JsonLineWriter line;
  Status read = reader.read(refs, [&](const events::Event& e, const store::EventRef& ref) {
    line.clear();
    line.append(e);
    std::string_view json = line.view();
    if (!json.empty() && json.back() == '\n') json.remove_suffix(1);
    out.object();
    out.key("seq").u64(ref.seq).key("line").u64(ref.line).key("time_ns").u64(ref.time_ns);
    out.key("time_out_of_range").boolean(ref.time_out_of_range);
    out.key("event").raw(json);
    out.end_object();
  });
  if (!read) return readback_failed(read.error());
  out.end_array().key("next");
  if (more)
    out.str(next);
  else
    out.null();
  out.end_object();
  return json_response(out.done());
}

}  // namespace bt::collector::api

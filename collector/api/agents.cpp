#include "collector/api/agents.h"

#include <algorithm>

#include "collector/api/cursor.h"
#include "collector/api/json.h"

namespace bt::collector::api {

namespace {

void write_agent(JsonOut& out, const store::Agent& a) {
  out.object();
  out.key("id").str(a.id);
  out.key("hostname").str(a.inventory.hostname);
  out.key("os").str(a.inventory.os);
  out.key("kernel").str(a.inventory.kernel);
  out.key("agent_version").str(a.inventory.agent_version);
  out.key("ci").str(a.inventory.ci);
  out.key("mode").str(a.mode);
  out.key("revoked").boolean(a.revoked);
  out.key("enrolled_ns").u64(a.enrolled_ns);
  out.key("last_seen_ns").u64(a.last_seen_ns);
  out.key("epoch").u64(a.epoch);
  out.key("last_seq").u64(a.last_seq);
  out.key("lost_events").u64(a.lost);
  out.key("findings").u64(a.findings);
  out.key("open_findings").u64(a.open_findings);
  out.end_object();
}

}  // namespace

// A fleet's agents are read whole (one row each, a few thousand at most)
// and paged here.
Response list_agents(store::Store& db, const Params& params) {
  if (Status s = params.only({"limit", "after"}); !s) return error_response(400, s.error().message);
  auto limit = params.page_limit(kDefaultAgentPage, kMaxAgentPage);
  if (!limit) return error_response(400, limit.error().message);
  auto cursor = params.after_text();
  if (!cursor) return error_response(400, cursor.error().message);
  const std::string& after = *cursor;
  auto agents = db.agents();  // by id
  if (!agents) return store_unavailable(agents.error());
  auto from = std::upper_bound(agents->begin(), agents->end(), after,
                               [](const std::string& key, const store::Agent& a) { return key < a.id; });
  if (after.empty()) from = agents->begin();
  const auto to = agents->end() - from > static_cast<std::ptrdiff_t>(*limit)
                      ? from + static_cast<std::ptrdiff_t>(*limit)
                      : agents->end();
  JsonOut out;
  out.object().key("agents").array();
  for (auto it = from; it != to; ++it) write_agent(out, *it);
  out.end_array().key("next");
  if (to != agents->end())
    out.str(make_text_cursor((to - 1)->id));
  else
    out.null();
  out.end_object();
  return json_response(out.done());
}

}  // namespace bt::collector::api

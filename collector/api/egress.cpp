#include "collector/api/egress.h"

#include <map>
#include <set>

#include "collector/api/cursor.h"
#include "collector/api/json.h"

namespace bt::collector::api {

namespace {

struct Caller {
  uint64_t pid = 0;
  std::string exe;
  uint64_t connections = 0, queries = 0;
};

struct Group {
  std::string name;     // lower case; empty for a group by address
  std::string address;  // the destination of a group by address
  uint64_t connections = 0, queries = 0;
  uint64_t first_ns = UINT64_MAX, last_ns = 0;
  std::set<std::string> addresses;
  std::map<std::string, Caller> processes;  // by process key
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// Named groups first, by name; then groups by address.
std::string group_key(const store::IndexRow& r) {
  if (!r.dns_name.empty()) return "0" + lower(r.dns_name);
  return "1" + r.destination;
}

void add(Group& g, const store::IndexRow& r) {
  const bool connect = r.kind == events::Kind::net_connect;
  (connect ? g.connections : g.queries) += 1;
  g.first_ns = std::min(g.first_ns, r.ref.time_ns);
  g.last_ns = std::max(g.last_ns, r.ref.time_ns);
  if (connect && !r.destination.empty()) g.addresses.insert(r.destination);
  Caller& c = g.processes[r.process_key];
  c.pid = r.pid;
  c.exe = r.exe;
  (connect ? c.connections : c.queries) += 1;
}

void write_group(JsonOut& out, const Group& g) {
  out.object();
  out.key("name").str_or_null(g.name);
  out.key("address").str_or_null(g.name.empty() ? g.address : "");
  out.key("connections").u64(g.connections).key("queries").u64(g.queries);
  out.key("first_ns").u64(g.first_ns).key("last_ns").u64(g.last_ns);
  out.key("addresses").array();
  std::size_t n = 0;
  for (const auto& a : g.addresses)
    if (n++ < kEgressListed) out.str(a);
  out.end_array().key("addresses_total").u64(g.addresses.size());
  out.key("processes").array();
  n = 0;
  for (const auto& [key, c] : g.processes) {
    if (n++ >= kEgressListed) break;
    out.object().key("key").str(key).key("pid").u64(c.pid).key("exe").str(c.exe);
    out.key("connections").u64(c.connections).key("queries").u64(c.queries).end_object();
  }
  out.end_array().key("processes_total").u64(g.processes.size());
  out.end_object();
}

}  // namespace

Response build_egress(store::Store& db, const store::BuildRow& build, const Params& params) {
  if (Status s = params.only({"limit", "after"}); !s) return error_response(400, s.error().message);
  auto limit = params.page_limit(kDefaultEgressPage, kMaxEgressPage);
  if (!limit) return error_response(400, limit.error().message);
  auto cursor = params.after_text();
  if (!cursor) return error_response(400, cursor.error().message);
  const std::string& after = *cursor;
  std::map<std::string, Group> groups;
  store::IndexQuery q;
  q.build = build.id;
  q.kinds = {events::Kind::net_connect, events::Kind::dns_query};
  Status s = db.index_rows(q, [&](const store::IndexRow& r) {
    std::string key = group_key(r);
    if (!after.empty() && key <= after) return true;
    Group& g = groups[key];
    if (g.connections + g.queries == 0) {
      g.name = r.dns_name.empty() ? "" : lower(r.dns_name);
      g.address = r.destination;
    }
    add(g, r);
    return true;
  });
  if (!s) return store_unavailable(s.error());
  JsonOut out;
  out.object().key("destinations").array();
  std::size_t n = 0;
  std::string last;
  for (const auto& [key, g] : groups) {
    if (n == *limit) break;
    write_group(out, g);
    last = key;
    ++n;
  }
  out.end_array().key("next");
  if (groups.size() > *limit)
    out.str(make_text_cursor(last));
  else
    out.null();
  out.end_object();
  return json_response(out.done());
}

}  // namespace bt::collector::api

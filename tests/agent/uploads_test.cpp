#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "agent/enrich/rules/uploads.h"
#include "common/fs.h"
#include "tests/common/test_util.h"

using namespace bt;
using namespace bt::agent;

namespace {

const std::string kHelloSha = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";  // "hello\n"
const std::string kWorldSha = "e258d248fda94c63753607f7c4494ee0fcbe92f1a76bfdac795c9d84101eb317";  // "world\n"

// A build workspace: dist/app.tgz ("hello\n"), dist/app.whl ("world\n"),
// site/index.html ("hello\n"), site/css/a.css ("world\n").
struct Workspace {
  std::string dir = testing::make_temp_dir("uploads");
  digest::Cache digests;

  Workspace() {
    for (const char* d : {"/dist", "/site", "/site/css"}) REQUIRE(::mkdir((dir + d).c_str(), 0755) == 0);
    write("dist/app.tgz", "hello\n");
    write("dist/app.whl", "world\n");
    write("site/index.html", "hello\n");
    write("site/css/a.css", "world\n");
  }
  ~Workspace() { std::filesystem::remove_all(dir); }

  void write(const std::string& rel, const std::string& data) {
    REQUIRE(fs::write_new_file(dir + "/" + rel, data, 0644).ok());
  }

  std::optional<events::ArtifactUpload> run(const std::vector<std::string>& argv, std::string exe = "") {
    if (exe.empty()) exe = "/usr/bin/" + argv[0];
    return uploads::recognise(argv, exe, dir, digests);
  }
};

void check_file(const events::FileDigest& f, const std::string& path, uint64_t size, const std::string& sha) {
  CHECK(f.path == path);
  CHECK(f.size == size);
  CHECK(f.sha256 == sha);
}

}  // namespace

TEST_CASE("container images: docker/podman/buildah push, crane, oras, buildx --push") {
  Workspace w;
  auto up = w.run({"docker", "push", "reg.example.com/app:1"});
  REQUIRE(up);
  CHECK(up->tool == "docker");
  CHECK(up->destination == "reg.example.com/app:1");
  CHECK(up->files.empty());

  up = w.run({"docker", "--config", "/tmp/cfg", "image", "push", "-q", "reg.example.com/app:2"});
  REQUIRE(up);
  CHECK(up->destination == "reg.example.com/app:2");

  up = w.run({"podman", "push", "--authfile", "auth.json", "localhost/app:1", "docker://reg.example.com/app:1"});
  REQUIRE(up);
  CHECK(up->tool == "podman");
  CHECK(up->destination == "docker://reg.example.com/app:1");

  up = w.run({"buildah", "push", "app:1", "reg.example.com/app:1"});
  REQUIRE(up);
  CHECK(up->tool == "buildah");

  up = w.run({"crane", "push", "dist/app.tgz", "reg.example.com/app:3"});
  REQUIRE(up);
  CHECK(up->tool == "crane");
  CHECK(up->destination == "reg.example.com/app:3");
  REQUIRE(up->files.size() == 1);
  check_file(up->files[0], w.dir + "/dist/app.tgz", 6, kHelloSha);

  up = w.run({"oras", "push", "reg.example.com/art:1", "dist/app.whl:application/zip", "./dist/app.tgz"});
  REQUIRE(up);
  CHECK(up->destination == "reg.example.com/art:1");
  REQUIRE(up->files.size() == 2);
  check_file(up->files[0], w.dir + "/dist/app.whl", 6, kWorldSha);
  check_file(up->files[1], w.dir + "/dist/app.tgz", 6, kHelloSha);

  up = w.run({"docker", "buildx", "build", "--push", "-t", "reg.example.com/app:4", "."});
  REQUIRE(up);
  CHECK(up->destination == "reg.example.com/app:4");
}

TEST_CASE("package registries: npm, yarn, pnpm, twine, gem, cargo, nuget, helm") {
  Workspace w;
  auto up = w.run({"npm", "publish"});
  REQUIRE(up);
  CHECK(up->tool == "npm");
  CHECK(up->destination == "https://registry.npmjs.org");
  CHECK(up->files.empty());  // the package dir (cwd), packed by npm

  up = w.run({"npm", "publish", "dist/app.tgz", "--registry", "https://npm.example.com/"});
  REQUIRE(up);
  CHECK(up->destination == "https://npm.example.com/");
  REQUIRE(up->files.size() == 1);
  check_file(up->files[0], w.dir + "/dist/app.tgz", 6, kHelloSha);

  up = w.run({"npm", "publish", "dist"});  // a folder, not a file
  REQUIRE(up);
  CHECK(up->files.empty());

  up = w.run({"npx", "--yes", "npm@9", "publish", "--registry=https://npm.example.com"});
  REQUIRE(up);
  CHECK(up->tool == "npm");
  CHECK(up->destination == "https://npm.example.com");

  up = w.run({"node", "/usr/lib/node_modules/npm/bin/npm-cli.js", "publish"}, "/usr/bin/node");
  REQUIRE(up);
  CHECK(up->tool == "npm");

  up = w.run({"yarn", "publish", "--new-version", "1.2.3"});
  REQUIRE(up);
  CHECK(up->tool == "yarn");
  CHECK(up->destination == "https://registry.yarnpkg.com");
  CHECK(up->files.empty());

  up = w.run({"yarn", "npm", "publish", "--access", "public"});
  REQUIRE(up);
  CHECK(up->tool == "yarn");

  up = w.run({"pnpm", "--filter", "app", "publish", "--no-git-checks"});
  REQUIRE(up);
  CHECK(up->tool == "pnpm");

  up = w.run({"python3", "-m", "twine", "upload", "--repository-url", "https://pypi.example.com/legacy/",
              "dist/app.whl", "dist/app.tgz"},
             "/usr/bin/python3.11");
  REQUIRE(up);
  CHECK(up->tool == "twine");
  CHECK(up->destination == "https://pypi.example.com/legacy/");
  REQUIRE(up->files.size() == 2);
  check_file(up->files[0], w.dir + "/dist/app.whl", 6, kWorldSha);

  up = w.run({"twine", "upload", "-r", "testpypi", "dist/app.whl"});
  REQUIRE(up);
  CHECK(up->destination == "testpypi");
  up = w.run({"twine", "upload", "--skip-existing", "dist/app.whl"});
  REQUIRE(up);
  CHECK(up->destination == "pypi");

  up = w.run({"gem", "push", "dist/app.tgz"});
  REQUIRE(up);
  CHECK(up->destination == "https://rubygems.org");
  REQUIRE(up->files.size() == 1);

  up = w.run({"cargo", "+nightly", "publish", "--registry", "internal"});
  REQUIRE(up);
  CHECK(up->tool == "cargo");
  CHECK(up->destination == "internal");
  up = w.run({"cargo", "publish"});
  REQUIRE(up);
  CHECK(up->destination == "crates.io");

  up = w.run({"dotnet", "nuget", "push", "dist/app.tgz", "-s", "https://nuget.example.com/v3/index.json", "-k",
              "[REDACTED:api_key]"});
  REQUIRE(up);
  CHECK(up->tool == "nuget");
  CHECK(up->destination == "https://nuget.example.com/v3/index.json");
  REQUIRE(up->files.size() == 1);
  up = w.run({"nuget", "push", "dist/app.tgz", "-Source", "internal", "-ApiKey", "[REDACTED:api_key]"});
  REQUIRE(up);
  CHECK(up->destination == "internal");
  REQUIRE(up->files.size() == 1);

  up = w.run({"helm", "push", "dist/app.tgz", "oci://reg.example.com/charts"});
  REQUIRE(up);
  CHECK(up->destination == "oci://reg.example.com/charts");
  REQUIRE(up->files.size() == 1);
  check_file(up->files[0], w.dir + "/dist/app.tgz", 6, kHelloSha);
}

TEST_CASE("build tools: mvn deploy and gradle publish, wrappers included") {
  Workspace w;
  auto up = w.run({"mvn", "-B", "-DskipTests", "clean", "deploy"});
  REQUIRE(up);
  CHECK(up->tool == "maven");
  CHECK(up->destination == "pom.xml distributionManagement");

  up = w.run({"./mvnw", "deploy", "-DaltDeploymentRepository=internal::https://repo.example.com/releases"});
  REQUIRE(up);
  CHECK(up->destination == "https://repo.example.com/releases");

  up = w.run({"mvn", "deploy:deploy-file", "-Durl=https://repo.example.com/r", "-Dfile=dist/app.tgz", "-DgroupId=x",
              "-DartifactId=y", "-Dversion=1"});
  REQUIRE(up);
  CHECK(up->destination == "https://repo.example.com/r");
  REQUIRE(up->files.size() == 1);
  check_file(up->files[0], w.dir + "/dist/app.tgz", 6, kHelloSha);

  up = w.run({"./gradlew", "--no-daemon", "-Pversion=1", ":lib:publish"});
  REQUIRE(up);
  CHECK(up->tool == "gradle");
  CHECK(up->destination == "build script publishing.repositories");

  up = w.run({"gradle", "publishAllPublicationsToSonatypeRepository", "-x", "test"});
  REQUIRE(up);
  CHECK(up->destination == "Sonatype");

  up = w.run({"sh", "./gradlew", "publishToMavenCentral"}, "/bin/dash");
  REQUIRE(up);
  CHECK(up->destination == "MavenCentral");
}

TEST_CASE("object stores: aws s3, gsutil, gcloud storage, az storage blob") {
  Workspace w;
  auto up = w.run(
      {"aws", "--profile", "ci", "s3", "cp", "dist/app.tgz", "s3://bucket/rel/app.tgz", "--acl", "private", "--sse"});
  REQUIRE(up);
  CHECK(up->tool == "aws-s3");
  CHECK(up->destination == "s3://bucket/rel/app.tgz");
  REQUIRE(up->files.size() == 1);
  check_file(up->files[0], w.dir + "/dist/app.tgz", 6, kHelloSha);

  // A directory: the regular files under it, recursively, in name order.
  up = w.run({"aws", "s3", "sync", "site/", "s3://bucket/site", "--delete", "--exclude", "*.map"});
  REQUIRE(up);
  REQUIRE(up->files.size() == 2);
  check_file(up->files[0], w.dir + "/site/css/a.css", 6, kWorldSha);
  check_file(up->files[1], w.dir + "/site/index.html", 6, kHelloSha);

  up = w.run({"gsutil", "-m", "cp", "-r", "dist/app.tgz", "site", "gs://bucket/x/"});
  REQUIRE(up);
  CHECK(up->tool == "gsutil");
  CHECK(up->destination == "gs://bucket/x/");
  CHECK(up->files.size() == 3);

  up = w.run({"gcloud", "storage", "cp", "dist/app.whl", "gs://bucket/y"});
  REQUIRE(up);
  CHECK(up->tool == "gcloud-storage");
  REQUIRE(up->files.size() == 1);
  check_file(up->files[0], w.dir + "/dist/app.whl", 6, kWorldSha);

  up = w.run({"az", "storage", "blob", "upload", "--account-name", "acct", "-c", "releases", "-n", "app.tgz", "-f",
              "dist/app.tgz", "--overwrite"});
  REQUIRE(up);
  CHECK(up->tool == "az-storage");
  CHECK(up->destination == "https://acct.blob.core.windows.net/releases/app.tgz");
  REQUIRE(up->files.size() == 1);
  check_file(up->files[0], w.dir + "/dist/app.tgz", 6, kHelloSha);

  up = w.run({"az", "storage", "blob", "upload-batch", "-s", "site", "-d", "web", "--account-name", "acct"});
  REQUIRE(up);
  CHECK(up->destination == "https://acct.blob.core.windows.net/web");
  CHECK(up->files.size() == 2);
}

TEST_CASE("jfrog, gh release, curl, scp, rsync") {
  Workspace w;
  auto up =
      w.run({"jf", "rt", "u", "dist/app.tgz", "libs-release/app/1/", "--url", "https://art.example.com/artifactory"});
  REQUIRE(up);
  CHECK(up->tool == "jfrog");
  CHECK(up->destination == "https://art.example.com/artifactory/libs-release/app/1/");
  REQUIRE(up->files.size() == 1);

  up = w.run(
      {"gh", "release", "upload", "v1.0", "dist/app.tgz#App tarball", "dist/app.whl", "-R", "org/app", "--clobber"});
  REQUIRE(up);
  CHECK(up->tool == "gh");
  CHECK(up->destination == "https://github.com/org/app/releases/tag/v1.0");
  REQUIRE(up->files.size() == 2);
  check_file(up->files[0], w.dir + "/dist/app.tgz", 6, kHelloSha);

  up = w.run({"curl", "-fsS", "-T", "dist/app.tgz", "https://ci:[REDACTED:password]@files.example.com/up/"});
  REQUIRE(up);
  CHECK(up->tool == "curl");
  CHECK(up->destination == "https://[REDACTED:url_credentials]@files.example.com/up/");
  REQUIRE(up->files.size() == 1);
  check_file(up->files[0], w.dir + "/dist/app.tgz", 6, kHelloSha);

  up = w.run({"curl", "-sSfT", "dist/app.whl", "https://files.example.com/up/"});
  REQUIRE(up);
  REQUIRE(up->files.size() == 1);
  check_file(up->files[0], w.dir + "/dist/app.whl", 6, kWorldSha);

  up = w.run({"curl", "-X", "POST", "-F", "file=@dist/app.tgz;type=application/gzip", "-F", "name=app", "--url",
              "https://api.example.com/upload?token=[REDACTED:token]"});
  REQUIRE(up);
  CHECK(up->destination == "https://api.example.com/upload?token=[REDACTED:token]");
  REQUIRE(up->files.size() == 1);
  check_file(up->files[0], w.dir + "/dist/app.tgz", 6, kHelloSha);

  up = w.run({"curl", "--data-binary", "@dist/app.whl", "https://api.example.com/x"});
  REQUIRE(up);
  REQUIRE(up->files.size() == 1);

  // Secrets in the destination are redacted even if the caller missed them.
  up = w.run({"curl", "--upload-file", "dist/app.tgz", "https://u:hunter2@files.example.com/x?sig=abc"});
  REQUIRE(up);
  CHECK(up->destination == "https://[REDACTED:url_credentials]@files.example.com/x?sig=[REDACTED:generic_secret]");

  up = w.run({"scp", "-P", "2222", "-i", "key", "dist/app.tgz", "deploy@host.example.com:/srv/rel/"});
  REQUIRE(up);
  CHECK(up->tool == "scp");
  CHECK(up->destination == "host.example.com:/srv/rel/");
  REQUIRE(up->files.size() == 1);
  check_file(up->files[0], w.dir + "/dist/app.tgz", 6, kHelloSha);

  up = w.run({"rsync", "-avz", "-e", "ssh -p 2222", "--exclude", "*.tmp", "site/", "host.example.com:/var/www"});
  REQUIRE(up);
  CHECK(up->tool == "rsync");
  CHECK(up->destination == "host.example.com:/var/www");
  CHECK(up->files.size() == 2);

  up = w.run({"rsync", "-r", "dist", "mirror.example.com::releases/app"});
  REQUIRE(up);
  CHECK(up->destination == "mirror.example.com::releases/app");
  CHECK(up->files.size() == 2);
}

TEST_CASE("CI uploaders: gitlab-runner artifacts-uploader, buildkite-agent artifact upload, actions/upload-artifact") {
  Workspace w;
  auto up =
      w.run({"gitlab-runner", "artifacts-uploader", "--url", "https://gitlab.example.com/", "--token",
             "[REDACTED:gitlab_token]", "--id", "123", "--path", "dist/app.tgz", "--path", "site", "--name", "a"});
  REQUIRE(up);
  CHECK(up->tool == "gitlab-runner");
  CHECK(up->destination == "https://gitlab.example.com/api/v4/jobs/123/artifacts");
  REQUIRE(up->files.size() == 3);
  check_file(up->files[0], w.dir + "/dist/app.tgz", 6, kHelloSha);
  check_file(up->files[1], w.dir + "/site/css/a.css", 6, kWorldSha);
  check_file(up->files[2], w.dir + "/site/index.html", 6, kHelloSha);

  // The helper image's binary, --flag=value, a glob; URL and job id from CI_SERVER_URL and CI_JOB_ID.
  up = w.run({"gitlab-runner-helper", "--log-level", "warn", "artifacts-uploader", "--token=[REDACTED:gitlab_token]",
              "--path=dist/*.whl"});
  REQUIRE(up);
  CHECK(up->tool == "gitlab-runner");
  CHECK(up->destination == "$CI_SERVER_URL/api/v4/jobs/$CI_JOB_ID/artifacts");
  REQUIRE(up->files.size() == 1);
  check_file(up->files[0], w.dir + "/dist/app.whl", 6, kWorldSha);

  up = w.run({"buildkite-agent", "artifact", "upload", "dist/*.tgz"});
  REQUIRE(up);
  CHECK(up->tool == "buildkite-agent");
  CHECK(up->destination == "Buildkite artifact storage");
  REQUIRE(up->files.size() == 1);
  check_file(up->files[0], w.dir + "/dist/app.tgz", 6, kHelloSha);

  // Several patterns; one matching nothing and one with ** are listed as given.
  up = w.run(
      {"buildkite-agent", "artifact", "upload", "dist/app.[tw]*;site/**/*.css;out/*.zip", "s3://bucket/builds/42"});
  REQUIRE(up);
  CHECK(up->destination == "s3://bucket/builds/42");
  REQUIRE(up->files.size() == 4);
  check_file(up->files[0], w.dir + "/dist/app.tgz", 6, kHelloSha);
  check_file(up->files[1], w.dir + "/dist/app.whl", 6, kWorldSha);
  check_file(up->files[2], w.dir + "/site/**/*.css", 0, "");
  check_file(up->files[3], w.dir + "/out/*.zip", 0, "");

  up = w.run({"buildkite-agent", "artifact", "upload", "--delimiter", ",", "--literal", "dist/app.tgz,dist/*.whl"});
  REQUIRE(up);
  REQUIRE(up->files.size() == 2);
  check_file(up->files[0], w.dir + "/dist/app.tgz", 6, kHelloSha);
  check_file(up->files[1], w.dir + "/dist/*.whl", 0, "");

  // The action's node process: argv names neither the files nor the artifact.
  const std::string node = "/home/runner/actions-runner/externals/node20/bin/node";
  const std::string action = "/home/runner/actions-runner/_work/_actions/actions/upload-artifact/v4";
  up = w.run({node, action + "/dist/upload/index.js"}, node);
  REQUIRE(up);
  CHECK(up->tool == "actions/upload-artifact");
  CHECK(up->destination == action);
  CHECK(up->files.empty());
  up = w.run({"node", "/home/runner/work/_actions/actions/upload-artifact/v3/dist/index.js"});
  REQUIRE(up);
  CHECK(up->destination == "/home/runner/work/_actions/actions/upload-artifact/v3");
}

TEST_CASE("missing files are listed without a digest; paths are absolute and normalised") {
  Workspace w;
  auto up = w.run({"twine", "upload", "dist/missing.whl", "./dist/../dist/app.whl", w.dir + "/dist/app.tgz"});
  REQUIRE(up);
  REQUIRE(up->files.size() == 3);
  check_file(up->files[0], w.dir + "/dist/missing.whl", 0, "");
  check_file(up->files[1], w.dir + "/dist/app.whl", 6, kWorldSha);
  check_file(up->files[2], w.dir + "/dist/app.tgz", 6, kHelloSha);
}

TEST_CASE("a large directory is cut at 1000 files and the cut is marked") {
  Workspace w;
  REQUIRE(::mkdir((w.dir + "/big").c_str(), 0755) == 0);
  for (int i = 0; i < 1005; ++i) w.write("big/f" + std::to_string(10000 + i), "hello\n");
  auto up = w.run({"aws", "s3", "sync", "big", "s3://bucket/big"});
  REQUIRE(up);
  REQUIRE(up->files.size() == 1001);
  check_file(up->files[0], w.dir + "/big/f10000", 6, kHelloSha);
  check_file(up->files[999], w.dir + "/big/f10999", 6, kHelloSha);
  check_file(up->files[1000], w.dir + "/big/...", 0, "");
}

TEST_CASE("the resolved executable names the tool when argv[0] does not") {
  Workspace w;
  auto up = w.run({"/opt/hostedtoolcache/x/docker-wrapper", "push", "reg.example.com/app:1"}, "/usr/bin/docker");
  REQUIRE(up);
  CHECK(up->tool == "docker");
}

TEST_CASE("not uploads") {
  Workspace w;
  const std::vector<std::vector<std::string>> commands = {
      {"docker", "build", "-t", "app", "."},
      {"docker", "run", "alpine", "echo", "push"},
      {"docker", "pull", "reg.example.com/app:1"},
      {"npm", "install"},
      {"npm", "run", "publish"},
      {"yarn", "install"},
      {"curl", "-fsSLO", "https://example.com/x.tgz"},
      {"curl", "-d", "a=b", "https://example.com/api"},
      {"curl", "-o", "out", "https://example.com/x"},
      {"aws", "s3", "ls", "s3://bucket"},
      {"aws", "s3", "cp", "s3://bucket/x", "dist/"},
      {"aws", "s3", "cp", "s3://bucket/x", "s3://other/x"},
      {"gsutil", "cp", "gs://bucket/x", "."},
      {"scp", "host.example.com:/srv/x", "."},
      {"scp", "a", "b"},
      {"rsync", "-a", "src/", "dst/"},
      {"rsync", "-a", "host:/x", "./y"},
      {"mvn", "package"},
      {"./gradlew", "build", "publishToMavenLocal"},
      {"cargo", "build"},
      {"gh", "release", "create", "v1"},
      {"gh", "release", "list"},
      {"twine", "check", "dist/app.whl"},
      {"helm", "package", "chart"},
      {"python3", "-c", "import twine"},
      {"make", "publish"},
      {"gitlab-runner", "run"},
      {"gitlab-runner", "artifacts-downloader", "--id", "123"},
      {"buildkite-agent", "start"},
      {"buildkite-agent", "artifact", "download", "dist/*.tgz", "."},
      {"buildkite-agent", "artifact", "upload"},
      {"node", "/home/runner/work/_actions/actions/checkout/v4/dist/index.js"},
      {"node", "/home/runner/work/_actions/actions/download-artifact/v4/dist/index.js"},
      {"node", "/home/runner/work/_actions/actions/upload-artifact/v4/dist/merge/index.js"},
      {"node", "/home/runner/work/_actions/actions/upload-artifact/v4"},
      {"node", "dist/upload/index.js"},
  };
  for (const auto& c : commands) {
    INFO("command: " << c[0] << " " << (c.size() > 1 ? c[1] : ""));
    CHECK_FALSE(w.run(c));
  }
  CHECK_FALSE(uploads::recognise({}, "", w.dir, w.digests));
}

TEST_CASE("docs/upload-tools.md lists every recogniser") {
  const std::string md = testing::rendered_page("docs/upload-tools.md", uploads::reference_parts);
  CHECK(md.starts_with("# Upload tools\n"));
  for (const char* tool : {"`docker`",
                           "`podman`",
                           "`crane`",
                           "`oras`",
                           "`npm`",
                           "`twine`",
                           "`maven`",
                           "`gradle`",
                           "`gem`",
                           "`cargo`",
                           "`nuget`",
                           "`helm`",
                           "`aws-s3`",
                           "`gsutil`",
                           "`gcloud-storage`",
                           "`az-storage`",
                           "`jfrog`",
                           "`gh`",
                           "`curl`",
                           "`scp`",
                           "`rsync`",
                           "`gitlab-runner`",
                           "`buildkite-agent`",
                           "`actions/upload-artifact`"})
    CHECK_MESSAGE(md.find(tool) != std::string::npos, tool);
  // Every row has the same number of cells as the header.
  std::size_t rows = 0;
  for (std::size_t p = md.find("\n| "); p != std::string::npos; p = md.find("\n| ", p + 1)) {
    const std::size_t end = md.find('\n', p + 1);
    std::size_t cells = 0;
    for (std::size_t i = p + 1; i < end; ++i)
      if (md[i] == '|' && md[i - 1] != '\\') ++cells;
    CHECK(cells == 5);
    ++rows;
  }
  CHECK(rows > 20);
}

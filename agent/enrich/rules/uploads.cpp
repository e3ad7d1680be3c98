// Artifact uploads recognised from argv.
//
// One row of kRecognisers per uploader: which executables, which subcommand
// words, which flags take a value, and a small function that picks the
// destination and the local files out of the parsed command line. The same
// rows generate docs/upload-tools.md (reference_parts), so the table and
// its documentation cannot drift apart.
//
// The caller sees every exec on its own, so `sudo` and `env X=Y` prefixes
// never reach us; interpreters and launchers that keep the tool in argv do
// (`python3 -m twine`, `node .../npm-cli.js`, `npx npm@9`, `sh ./gradlew`)
// and are unwrapped first. If argv[0] names no known tool, the resolved
// executable's base name is tried.
//
// Files: named paths are resolved against the cwd; a directory stands for the
// regular files under it, walked in name order without following directory
// symlinks. At most kMaxFiles files are listed per upload; past that an entry
// "<dir>/..." with no digest marks the cut. A file that cannot be read is
// listed with size 0 and an empty sha256 -- the upload is still evidence.
#include "agent/enrich/rules/uploads.h"

#include <dirent.h>
#include <glob.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <initializer_list>
#include <span>
#include <string_view>
#include <utility>

#include "agent/enrich/rules/redact.h"
#include "common/fs.h"
#include "common/words.h"

namespace bt::agent::uploads {

namespace {

using std::string_view;
using Args = std::vector<std::string>;

constexpr std::size_t kMaxFiles = 1000;
constexpr int kMaxDepth = 64;

// ---- small string helpers -----------------------------------------------------

bool in_list(string_view list, string_view word) { return in_word_list(list, word); }

// Splits `s` at `sep`, skipping empty parts.
std::vector<string_view> split(string_view s, char sep) {
  std::vector<string_view> parts;
  while (!s.empty()) {
    const std::size_t p = s.find(sep);
    if (p != 0) parts.push_back(s.substr(0, p));
    if (p == string_view::npos) break;
    s.remove_prefix(p + 1);
  }
  return parts;
}

string_view basename(string_view path) { return fs::base_name(path); }

// "npm-cli.js" -> "npm", "gsutil.py" -> "gsutil", "twine.exe" -> "twine".
std::string tool_name(string_view path) {
  string_view n = basename(path);
  for (string_view ext : {".exe", ".cmd", ".bat", ".js", ".cjs", ".mjs", ".py", ".sh"})
    if (n.size() > ext.size() && n.ends_with(ext)) n.remove_suffix(ext.size());
  if (n.size() > 4 && n.ends_with("-cli")) n.remove_suffix(4);
  return std::string(n);
}

bool is_url(string_view s) { return s.find("://") != string_view::npos; }

// A GitHub Actions JavaScript action runs as `node <work>/_actions/OWNER/REPO/REF/ENTRY`;
// its directory (the runner's GITHUB_ACTION_PATH) is the action path.
struct Action {
  std::string name;   // OWNER/REPO
  std::string path;   // <work>/_actions/OWNER/REPO/REF
  std::string entry;  // ENTRY: dist/index.js, ...
};

std::optional<Action> github_action(string_view script) {
  constexpr string_view kActions = "/_actions/";
  const std::size_t at = script.find(kActions);
  if (at == string_view::npos) return std::nullopt;
  const std::size_t first = at + kActions.size();
  std::size_t slash[3] = {};
  for (std::size_t i = 0, from = first; i < 3; ++i) {
    slash[i] = script.find('/', from);
    if (slash[i] == string_view::npos || slash[i] == from) return std::nullopt;
    from = slash[i] + 1;
  }
  if (slash[2] + 1 >= script.size()) return std::nullopt;
  return Action{std::string(script.substr(first, slash[1] - first)), std::string(script.substr(0, slash[2])),
                std::string(script.substr(slash[2] + 1))};
}

// ---- command line parsing -----------------------------------------------------

// Options as getopt reads them: "-abc" is three switches unless one of them
// takes a value (then the rest of the word, or the next argument, is it);
// "--name=value", or "--name value" when --name takes a value. Exact matches
// of `value_flags` come first, for single-dash long options (-Source, -pl).
struct Parsed {
  std::vector<std::string> positionals;
  std::vector<std::pair<std::string, std::string>> options;  // flag, value ("" for switches)

  bool has(std::initializer_list<string_view> names) const {
    for (const auto& [flag, value] : options)
      for (string_view n : names)
        if (flag == n) return true;
    return false;
  }

  std::vector<std::string> values(std::initializer_list<string_view> names) const {
    std::vector<std::string> out;
    for (const auto& [flag, value] : options)
      for (string_view n : names)
        if (flag == n) out.push_back(value);
    return out;
  }

  // The last value given for any of `names`, else "".
  std::string value(std::initializer_list<string_view> names) const {
    const auto all = values(names);
    return all.empty() ? std::string() : all.back();
  }
};

void parse_short_cluster(std::span<const std::string> args, std::size_t& i, string_view value_flags, Parsed& p) {
  const std::string& a = args[i];
  for (std::size_t j = 1; j < a.size(); ++j) {
    const std::string flag{'-', a[j]};
    if (!in_list(value_flags, flag)) {
      p.options.emplace_back(flag, "");
      continue;
    }
    if (j + 1 < a.size())
      p.options.emplace_back(flag, a.substr(j + 1));
    else
      p.options.emplace_back(flag, i + 1 < args.size() ? args[++i] : "");
    return;
  }
}

Parsed parse(std::span<const std::string> args, string_view value_flags) {
  Parsed p;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      p.positionals.insert(p.positionals.end(), args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
      break;
    }
    if (a.size() < 2 || a[0] != '-') {
      p.positionals.push_back(a);
    } else if (in_list(value_flags, a)) {
      p.options.emplace_back(a, i + 1 < args.size() ? args[++i] : "");
    } else if (a.starts_with("--")) {
      const std::size_t eq = a.find('=');
      p.options.emplace_back(a.substr(0, eq), eq == std::string::npos ? "" : a.substr(eq + 1));
    } else {
      parse_short_cluster(args, i, value_flags, p);
    }
  }
  return p;
}

// ---- what a recogniser returns ------------------------------------------------

struct Target {
  std::string destination;
  std::vector<std::string> files;  // as named on the command line
};

struct Command {
  string_view tool;            // the invoked tool's name (docker, podman, ...)
  const std::string& invoked;  // the tool as invoked: argv[0], or the script an interpreter runs
  Parsed opts;                 // everything but the tool and its subcommand words
  const std::string& cwd;
};

using Extract = std::optional<Target> (*)(const Command&);

bool is_dir(const std::string& cwd, const std::string& path) {
  struct stat st {};
  const std::string p = path.starts_with('/') ? path : cwd + "/" + path;
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Uploaders that expand glob patterns themselves (buildkite-agent,
// gitlab-runner): the paths matching `pattern` now, in name order, or the
// pattern itself when nothing matches or it has `**` (any depth, which
// glob(3) cannot read); such an entry is listed without a digest.
std::vector<std::string> expand(const std::string& cwd, const std::string& pattern) {
  if (pattern.find_first_of("*?[{") == std::string::npos || pattern.find("**") != std::string::npos) return {pattern};
  std::string full;
  if (!pattern.starts_with('/')) {
    for (char ch : cwd) {
      if (std::string_view("*?[]{}\\").find(ch) != std::string_view::npos) full += '\\';
      full += ch;
    }
    full += '/';
  }
  full += pattern;
  std::vector<std::string> out;
  glob_t g{};
  if (::glob(full.c_str(), GLOB_BRACE, nullptr, &g) == 0)
    for (std::size_t i = 0; i < g.gl_pathc && out.size() <= kMaxFiles; ++i) out.emplace_back(g.gl_pathv[i]);
  ::globfree(&g);
  if (out.empty()) out.push_back(pattern);
  return out;
}

// ---- per-tool extraction --------------------------------------------------------

std::optional<Target> image_push(const Command& c) {
  const auto& p = c.opts.positionals;
  if (p.empty()) return std::nullopt;
  return Target{p.size() > 1 ? p[1] : p[0], {}};  // podman/buildah: push IMAGE [DEST]
}

std::optional<Target> image_build_push(const Command& c) {
  bool push = c.opts.has({"--push"});
  for (const auto& o : c.opts.values({"-o", "--output"}))
    push = push || o.find("type=registry") != std::string::npos || o.find("push=true") != std::string::npos;
  if (!push) return std::nullopt;
  std::string dest;
  for (const auto& t : c.opts.values({"-t", "--tag"})) dest += (dest.empty() ? "" : " ") + t;
  return Target{dest.empty() ? "registry (untagged)" : dest, {}};
}

std::optional<Target> crane_push(const Command& c) {
  const auto& p = c.opts.positionals;
  if (p.size() < 2) return std::nullopt;
  return Target{p[1], {p[0]}};
}

// oras push REF file[:media-type]...
std::optional<Target> oras_push(const Command& c) {
  const auto& p = c.opts.positionals;
  if (p.empty()) return std::nullopt;
  Target t{p[0], {}};
  for (std::size_t i = 1; i < p.size(); ++i) {
    std::string f = p[i];
    const std::size_t colon = f.rfind(':');
    if (colon != std::string::npos && colon > 0 && !is_dir(c.cwd, f)) {
      struct stat st {};
      const std::string full = f.starts_with('/') ? f : c.cwd + "/" + f;
      if (::stat(full.c_str(), &st) != 0) f.resize(colon);
    }
    t.files.push_back(f);
  }
  return t;
}

// npm/yarn/pnpm publish [tarball|folder]: a folder is the package source,
// packed by the tool itself, so only a named tarball is a file.
std::optional<Target> package_publish(const Command& c) {
  std::string dest = c.opts.value({"--registry"});
  if (dest.empty()) dest = c.tool == "yarn" ? "https://registry.yarnpkg.com" : "https://registry.npmjs.org";
  Target t{dest, {}};
  const auto& p = c.opts.positionals;
  if (!p.empty() && !is_dir(c.cwd, p[0])) t.files.push_back(p[0]);
  return t;
}

std::optional<Target> twine_upload(const Command& c) {
  std::string dest = c.opts.value({"--repository-url"});
  if (dest.empty()) dest = c.opts.value({"-r", "--repository"});
  return Target{dest.empty() ? "pypi" : dest, c.opts.positionals};
}

// -DaltDeploymentRepository=id::url (Maven 3.9) or id::layout::url.
std::string maven_property(const Parsed& opts, string_view name) {
  std::string found;
  for (const auto& d : opts.values({"-D"}))
    if (d.size() > name.size() && d.starts_with(name) && d[name.size()] == '=') found = d.substr(name.size() + 1);
  return found;
}

bool is_deploy_goal(string_view g) {
  return g == "deploy" || g.starts_with("deploy:") || g.ends_with(":deploy") || g.ends_with(":deploy-file");
}

std::optional<Target> maven_deploy(const Command& c) {
  const auto& goals = c.opts.positionals;
  if (std::none_of(goals.begin(), goals.end(), [](const std::string& g) { return is_deploy_goal(g); }))
    return std::nullopt;
  Target t;
  if (std::string repo = maven_property(c.opts, "altDeploymentRepository"); !repo.empty()) {
    const std::size_t sep = repo.rfind("::");
    t.destination = sep == std::string::npos ? repo : repo.substr(sep + 2);
  } else {
    t.destination = maven_property(c.opts, "url");  // deploy:deploy-file
  }
  if (t.destination.empty()) t.destination = "pom.xml distributionManagement";
  for (string_view prop : {"file", "pomFile", "sources", "javadoc"})
    if (std::string f = maven_property(c.opts, prop); !f.empty()) t.files.push_back(f);
  for (string_view f : split(maven_property(c.opts, "files"), ',')) t.files.emplace_back(f);
  return t;
}

// publish, :lib:publish, publishAllPublicationsToSonatypeRepository,
// publishToMavenCentral; not the local ones (publishToMavenLocal,
// publishXPublicationToMavenLocal).
std::optional<Target> gradle_publish(const Command& c) {
  for (const auto& task : c.opts.positionals) {
    const string_view name = string_view(task).substr(task.rfind(':') + 1);
    if (!name.starts_with("publish") || name.ends_with("MavenLocal")) continue;
    if (name == "publishPlugins") return Target{"https://plugins.gradle.org", {}};
    string_view repo;
    if (const std::size_t to = name.find("To", 7); to != string_view::npos) repo = name.substr(to + 2);
    if (repo.size() > 10 && repo.ends_with("Repository")) repo.remove_suffix(10);
    return Target{repo.empty() ? "build script publishing.repositories" : std::string(repo), {}};
  }
  return std::nullopt;
}

std::optional<Target> gem_push(const Command& c) {
  const std::string host = c.opts.value({"--host"});
  return Target{host.empty() ? "https://rubygems.org" : host, c.opts.positionals};
}

std::optional<Target> cargo_publish(const Command& c) {
  std::string dest = c.opts.value({"--index"});
  if (dest.empty()) dest = c.opts.value({"--registry"});
  return Target{dest.empty() ? "crates.io" : dest, {}};
}

std::optional<Target> nuget_push(const Command& c) {
  const std::string src = c.opts.value({"-Source", "-source", "-src", "-s", "--source"});
  return Target{src.empty() ? "https://api.nuget.org/v3/index.json" : src, c.opts.positionals};
}

std::optional<Target> chart_push(const Command& c) {
  const auto& p = c.opts.positionals;
  if (p.size() < 2) return std::nullopt;
  return Target{p[1], {p[0]}};
}

// cp/sync/mv SRC DST: an upload when DST is in the bucket and SRC is local.
std::optional<Target> s3_copy(const Command& c) {
  std::vector<std::string> p;
  for (const auto& a : c.opts.positionals)  // values of a bare --sse
    if (a != "AES256" && !a.starts_with("aws:kms")) p.push_back(a);
  if (p.size() < 2 || !p.back().starts_with("s3://") || is_url(p[p.size() - 2])) return std::nullopt;
  Target t{p.back(), {}};
  if (p[p.size() - 2] != "-") t.files.push_back(p[p.size() - 2]);
  return t;
}

// gsutil/gcloud storage cp|rsync|mv SRC... DST.
std::optional<Target> gs_copy(const Command& c) {
  const auto& p = c.opts.positionals;
  if (p.size() < 2 || !is_url(p.back())) return std::nullopt;
  Target t{p.back(), {}};
  bool local = false;
  for (std::size_t i = 0; i + 1 < p.size(); ++i) {
    if (is_url(p[i])) continue;
    local = true;
    if (p[i] != "-") t.files.push_back(p[i]);
  }
  if (!local) return std::nullopt;
  return t;
}

std::string blob_url(const Parsed& o, const std::string& container, const std::string& path) {
  std::string account = o.value({"--account-name"});
  if (account.empty()) account = "<account>";
  std::string url = "https://" + account + ".blob.core.windows.net/" + container;
  if (!path.empty()) url += "/" + path;
  return url;
}

std::optional<Target> az_blob_upload(const Command& c) {
  const Parsed& o = c.opts;
  std::string dest = o.value({"--blob-url"});
  if (dest.empty()) dest = blob_url(o, o.value({"--container-name", "-c"}), o.value({"--name", "-n"}));
  Target t{dest, {}};
  if (std::string f = o.value({"--file", "-f"}); !f.empty()) t.files.push_back(f);
  return t;
}

std::optional<Target> az_blob_upload_batch(const Command& c) {
  const Parsed& o = c.opts;
  std::string dest = o.value({"--destination", "-d"});
  if (!is_url(dest)) dest = blob_url(o, dest, o.value({"--destination-path"}));
  Target t{dest, {}};
  if (std::string s = o.value({"--source", "-s"}); !s.empty()) t.files.push_back(s);
  return t;
}

std::optional<Target> jfrog_upload(const Command& c) {
  const auto& p = c.opts.positionals;
  std::string base = c.opts.value({"--url"});
  if (base.empty()) base = c.opts.value({"--server-id"});
  if (p.size() < 2) {
    const std::string spec = c.opts.value({"--spec"});
    if (spec.empty()) return std::nullopt;
    return Target{base.empty() ? "file spec " + spec : base, {}};
  }
  if (!base.empty() && !base.ends_with('/')) base += '/';
  return Target{base + p[1], {p[0]}};
}

std::string release_destination(const Parsed& o, const std::string& tag) {
  std::string repo = o.value({"-R", "--repo"});
  if (repo.empty()) return "release " + tag + " of the checked-out repository";
  if (std::count(repo.begin(), repo.end(), '/') < 2) repo = "github.com/" + repo;
  return "https://" + repo + "/releases/tag/" + tag;
}

// gh release upload|create TAG FILE[#label]...
std::optional<Target> gh_release(const Command& c) {
  const auto& p = c.opts.positionals;
  if (p.size() < 2) return std::nullopt;
  Target t{release_destination(c.opts, p[0]), {}};
  for (std::size_t i = 1; i < p.size(); ++i) t.files.push_back(p[i].substr(0, p[i].find('#')));
  return t;
}

// "-F name=@file;type=x" and "name=<file" read a file into a form field.
std::optional<std::string> form_file(const std::string& field) {
  const std::size_t eq = field.find('=');
  if (eq == std::string::npos || eq + 1 >= field.size()) return std::nullopt;
  if (field[eq + 1] != '@' && field[eq + 1] != '<') return std::nullopt;
  std::string path = field.substr(eq + 2);
  if (path.starts_with('"')) {
    const std::size_t close = path.find('"', 1);
    return path.substr(1, close == std::string::npos ? std::string::npos : close - 1);
  }
  return path.substr(0, path.find(';'));
}

std::optional<Target> curl_upload(const Command& c) {
  const Parsed& o = c.opts;
  std::vector<std::string> sources = o.values({"-T", "--upload-file"});
  for (const auto& f : o.values({"-F", "--form"}))
    if (auto path = form_file(f)) sources.push_back(*path);
  for (const auto& d : o.values({"--data-binary", "-d", "--data", "--data-ascii", "--json"}))
    if (d.starts_with('@')) sources.push_back(d.substr(1));
  for (const auto& d : o.values({"--data-urlencode"}))
    if (const std::size_t at = d.find('@'); at != std::string::npos && d.substr(0, at).find('=') == std::string::npos)
      sources.push_back(d.substr(at + 1));
  if (sources.empty()) return std::nullopt;
  std::string url = o.value({"--url"});
  if (url.empty() && !o.positionals.empty()) url = o.positionals[0];
  Target t{url, {}};
  for (auto& s : sources)
    if (s != "-" && s != ".") t.files.push_back(s);  // stdin
  return t;
}

// [user@]host:path, host::module, scp:// or rsync:// -- but not ./a:b or /a:b.
bool is_remote(string_view s) {
  if (s.starts_with("scp://") || s.starts_with("rsync://") || s.starts_with("sftp://")) return true;
  if (s.empty() || s[0] == '/' || s[0] == '.') return false;
  const std::size_t colon = s.find(':');
  return colon != string_view::npos && colon > 0 && colon < s.find('/');
}

// "user@host:path" -> "host:path"; the user name is an account, not a place.
std::string remote_place(const std::string& dst) {
  if (is_url(dst)) return dst;
  const std::size_t colon = dst.find(':');
  const std::size_t at = dst.substr(0, colon).rfind('@');
  return at == std::string::npos ? dst : dst.substr(at + 1);
}

std::optional<Target> remote_copy(const Command& c) {
  const auto& p = c.opts.positionals;
  if (p.size() < 2 || !is_remote(p.back())) return std::nullopt;
  Target t{remote_place(p.back()), {}};
  for (std::size_t i = 0; i + 1 < p.size(); ++i)
    if (!is_remote(p[i])) t.files.push_back(p[i]);
  if (t.files.empty()) return std::nullopt;  // remote to remote
  return t;
}

// gitlab-runner artifacts-uploader --url URL --id JOB --path P...: the job's
// artifacts endpoint. The flags fall back to CI_SERVER_URL and CI_JOB_ID.
std::optional<Target> gitlab_artifacts(const Command& c) {
  std::string url = c.opts.value({"--url"});
  while (url.ends_with('/')) url.pop_back();
  std::string id = c.opts.value({"--id"});
  Target t{(url.empty() ? "$CI_SERVER_URL" : url) + "/api/v4/jobs/" + (id.empty() ? "$CI_JOB_ID" : id) + "/artifacts",
           {}};
  for (const auto& path : c.opts.values({"--path"}))
    for (auto& f : expand(c.cwd, path)) t.files.push_back(std::move(f));
  return t;
}

// buildkite-agent artifact upload "PATTERN[;PATTERN...]" [DESTINATION]
std::optional<Target> buildkite_upload(const Command& c) {
  const auto& p = c.opts.positionals;
  if (p.empty()) return std::nullopt;
  Target t{p.size() > 1 ? p[1] : "Buildkite artifact storage", {}};
  std::string delimiter = c.opts.value({"--delimiter"});
  if (delimiter.empty()) delimiter = ";";
  const bool literal = c.opts.has({"--literal"});
  for (string_view rest = p[0]; !rest.empty();) {
    const std::size_t d = rest.find(delimiter);
    const std::string pattern(rest.substr(0, d));
    rest = d == string_view::npos ? string_view() : rest.substr(d + delimiter.size());
    if (pattern.empty()) continue;
    if (literal)
      t.files.push_back(pattern);
    else
      for (auto& f : expand(c.cwd, pattern)) t.files.push_back(std::move(f));
  }
  return t;
}

// actions/upload-artifact, its node process: dist/upload/index.js (v4),
// dist/index.js (v3); dist/merge/index.js merges artifacts already stored.
// The files come from the action's `path` input, an environment variable
// argv does not show, so only the action is known.
std::optional<Target> upload_artifact(const Command& c) {
  const auto action = github_action(c.invoked);
  if (!action || (action->entry != "dist/upload/index.js" && action->entry != "dist/index.js")) return std::nullopt;
  return Target{action->path, {}};
}

// ---- the table ------------------------------------------------------------------

struct Recogniser {
  string_view tool;          // ArtifactUpload::tool; "" = the invoked tool's name
  string_view exes;          // tool names (argv[0] or exe base name), space-separated
  string_view words;         // subcommand words; '|' between alternatives; "" = none
  string_view global_flags;  // flags before the words that take a value
  string_view value_flags;   // flags after the words that take a value
  Extract extract;
  // For reference_parts():
  string_view usage;
  string_view destination;
  string_view files;
};

constexpr string_view kDockerGlobal = "--config -c --context -H --host -l --log-level --tlscacert --tlscert --tlskey";
constexpr string_view kAwsGlobal =
    "--profile --region --endpoint-url --output --query --ca-bundle --cli-read-timeout --cli-connect-timeout "
    "--color --cli-binary-format";
constexpr string_view kGcloudFlags =
    "--project --account --configuration --impersonate-service-account --verbosity --format --billing-project "
    "--content-type --cache-control --content-encoding --content-disposition --content-language "
    "--custom-metadata --predefined-acl --storage-class --encryption-key --manifest-path --exclude -x";

constexpr Recogniser kRecognisers[] = {
    {"", "docker podman buildah nerdctl", "push|image push", kDockerGlobal,
     "--platform --authfile --cert-dir --creds --digestfile --format -f --compression-format "
     "--compression-level --sign-by --sign-passphrase-file --encryption-key --retry --retry-delay "
     "--signature-policy --sign-by-sigstore --sign-by-sigstore-private-key",
     image_push, "IMAGE [DEST]", "image reference (DEST when given)", "none"},
    {"", "docker", "buildx build|build|image build", kDockerGlobal,
     "-t --tag -f --file --build-arg --platform -o --output --target --secret --ssh --cache-from --cache-to "
     "--label --network --progress --iidfile --metadata-file --builder --build-context --attest --annotation "
     "--sbom --provenance --shm-size --ulimit --add-host --allow",
     image_build_push, "--push -t REF... CONTEXT", "the -t references (also with --output type=registry)", "none"},
    {"crane", "crane", "push", "", "--image-refs --platform", crane_push, "TARBALL REF", "REF", "TARBALL"},
    {"oras", "oras", "push", "",
     "--config --artifact-type -a --annotation --annotation-file --export-manifest --image-spec -u --username "
     "-p --password --registry-config --format --concurrency --distribution-spec",
     oras_push, "REF FILE[:TYPE]...", "REF", "each FILE"},
    {"", "npm pnpm yarn", "publish", "--registry -w --workspace --filter -F -C --dir --userconfig",
     "--registry --tag --access --otp -w --workspace --userconfig --new-version --message --filter -F", package_publish,
     "[TARBALL|FOLDER]", "--registry, else registry.npmjs.org (yarn: registry.yarnpkg.com)",
     "TARBALL when named (a folder is packed by the tool)"},
    {"yarn", "yarn", "npm publish", "", "--tag --access --otp", package_publish, "",
     "the npmPublishRegistry of .yarnrc.yml, reported as registry.yarnpkg.com", "none (packed by yarn)"},
    {"twine", "twine", "upload", "",
     "-r --repository --repository-url -u --username -p --password -c --comment --sign-with -i --identity "
     "--config-file --cert --client-cert",
     twine_upload, "DIST...", "--repository-url, else -r NAME, else pypi", "each DIST"},
    {"maven", "mvn mvnw", "", "",
     "-D -P -pl --projects -f --file -s --settings -gs --global-settings -t --toolchains -T --threads -rf "
     "--resume-from -l --log-file -b --builder -emp --encrypt-master-password -ep --encrypt-password",
     maven_deploy, "[...] deploy | deploy:deploy-file -Durl=URL -Dfile=FILE",
     "-DaltDeploymentRepository URL, -Durl, else pom.xml distributionManagement", "-Dfile, -Dfiles, -DpomFile"},
    {"gradle", "gradle gradlew", "", "",
     "-P -D -x --exclude-task -p --project-dir -b --build-file -c --settings-file -g --gradle-user-home -I "
     "--init-script --include-build --console --warning-mode --max-workers --priority --project-cache-dir "
     "-M --write-verification-metadata --dependency-verification",
     gradle_publish, "[...] publish | publish<X>To<Repo>Repository",
     "the repository named by the task, else the build script's repositories", "none (built by the task)"},
    {"gem", "gem", "push", "", "--host -k --key --otp -p --http-proxy", gem_push, "GEM", "--host, else rubygems.org",
     "GEM"},
    {"cargo", "cargo", "publish", "-Z -C --config",
     "--registry --index --token --manifest-path -p --package --target --target-dir -j --jobs --features -F "
     "--config -Z",
     cargo_publish, "", "--index, else --registry, else crates.io", "none (packed from the crate)"},
    {"nuget", "nuget", "push", "",
     "-Source -source -src -ApiKey -apikey -k -SymbolSource -SymbolApiKey -Timeout -ConfigFile -Verbosity", nuget_push,
     "PACKAGE", "-Source, else nuget.org", "PACKAGE"},
    {"nuget", "dotnet", "nuget push", "",
     "-s --source -k --api-key -ss --symbol-source -sk --symbol-api-key -t --timeout", nuget_push, "PACKAGE",
     "--source, else nuget.org", "PACKAGE"},
    {"helm", "helm", "push|cm-push", "--kube-context -n --namespace --registry-config --repository-config",
     "--ca-file --cert-file --key-file --username -u --password -p --context-path --version -v "
     "--access-token --timeout",
     chart_push, "CHART REMOTE", "REMOTE (oci://... or repository)", "CHART"},
    {"aws-s3", "aws", "s3 cp|s3 sync|s3 mv", kAwsGlobal,
     "--exclude --include --acl --grants --storage-class --sse-c --sse-c-key --sse-kms-key-id "
     "--sse-c-copy-source --sse-c-copy-source-key --content-type --cache-control --content-disposition "
     "--content-encoding --content-language --expires --metadata --metadata-directive --website-redirect "
     "--expected-size --page-size --request-payer --source-region --copy-props --checksum-algorithm "
     "--checksum-mode --profile --region --endpoint-url --output --query --ca-bundle",
     s3_copy, "LOCAL s3://BUCKET/KEY", "the s3:// URL", "LOCAL (a directory: the files under it)"},
    {"gsutil", "gsutil", "cp|rsync|mv", "-o -h -u -i", "-a -z -j -L -s -x -i -h -o", gs_copy,
     "LOCAL... gs://BUCKET/PATH", "the last argument", "each LOCAL (directories: the files under them)"},
    {"gcloud-storage", "gcloud", "storage cp|storage rsync|storage mv", kGcloudFlags, kGcloudFlags, gs_copy,
     "LOCAL... gs://BUCKET/PATH", "the last argument", "each LOCAL (directories: the files under them)"},
    {"az-storage", "az", "storage blob upload", "",
     "--file -f --container-name -c --name -n --account-name --account-key --connection-string --sas-token "
     "--blob-url --auth-mode --content-type --content-encoding --content-md5 --content-cache-control "
     "--content-disposition --content-language --metadata --tier --type -t --subscription --timeout "
     "--max-connections --if-match --if-none-match --lease-id --socket-timeout --output -o --query",
     az_blob_upload, "--file FILE --container-name C --name N [--account-name A]",
     "--blob-url, else https://A.blob.core.windows.net/C/N", "FILE"},
    {"az-storage", "az", "storage blob upload-batch", "",
     "--source -s --destination -d --destination-path --pattern --account-name --account-key "
     "--connection-string --sas-token --auth-mode --content-type --metadata --tier --subscription --timeout "
     "--max-connections --output -o --query",
     az_blob_upload_batch, "--source DIR --destination C", "https://A.blob.core.windows.net/C[/PATH]",
     "the files under DIR"},
    {"jfrog", "jf jfrog", "rt upload|rt u", "",
     "--url --user --password --access-token --server-id --spec --spec-vars --props --target-props "
     "--build-name --build-number --module --exclusions --threads --retries --retry-wait-time --deb "
     "--ssh-key-path --ssh-passphrase --client-cert-path --client-cert-key-path --split-count --min-split",
     jfrog_upload, "SOURCE TARGET | --spec FILE", "--url (or --server-id) + TARGET", "SOURCE"},
    {"gh", "gh", "release upload|release create", "-R --repo",
     "-R --repo -n --notes -F --notes-file -t --title --target --discussion-category --notes-start-tag", gh_release,
     "TAG FILE[#label]...", "https://github.com/OWNER/REPO/releases/tag/TAG (-R), else the release", "each FILE"},
    {"curl", "curl", "", "",
     "-o --output -H --header -u --user -X --request -d --data --data-binary --data-raw --data-urlencode "
     "--data-ascii -F --form --form-string -T --upload-file -A --user-agent -e --referer -b --cookie -c "
     "--cookie-jar -w --write-out -x --proxy -U --proxy-user -m --max-time --connect-timeout --retry "
     "--retry-delay --retry-max-time -K --config -E --cert --key --cacert --capath --cert-type --key-type "
     "--pass --resolve --connect-to --interface --limit-rate -r --range -Y -y -z --time-cond --url "
     "--oauth2-bearer --aws-sigv4 --json --output-dir --proto --proto-redir --max-redirs --max-filesize "
     "--ciphers -C --continue-at -D --dump-header --trace --trace-ascii --stderr --netrc-file --unix-socket "
     "--dns-servers --doh-url --pubkey --crlfile -Q --quote --variable --expect100-timeout --local-port",
     curl_upload, "-T FILE | --upload-file FILE | -F name=@FILE | --data-binary @FILE  URL", "the URL",
     "each FILE (stdin is not a file)"},
    {"scp", "scp", "", "", "-P -i -o -F -c -l -S -J -D -X", remote_copy, "LOCAL... [USER@]HOST:PATH", "HOST:PATH",
     "each LOCAL (directories: the files under them)"},
    {"rsync", "rsync", "", "",
     "-e --rsh -f --filter --exclude --include --exclude-from --include-from --files-from -B --block-size -T "
     "--temp-dir --port --password-file --chmod --chown --log-file --partial-dir --backup-dir --suffix "
     "--rsync-path --timeout --bwlimit --max-size --min-size --compare-dest --copy-dest --link-dest -M "
     "--remote-option --out-format --info --debug --usermap --groupmap --skip-compress --iconv "
     "--modify-window --max-delete --contimeout --sockopts --outbuf --checksum-choice --compress-choice",
     remote_copy, "LOCAL... [USER@]HOST:PATH | HOST::MODULE | rsync://HOST/MODULE", "HOST:PATH",
     "each LOCAL (directories: the files under them)"},
    {"gitlab-runner", "gitlab-runner gitlab-runner-helper", "artifacts-uploader",
     "--log-level -l --log-format --cpuprofile",
     "--url --token --id --path --exclude --name --expire-in --artifact-format --artifact-type "
     "--compression-level --tls-ca-file --tls-cert-file --tls-key-file --retry --retry-time",
     gitlab_artifacts, "--url URL --token TOKEN --id JOB --path PATH...",
     "URL/api/v4/jobs/JOB/artifacts (without --url, --id: CI_SERVER_URL, CI_JOB_ID)",
     "each PATH (globs expanded, directories: the files under them)"},
    {"buildkite-agent", "buildkite-agent", "artifact upload", "",
     "--job --content-type --delimiter --agent-access-token --endpoint --log-level --experiment --profile "
     "--redacted-vars",
     buildkite_upload, "PATTERN[;PATTERN...] [DESTINATION]",
     "DESTINATION (s3://, gs://, rt://, Azure Blob URL), else Buildkite artifact storage",
     "the files each PATTERN matches (not with --literal)"},
    {"actions/upload-artifact", "actions/upload-artifact", "", "", "", upload_artifact,
     "(node <work>/_actions/actions/upload-artifact/REF/dist/upload/index.js)",
     "the action path, `<work>/_actions/actions/upload-artifact/REF`",
     "none (they are the action's `path` input, which argv does not show)"},
};

// ---- matching ---------------------------------------------------------------------

// Where the subcommand words are, skipping global flags before each word
// (docker --config DIR push, gsutil -m cp, cargo +nightly publish).
std::optional<std::vector<std::size_t>> match_words(const Args& args, string_view words, string_view global_flags) {
  if (words.empty()) return std::vector<std::size_t>{};
  for (string_view alt : split(words, '|')) {
    std::vector<std::size_t> at;
    std::size_t i = 1;
    for (string_view w : split(alt, ' ')) {
      while (i < args.size() && args[i].size() > 1 && (args[i][0] == '-' || args[i][0] == '+'))
        i += in_list(global_flags, args[i]) ? 2 : 1;
      if (i >= args.size() || args[i] != w) break;
      at.push_back(i++);
    }
    if (at.size() == split(alt, ' ').size()) return at;
  }
  return std::nullopt;
}

// Options before and after the subcommand words, parsed together: npm
// --registry X publish and npm publish --registry X mean the same.
Parsed parse_command(const Args& args, const std::vector<std::size_t>& words, const Recogniser& r) {
  Args rest;
  for (std::size_t i = 1; i < args.size(); ++i)
    if (std::find(words.begin(), words.end(), i) == words.end()) rest.push_back(args[i]);
  const std::string flags = std::string(r.global_flags) + " " + std::string(r.value_flags);
  return parse(rest, flags);
}

// The tool and its arguments, launchers and interpreters removed.
struct Invocation {
  std::string tool;
  Args args;  // args[0] is the tool
};

Invocation from(const Args& argv, std::size_t first, std::string tool) {
  Invocation inv{std::move(tool), Args(argv.begin() + static_cast<std::ptrdiff_t>(first), argv.end())};
  return inv;
}

// npx [--yes] [-p pkg] TOOL[@version] ...
std::optional<Invocation> unwrap_npx(const Args& argv) {
  for (std::size_t i = 1; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a == "-p" || a == "--package" || a == "-c" || a == "--call") {
      ++i;
      continue;
    }
    if (a.starts_with('-')) continue;
    std::string name = a;
    if (const std::size_t at = name.find('@', 1); at != std::string::npos) name.resize(at);
    return from(argv, i, tool_name(name));
  }
  return std::nullopt;
}

// python3 [-u] -m twine ..., python3 path/to/gcloud.py ..., node npm-cli.js ...
std::optional<Invocation> unwrap_interpreter(const Args& argv, string_view interpreter) {
  const bool python = interpreter.starts_with("python");
  for (std::size_t i = 1; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (python && a == "-m" && i + 1 < argv.size()) {
      std::string module = argv[i + 1];
      if (module == "azure.cli") module = "az";
      if (module == "awscli") module = "aws";
      return from(argv, i + 1, module);
    }
    if (a == "-c" || a == "-e" || a == "--eval") return std::nullopt;  // inline code
    if (python && (a == "-W" || a == "-X")) {
      ++i;
      continue;
    }
    if (a.starts_with('-')) continue;
    // A bundled GitHub action (OWNER/REPO/REF/dist/...) is named OWNER/REPO;
    // a tool an action merely vendors keeps its own name.
    if (auto action = github_action(a); action && action->entry.starts_with("dist/"))
      return from(argv, i, action->name);
    return from(argv, i, tool_name(a));
  }
  return std::nullopt;
}

std::optional<Invocation> unwrap(const Args& argv, const std::string& tool) {
  if (tool == "npx") return unwrap_npx(argv);
  if (tool.starts_with("python") || in_list("node nodejs ruby sh bash dash", tool))
    return unwrap_interpreter(argv, tool);
  return Invocation{tool, argv};
}

// ---- files -----------------------------------------------------------------------------

std::string absolute(const std::string& cwd, const std::string& p) {
  std::filesystem::path path = p.starts_with('/') ? std::filesystem::path(p) : std::filesystem::path(cwd) / p;
  std::string s = path.lexically_normal().string();
  while (s.size() > 1 && s.ends_with('/')) s.pop_back();
  return s;
}

class FileCollector {
 public:
  FileCollector(digest::Cache& digests, events::FileList& out) : digests_(digests), out_(out) {}

  void add(const std::string& path) {
    if (truncated_) return;
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      walk(path, 0);
      if (truncated_) note_cut(path);
      return;
    }
    if (!room()) {
      note_cut(path.substr(0, path.rfind('/')));
      return;
    }
    file(path);
  }

 private:
  bool room() {
    truncated_ = truncated_ || out_.size() >= kMaxFiles;
    return !truncated_;
  }

  void note_cut(const std::string& dir) { out_.push_back(events::FileDigest{dir + "/...", 0, ""}); }

  void file(const std::string& path) {
    events::FileDigest d{path, 0, ""};
    if (auto r = digests_.file(path)) {
      d.size = r->size;
      d.sha256 = r->sha256;
    }
    out_.push_back(std::move(d));
  }

  static std::vector<std::string> sorted_entries(const std::string& dir) {
    std::vector<std::string> names;
    DIR* d = ::opendir(dir.c_str());
    if (!d) return names;
    while (const dirent* e = ::readdir(d)) {
      const string_view n = e->d_name;
      if (n != "." && n != "..") names.emplace_back(n);
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    return names;
  }

  static bool is_regular_file(const std::string& path, const struct stat& lst) {
    struct stat st {};
    return S_ISREG(lst.st_mode) || (S_ISLNK(lst.st_mode) && ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode));
  }

  // Directory symlinks are not followed (no loops); file symlinks are.
  void walk(const std::string& dir, int depth) {
    if (depth > kMaxDepth) return;
    for (const std::string& name : sorted_entries(dir)) {
      const std::string path = dir + "/" + name;
      struct stat lst {};
      if (::lstat(path.c_str(), &lst) != 0) continue;
      if (S_ISDIR(lst.st_mode)) {
        walk(path, depth + 1);
      } else if (is_regular_file(path, lst)) {
        if (!room()) return;
        file(path);
      }
      if (truncated_) return;
    }
  }

  digest::Cache& digests_;
  events::FileList& out_;
  bool truncated_ = false;
};

std::optional<events::ArtifactUpload> try_recognisers(const Invocation& inv, const std::string& cwd,
                                                      digest::Cache& digests) {
  for (const Recogniser& r : kRecognisers) {
    if (!in_list(r.exes, inv.tool)) continue;
    const auto words = match_words(inv.args, r.words, r.global_flags);
    if (!words) continue;
    const Command cmd{inv.tool, inv.args[0], parse_command(inv.args, *words, r), cwd};
    const auto target = r.extract(cmd);
    if (!target) continue;
    events::ArtifactUpload up;
    up.tool = r.tool.empty() ? inv.tool : std::string(r.tool);
    up.destination = redact::url(target->destination);
    FileCollector files(digests, up.files);
    for (const auto& f : target->files) files.add(absolute(cwd, f));
    return up;
  }
  return std::nullopt;
}

}  // namespace

std::optional<events::ArtifactUpload> recognise(const std::vector<std::string>& argv, const std::string& exe,
                                                const std::string& cwd, digest::Cache& digests) {
  if (argv.empty()) return std::nullopt;
  if (auto inv = unwrap(argv, tool_name(argv[0])))
    if (auto up = try_recognisers(*inv, cwd, digests)) return up;
  // argv[0] may be anything (a symlink name, "-bash", a full path of a wrapper).
  const std::string by_exe = tool_name(exe);
  if (by_exe.empty() || by_exe == tool_name(argv[0])) return std::nullopt;
  Args renamed = argv;
  renamed[0] = by_exe;
  if (auto inv = unwrap(renamed, by_exe)) return try_recognisers(*inv, cwd, digests);
  return std::nullopt;
}

namespace {

// A table cell: '|' would end it, even inside a code span.
std::string cell(string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

std::string tool_cell(const Recogniser& r) {
  if (!r.tool.empty()) return "`" + std::string(r.tool) + "`";
  if (split(r.exes, ' ').size() == 1) return "`" + std::string(r.exes) + "`";
  std::string t;
  for (string_view exe : split(r.exes, ' ')) t += (t.empty() ? "`" : ", `") + std::string(exe) + "`";
  return t + " (as invoked)";
}

std::string commands_cell(const Recogniser& r) {
  const auto exes = split(r.exes, ' ');
  std::string forms;
  const auto alternatives = r.words.empty() ? std::vector<string_view>{""} : split(r.words, '|');
  for (string_view words : alternatives) {
    std::string f = std::string(exes.front());
    if (!words.empty()) f += " " + std::string(words);
    if (!r.usage.empty()) f += " " + std::string(r.usage);
    forms += (forms.empty() ? "`" : "<br>`") + cell(f) + "`";
  }
  if (exes.size() > 1) {
    forms += "<br>also as ";
    for (std::size_t i = 1; i < exes.size(); ++i) forms += (i > 1 ? ", `" : "`") + std::string(exes[i]) + "`";
  }
  return forms;
}

}  // namespace

std::vector<markdown::Part> reference_parts() {
  std::string md = "| tool | commands | destination | files |\n| --- | --- | --- | --- |\n";
  for (const Recogniser& r : kRecognisers)
    md += "| " + tool_cell(r) + " | " + commands_cell(r) + " | " + cell(r.destination) + " | " + cell(r.files) + " |\n";
  return {{"limit", "At most " + std::to_string(kMaxFiles) + " files are listed per upload.\n"}, {"tools", md}};
}

}  // namespace bt::agent::uploads

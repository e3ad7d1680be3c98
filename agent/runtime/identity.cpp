#include "agent/runtime/identity.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <sys/file.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "common/batch/batch.h"
#include "common/bounds.h"
#include "common/fs.h"
#include "common/text.h"

namespace bt::agent::identity {

namespace {

std::string sanitized_hostname() {
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  std::string out;
  for (const char* p = host; *p && out.size() < 40; ++p) {
    const char c = *p;
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    out += ok ? c : '-';
  }
  return out.empty() ? "agent" : out;
}

std::string os_pretty_name() {
  std::ifstream in("/etc/os-release");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("PRETTY_NAME=", 0) == 0) {
      std::string v = line.substr(12);
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
      return v;
    }
  }
  return "Linux";
}

}  // namespace

Inventory inventory() {
  Inventory inv;
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  inv.hostname = host;
  inv.os = os_pretty_name();
  utsname u{};
  if (::uname(&u) == 0) inv.kernel = u.release;
  // The CI system this host serves, from the runner's well-known markers.
  if (std::getenv("JENKINS_URL") || std::getenv("JENKINS_HOME"))
    inv.ci = "jenkins";
  else if (std::getenv("GITHUB_ACTIONS"))
    inv.ci = "github";
  else if (std::getenv("GITLAB_CI"))
    inv.ci = "gitlab";
  else if (std::getenv("BUILDKITE"))
    inv.ci = "buildkite";
  else if (std::getenv("TF_BUILD"))
    inv.ci = "azure";
  else if (std::getenv("CIRCLECI"))
    inv.ci = "circleci";
  return inv;
}

Result<Identity> load_or_create(const std::string& state_dir) {
  Identity id;
  id.state_dir = state_dir;
  auto state = fs::PrivateDir::open(state_dir, true);
  if (!state) return state.error();
  id.state = std::move(*state);
  const fs::PrivateDir& dir = id.state;
  // Several agents may start at once on one state folder (`run` per
  // executor): one creates the identity, the others wait and load it.
  auto lock = dir.open_lock("identity.lock");
  if (!lock) return lock.error();
  if (::flock(lock->get(), LOCK_EX) != 0)
    return make_error(ErrorCode::kIo, dir.path_of("identity.lock") + ": flock: " + fs::errno_text(errno));
  if (!dir.exists("agent.key")) {
    auto key = crypto::generate_key_pair();
    if (!key) return key.error();
    if (Status s = crypto::write_key_pair(dir, *key); !s) return s.error();
    const std::string agent_id =
        sanitized_hostname() + "-" + crypto::to_hex(crypto::key_id(key->public_key)).substr(0, 12);
    if (Status s = dir.write_atomic("agent.id", agent_id + "\n", 0644); !s) return s.error();
    id.created = true;
  }
  auto key = crypto::load_private_key(dir, "agent.key");
  if (!key) return key.error();
  id.key = *key;
  // What others verify the batches with, and the name they are filed
  // under: no one else may have written them either.
  if (dir.exists("agent.pub"))
    if (Status s = dir.check_file("agent.pub", 022); !s) return s.error();
  auto text = dir.read_owned("agent.id", 256, 022);
  if (!text) return text.error();
  std::string agent_id = *text;
  while (!agent_id.empty() && (agent_id.back() == '\n' || agent_id.back() == ' ')) agent_id.pop_back();
  if (!batch::valid_agent_id(agent_id))
    return make_error(ErrorCode::kMalformed, dir.path_of("agent.id") + ": not a valid agent id");
  id.agent_id = agent_id;
  return id;
}

std::string enroll_request(const Identity& id, const std::string& token) {
  const Inventory inv = inventory();
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  auto kv = [&](const char* k, const std::string& v) {
    w.Key(k);
    w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
  };
  w.StartObject();
  kv("token", token);
  kv("agent_id", id.agent_id);
  kv("public_key", crypto::public_key_pem(id.key.public_key));
  w.Key("inventory");
  w.StartObject();
  // The collector refuses an inventory field over its bound: cut here, so a
  // long os-release name never stops an honest agent from enrolling.
  auto inventory_kv = [&](const char* k, std::string_view v) {
    kv(k, std::string(text::prefix_bytes(v, bounds::inventory_max(k))));
  };
  inventory_kv("hostname", inv.hostname);
  inventory_kv("os", inv.os);
  inventory_kv("kernel", inv.kernel);
  inventory_kv("agent_version", BUILDTRAIL_VERSION);
  inventory_kv("ci", inv.ci);
  w.EndObject();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

bool enrolled_with(const Identity& id, const std::string& collector) {
  auto text = id.state.read("enrolled", 4096);
  return text && *text == collector + "\n";
}

Status mark_enrolled(const Identity& id, const std::string& collector) {
  return id.state.write_atomic("enrolled", collector + "\n", 0600);
}

}  // namespace bt::agent::identity

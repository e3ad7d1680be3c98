// buildtrail-collector agents list|add|revoke|token|findings|pubkey --data DIR ...
// Agent administration: the store is opened read-write for the commands
// that change it (they wait for the ingest writer up to the busy timeout).
#include <sodium.h>

#include <charconv>
#include <cstdio>

#include "collector/cmd/commands.h"
#include "collector/cmd/tool.h"
#include "collector/view/text.h"
#include "collector/view/time.h"
#include "common/batch/batch.h"
#include "common/clock.h"

namespace bt::collector::cmd {

namespace {

const cli::Option kData = {"data", true, "data folder of the collector (as for serve)"};

std::string when(uint64_t ns) { return ns ? view::format_rfc3339(ns) : "never"; }

int list(int argc, char** argv) {
  Tool tool("agents list", "agents list --data DIR", {kData});
  int exit = 0;
  if (!tool.parse(argc, argv, 3, &exit)) return exit;
  if (!tool.args().positionals.empty())
    return tool.usage_error("unexpected argument '" + tool.args().positionals[0] + "'");
  auto db = tool.open_store(/*read_only=*/true);
  if (!db) return tool.error(db.error());
  auto agents = (*db)->agents();
  if (!agents) return tool.error(agents.error());
  if (agents->empty()) {
    std::printf("no agents\n");
    return 0;
  }
  view::Table table({"ID", "HOSTNAME", "REVOKED", "LAST SEEN", "LAST SEQ", "EPOCH", "FINDINGS", "OPEN"});
  for (const auto& a : *agents) {
    table.add({a.id, a.inventory.hostname.empty() ? "-" : a.inventory.hostname, a.revoked ? "yes" : "no",
               when(a.last_seen_ns), std::to_string(a.last_seq), std::to_string(a.epoch), std::to_string(a.findings),
               std::to_string(a.open_findings)});
  }
  table.print(stdout);
  return 0;
}

int add(int argc, char** argv) {
  Tool tool("agents add", "agents add --data DIR --pubkey FILE [--id ID]",
            {kData,
             {"pubkey", true, "the agent's PEM public key (agent.pub from buildtrail-agent keygen)"},
             {"id", true, "agent id (default: agent- and the key id in hex)"}});
  int exit = 0;
  if (!tool.parse(argc, argv, 3, &exit)) return exit;
  const auto& args = tool.args();
  if (!args.positionals.empty()) return tool.usage_error("unexpected argument '" + args.positionals[0] + "'");
  if (args.get("pubkey").empty()) return tool.usage_error("--pubkey FILE is required");
  auto key = crypto::load_public_key(args.get("pubkey"));
  if (!key) return tool.error(key.error());
  store::Agent agent;
  agent.id = args.get("id", "agent-" + crypto::to_hex(crypto::key_id(*key)));
  if (!batch::valid_agent_id(agent.id))
    return tool.usage_error("invalid agent id '" + agent.id + "' (1..64 of A-Z a-z 0-9 _ -)");
  agent.public_key = *key;
  agent.enrolled_ns = clock::now_ns();
  auto db = tool.open_store(/*read_only=*/false);
  if (!db) return tool.error(db.error());
  Status s = (*db)->add_agent(agent);
  if (!s) return tool.error(s.error());
  std::printf("%s\n", agent.id.c_str());
  return 0;
}

// The shape of `agents revoke|findings|pubkey --data DIR ID`: parse, take
// exactly one agent id, open the store, and hand them to `command`.
template <class Command>
int with_one_agent(const std::string& name, int argc, char** argv, bool read_only, Command command) {
  Tool tool("agents " + name, "agents " + name + " --data DIR ID", {kData});
  int exit = 0;
  if (!tool.parse(argc, argv, 3, &exit)) return exit;
  const auto& pos = tool.args().positionals;
  if (pos.size() != 1) return tool.usage_error("give exactly one agent id");
  auto db = tool.open_store(read_only);
  if (!db) return tool.error(db.error());
  return command(tool, **db, pos[0]);
}

int revoke(int argc, char** argv) {
  return with_one_agent("revoke", argc, argv, false, [](const Tool& tool, store::Store& db, const std::string& id) {
    auto revoked = db.revoke_agent(id);
    if (!revoked) return tool.error(revoked.error());
    // Revocation is of the key: other ids holding it go too, and say so.
    std::string others;
    for (const auto& other : *revoked)
      if (other != id) others += (others.empty() ? "" : ", ") + other;
    std::printf("revoked %s and its key%s\n", id.c_str(),
                others.empty() ? "" : (" (also held by " + others + ")").c_str());
    return 0;
  });
}

int token(int argc, char** argv) {
  Tool tool("agents token", "agents token --data DIR [--ttl DURATION] [--uses N]",
            {kData,
             {"ttl", true, "how long the token is valid: 30m, 24h, 7d (default 24h)"},
             {"uses", true, "how many enrollments it allows (default 1)"}});
  int exit = 0;
  if (!tool.parse(argc, argv, 3, &exit)) return exit;
  const auto& args = tool.args();
  if (!args.positionals.empty()) return tool.usage_error("unexpected argument '" + args.positionals[0] + "'");
  auto ttl = view::parse_duration(args.get("ttl", "24h"));
  if (!ttl) return tool.usage_error("--ttl: " + ttl.error().message);
  const std::string uses_text = args.get("uses", "1");
  uint32_t uses = 0;
  const auto [p, ec] = std::from_chars(uses_text.data(), uses_text.data() + uses_text.size(), uses);
  if (ec != std::errc() || p != uses_text.data() + uses_text.size() || uses == 0 || uses > 1000000)
    return tool.usage_error("--uses needs an integer from 1 to 1000000");
  if (sodium_init() < 0) return tool.error("libsodium failed to initialise");
  std::array<uint8_t, 32> secret{};
  randombytes_buf(secret.data(), secret.size());
  store::Token t;
  t.secret = crypto::to_hex(secret);
  sodium_memzero(secret.data(), secret.size());
  const uint64_t now = clock::now_ns();
  t.expires_ns = *ttl > UINT64_MAX - now ? UINT64_MAX : now + *ttl;
  t.uses = uses;
  auto db = tool.open_store(/*read_only=*/false);
  if (!db) return tool.error(db.error());
  Status s = (*db)->add_token(t);
  if (!s) return tool.error(s.error());
  // The token alone on the last line, so scripts can take `tail -n 1`.
  std::printf("enrollment token for %u enrollment%s, expires %s (shown only once):\n%s\n", uses, uses == 1 ? "" : "s",
              view::format_rfc3339(t.expires_ns).c_str(), t.secret.c_str());
  return 0;
}

// open, narrowed (a gap still open, changed since recorded), extended (a
// clock finding that later batches joined) or resolved, with when.
std::string status_of(const store::Finding& f) {
  if (f.resolved_ns) return "resolved " + view::format_rfc3339(f.resolved_ns);
  if (f.updated_ns)
    return (f.kind == store::FindingKind::kClock ? "extended " : "narrowed ") + view::format_rfc3339(f.updated_ns);
  return "open";
}

int findings(int argc, char** argv) {
  return with_one_agent("findings", argc, argv, true, [](const Tool& tool, store::Store& db, const std::string& id) {
    auto found = db.findings(id);
    if (!found) return tool.error(found.error());
    if (found->empty()) {
      std::printf("no findings for %s\n", view::printable(id).c_str());
      return 0;
    }
    view::Table table({"ID", "KIND", "SEQ", "FROM", "TO", "RECORDED", "STATUS", "DETAIL"});
    for (const auto& f : *found) {
      const std::string seq = f.seq_from == f.seq_to ? std::to_string(f.seq_from)
                                                     : std::to_string(f.seq_from) + ".." + std::to_string(f.seq_to);
      table.add({std::to_string(f.id), store::finding_kind_name(f.kind), seq,
                 f.time_from_ns ? view::format_rfc3339(f.time_from_ns) : "-",
                 f.time_to_ns ? view::format_rfc3339(f.time_to_ns) : "-", when(f.recorded_ns), status_of(f),
                 f.note.empty() ? f.detail : f.detail + "; " + f.note});
    }
    table.print(stdout);
    return 0;
  });
}

// The enrolled key as PEM, for `buildtrail-collector verify --pubkey` on
// archived batches.
int pubkey(int argc, char** argv) {
  return with_one_agent("pubkey", argc, argv, true, [](const Tool& tool, store::Store& db, const std::string& id) {
    auto agent = db.agent(id);
    if (!agent) return tool.error(agent.error());
    if (!*agent) return tool.error("no agent '" + id + "'");
    std::fputs(crypto::public_key_pem((*agent)->public_key).c_str(), stdout);
    return 0;
  });
}

constexpr const char* kUsage =
    "usage: buildtrail-collector agents COMMAND --data DIR ...\n\n"
    "commands:\n"
    "  list                         agents with last seen, last seq, epoch, findings\n"
    "  add --pubkey FILE [--id ID]  enrol an agent by its public key; prints its id\n"
    "  revoke ID                    refuse the agent's key from now on, under any id\n"
    "  token [--ttl D] [--uses N]   new enrollment token, alone on the last line\n"
    "  findings ID                  integrity findings recorded for an agent\n"
    "  pubkey ID                    the agent's public key (PEM), for verify --pubkey\n";

}  // namespace

int agents(int argc, char** argv) {
  return dispatch(
      "agents", kUsage,
      {{"list", list}, {"add", add}, {"revoke", revoke}, {"token", token}, {"findings", findings}, {"pubkey", pubkey}},
      argc, argv);
}

}  // namespace bt::collector::cmd

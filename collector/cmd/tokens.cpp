// buildtrail-collector tokens create|list|revoke --data DIR ...
// Bearer tokens of the read API (collector/api/, docs/collector-api.md):
// a token is printed once, when created, and only its SHA-256 is stored;
// `list` shows neither. Revocation applies to the running collector's next
// request (it reads the token from the store every time).
#include <cstdio>

#include "collector/api/token.h"
#include "collector/cmd/commands.h"
#include "collector/cmd/tool.h"
#include "collector/view/text.h"
#include "collector/view/time.h"
#include "common/clock.h"

namespace bt::collector::cmd {

namespace {

const cli::Option kData = {"data", true, "data folder of the collector (as for serve)"};

std::string when(uint64_t ns, const char* otherwise) { return ns ? view::format_rfc3339(ns) : otherwise; }

int create(int argc, char** argv) {
  Tool tool("tokens create", "tokens create --data DIR --name NAME [--role viewer|admin]",
            {kData,
             {"name", true, "what the token is for: 1 to 64 of A-Z a-z 0-9 . _ @ - (unique among tokens not revoked)"},
             {"role", true, "viewer (reads; the default) or admin"}});
  int exit = 0;
  if (!tool.parse(argc, argv, 3, &exit)) return exit;
  const auto& args = tool.args();
  if (!args.positionals.empty()) return tool.usage_error("unexpected argument '" + args.positionals[0] + "'");
  const std::string name = args.get("name");
  if (name.empty()) return tool.usage_error("--name NAME is required");
  if (Status s = api::check_token_name(name); !s) return tool.usage_error("--name: " + s.error().message);
  const auto role = store::parse_api_role(args.get("role", "viewer"));
  if (!role) return tool.usage_error("--role is viewer or admin, not '" + args.get("role") + "'");
  auto token = api::make_token(name, *role, clock::now_ns());
  if (!token) return tool.error(token.error());
  auto db = tool.open_store(/*read_only=*/false);
  if (!db) return tool.error(db.error());
  if (Status s = (*db)->add_api_token(token->row); !s) return tool.error(s.error());
  // The token alone on the last line, so scripts can take `tail -n 1`.
  std::printf("API token '%s' (%s, id %s), shown only once:\n%s\n", name.c_str(), store::api_role_name(*role),
              token->row.id.c_str(), token->text.c_str());
  return 0;
}

int list(int argc, char** argv) {
  Tool tool("tokens list", "tokens list --data DIR", {kData});
  int exit = 0;
  if (!tool.parse(argc, argv, 3, &exit)) return exit;
  if (!tool.args().positionals.empty())
    return tool.usage_error("unexpected argument '" + tool.args().positionals[0] + "'");
  auto db = tool.open_store(/*read_only=*/true);
  if (!db) return tool.error(db.error());
  auto tokens = (*db)->api_tokens();
  if (!tokens) return tool.error(tokens.error());
  if (tokens->empty()) {
    std::printf("no API tokens\n");
    return 0;
  }
  view::Table table({"ID", "NAME", "ROLE", "CREATED", "LAST USED", "REVOKED"});
  for (const auto& t : *tokens)
    table.add({t.id, t.name, store::api_role_name(t.role), when(t.created_ns, "-"), when(t.last_used_ns, "never"),
               when(t.revoked_ns, "no")});
  table.print(stdout);
  return 0;
}

int revoke(int argc, char** argv) {
  Tool tool("tokens revoke", "tokens revoke --data DIR NAME|ID", {kData});
  int exit = 0;
  if (!tool.parse(argc, argv, 3, &exit)) return exit;
  const auto& args = tool.args();
  if (args.positionals.size() != 1) return tool.usage_error("needs one token NAME or ID");
  auto db = tool.open_store(/*read_only=*/false);
  if (!db) return tool.error(db.error());
  auto revoked = (*db)->revoke_api_token(args.positionals[0], clock::now_ns());
  if (!revoked) return tool.error(revoked.error());
  std::printf("API token '%s' (id %s) revoked\n", view::printable(revoked->name).c_str(), revoked->id.c_str());
  return 0;
}

constexpr const char* kUsage =
    "usage: buildtrail-collector tokens COMMAND --data DIR ...\n\n"
    "commands:\n"
    "  create --name NAME [--role viewer|admin]  new read API token, alone on the last line (shown once)\n"
    "  list                                      tokens: name, role, created, last used, revoked\n"
    "  revoke NAME|ID                            refuse the token from the next request on\n";

}  // namespace

int tokens(int argc, char** argv) {
  return dispatch("tokens", kUsage, {{"create", create}, {"list", list}, {"revoke", revoke}}, argc, argv);
}

}  // namespace bt::collector::cmd

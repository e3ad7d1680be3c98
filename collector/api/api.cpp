#include "collector/api/api.h"

#include <algorithm>
#include <cstdio>
#include <vector>

#include "collector/api/agents.h"
#include "collector/api/alerts.h"
#include "collector/api/build_events.h"
#include "collector/api/builds.h"
#include "collector/api/egress.h"
#include "collector/api/search.h"
#include "collector/api/tree.h"
#include "common/clock.h"
#include "common/text.h"

namespace bt::collector::api {

namespace {

// last_used_ns is for `tokens list`, not an audit trail: one write a
// minute per token keeps API reads from queuing behind the ingest writer.
constexpr uint64_t kLastUsedResolutionNs = 60ull * 1000000000;

Response only_get() {
  Response r = error_response(405, "use GET");
  r.headers.emplace_back("Allow", "GET, HEAD");
  return r;
}

}  // namespace

void log_line(const std::string& line) {
  std::fprintf(stderr, "buildtrail-collector: %s\n", text::printable(line).c_str());
}

Result<std::unique_ptr<Api>> Api::open(const std::string& data_dir, const store::Options& options,
                                       access::AccessDb* sessions, AccessSettings settings) {
  auto db = store::open_sqlite(data_dir, options);
  if (!db) return db.error();
  return std::unique_ptr<Api>(new Api(std::move(*db), data_dir, sessions, std::move(settings)));
}

Api::Api(std::unique_ptr<store::Store> db, std::string data_dir, access::AccessDb* sessions, AccessSettings settings)
    : db_(std::move(db)),
      data_dir_(std::move(data_dir)),
      auth_(
          [this](const std::string& id) {
            std::lock_guard lock(mu_);
            return db_->api_token(id);
          },
          sessions ? Authenticator::SessionLookup([sessions](const std::string& id) { return sessions->session(id); })
                   : Authenticator::SessionLookup(),
          log_line, std::move(settings)) {}

Response Api::handle(const Request& req) {
  const uint64_t now_ns = clock::now_ns();
  auto authenticated = auth_.authenticate(req, clock::monotonic_ns(), now_ns);
  if (auto* refused = std::get_if<Response>(&authenticated)) return std::move(*refused);
  const auto& who = std::get<Principal>(authenticated);
  note_use(who, now_ns);
  Response r = route(req, who);
  if (!r.log.empty()) log_line(r.log);
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

namespace {

// The path after /v1/ in segments; empty segments (a trailing or doubled
// slash) are kept, so they match no route.
std::vector<std::string_view> segments(std::string_view path) {
  std::vector<std::string_view> out;
  for (std::size_t at = 0;;) {
    const std::size_t slash = path.find('/', at);
    out.push_back(path.substr(at, slash == std::string_view::npos ? std::string_view::npos : slash - at));
    if (slash == std::string_view::npos) return out;
    at = slash + 1;
  }
}

// What a build holds, below /v1/builds/{id}/.
constexpr std::string_view kBuildParts[] = {"events", "tree", "egress", "secrets", "uploads", "file-writes", "alerts"};

// Whether `path` names an endpoint (a 404 otherwise, whatever the method).
bool known(std::string_view path) {
  if (path.substr(0, 4) != "/v1/") return false;
  const auto s = segments(path.substr(4));
  if (s.size() == 1) return s[0] == "alerts" || s[0] == "builds" || s[0] == "agents" || s[0] == "search";
  if (s.size() == 2) return (s[0] == "alerts" || s[0] == "builds") && !s[1].empty();
  if (s.size() == 3 && s[0] == "builds" && !s[1].empty())
    return std::find(std::begin(kBuildParts), std::end(kBuildParts), s[2]) != std::end(kBuildParts);
  return false;
}

}  // namespace

// Every route only reads: a viewer (and so an admin) may use each.
Response Api::route(const Request& req, const Principal& who) {
  if (!known(req.path)) return error_response(404, "no such endpoint");
  if (req.method != "GET" && req.method != "HEAD") return only_get();
  if (!permits(who.role, store::ApiRole::kViewer))
    return error_response(403, "this credential's role may not read this");
  std::lock_guard lock(mu_);
  return dispatch(req, std::string_view(req.path).substr(4));
}

Response Api::dispatch(const Request& req, std::string_view path) {
  const Params params(req.query);
  const auto s = segments(path);
  const uint64_t now = clock::now_ns();
  if (s[0] == "alerts") return s.size() == 1 ? list_alerts(*db_, params, now) : show_alert(*db_, s[1]);
  if (s[0] == "agents") return list_agents(*db_, params);
  if (s[0] == "search") {
    readback::EventReader reader(*db_, data_dir_, &batches_);
    return search(*db_, reader, params, now);
  }
  if (s.size() == 1) return list_builds(*db_, params, now);
  if (s.size() == 2) {
    if (!req.query.empty()) return error_response(400, "unknown parameter '" + req.query[0].first + "'");
    return show_build(*db_, s[1]);
  }
  return build_endpoint(params, s[1], s[2]);
}

Response Api::build_endpoint(const Params& params, std::string_view id, std::string_view what) {
  auto found = build_for_path(*db_, id);
  if (auto* refused = std::get_if<Response>(&found)) return std::move(*refused);
  const auto& build = std::get<store::BuildRow>(found);
  const uint64_t now = clock::now_ns();
  if (what == "egress") return build_egress(*db_, build, params);
  if (what == "alerts") return list_alerts(*db_, params, now, build.id);
  readback::EventReader reader(*db_, data_dir_, &batches_);
  if (what == "tree") return build_tree(*db_, reader, trees_, build, params);
  if (what == "secrets") return build_events(*db_, reader, build, params, now, events::Kind::secret_access);
  if (what == "uploads") return build_events(*db_, reader, build, params, now, events::Kind::artifact_upload);
  if (what == "file-writes") return build_events(*db_, reader, build, params, now, events::Kind::file_write);
  return build_events(*db_, reader, build, params, now);
}

// Best effort: a store too busy to take it now records the next use.
void Api::note_use(const Principal& who, uint64_t now_ns) {
  if (who.via != Principal::Via::kToken || now_ns < who.last_used_ns + kLastUsedResolutionNs) return;
  std::lock_guard lock(mu_);
  if (Status s = db_->touch_api_token(who.id, now_ns); !s)
    log_line("api: cannot record the use of token '" + who.name + "': " + s.error().message);
}

}  // namespace bt::collector::api

#include "collector/api/api.h"

#include <cstdio>

#include "collector/api/alerts.h"
#include "common/clock.h"
#include "common/text.h"

namespace bt::collector::api {

namespace {

// last_used_ns is for `tokens list`, not an audit trail: one write a
// minute per token keeps API reads from queuing behind the ingest writer.
constexpr uint64_t kLastUsedResolutionNs = 60ull * 1000000000;

constexpr std::string_view kAlerts = "/v1/alerts";

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
  return std::unique_ptr<Api>(new Api(std::move(*db), sessions, std::move(settings)));
}

Api::Api(std::unique_ptr<store::Store> db, access::AccessDb* sessions, AccessSettings settings)
    : db_(std::move(db)),
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

Response Api::route(const Request& req, const Principal& who) {
  const std::string_view path = req.path;
  const bool alerts = path == kAlerts;
  const bool one_alert = path.size() > kAlerts.size() + 1 && path.substr(0, kAlerts.size() + 1) == "/v1/alerts/";
  if (!alerts && !one_alert) return error_response(404, "no such endpoint");
  if (req.method != "GET" && req.method != "HEAD") return only_get();
  if (!permits(who.role, store::ApiRole::kViewer))
    return error_response(403, "this credential's role may not read alerts");
  std::lock_guard lock(mu_);
  if (alerts) return list_alerts(*db_, Params(req.query), clock::now_ns());
  return show_alert(*db_, path.substr(kAlerts.size() + 1));
}

// Best effort: a store too busy to take it now records the next use.
void Api::note_use(const Principal& who, uint64_t now_ns) {
  if (who.via != Principal::Via::kToken || now_ns < who.last_used_ns + kLastUsedResolutionNs) return;
  std::lock_guard lock(mu_);
  if (Status s = db_->touch_api_token(who.id, now_ns); !s)
    log_line("api: cannot record the use of token '" + who.name + "': " + s.error().message);
}

}  // namespace bt::collector::api

// The collector's read API under /v1/ (issue 21), served by http/ on the
// agents' listener with the same TLS and mTLS: every request is
// authenticated (auth.h) before it is routed; a route names the role it
// needs (every route reads: a viewer may use them all). Routes: alerts
// (alerts.h), builds and what a build holds (builds.h, build_events.h,
// tree.h, egress.h), agents (agents.h), search (search.h);
// docs/collector-api.md.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "collector/api/auth.h"
#include "collector/api/request.h"
#include "collector/api/tree.h"
#include "collector/readback/shared_batches.h"
#include "collector/store/store.h"

namespace bt::collector::api {

class Api {
 public:
  // With its own connection to the store of `data_dir`, read-write only to
  // record when a token was last used. `sessions` (may be null: bearer
  // tokens and certificates only) must outlive the Api.
  static Result<std::unique_ptr<Api>> open(const std::string& data_dir, const store::Options& options,
                                           access::AccessDb* sessions = nullptr, AccessSettings settings = {});

  // Thread-safe; requests share one store connection, one at a time.
  Response handle(const Request& req);
  // Shared with the UI (collector/ui/): one limiter for every credential.
  Authenticator& authenticator() { return auth_; }

 private:
  Api(std::unique_ptr<store::Store> db, std::string data_dir, access::AccessDb* sessions, AccessSettings settings);
  Response route(const Request& req, const Principal& who);
  Response dispatch(const Request& req, std::string_view path);
  Response build_endpoint(const Params& params, std::string_view id, std::string_view what);
  void note_use(const Principal& who, uint64_t now_ns);

  static constexpr std::size_t kSharedBatches = 16;

  std::mutex mu_;  // guards db_
  std::unique_ptr<store::Store> db_;
  std::string data_dir_;  // its archive: events are read back from there
  // Batches verified by earlier requests (pages of one build read the same
  // batches again): kept a little while, as serve's readers share theirs.
  readback::SharedBatches batches_{kSharedBatches};
  TreeCache trees_;  // guarded by mu_
  Authenticator auth_;
};

// Writes `line` to the collector's log (stderr), escaped.
void log_line(const std::string& line);

}  // namespace bt::collector::api

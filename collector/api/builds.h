// GET /v1/builds and GET /v1/builds/{id} (docs/collector-api.md): build
// records newest first with their integrity, paged by cursor, and one
// record with its counts per kind and the findings behind its integrity.
// The other /v1/builds/{id}/... endpoints take the record from
// build_for_path().
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>

#include "collector/api/json.h"
#include "collector/api/request.h"
#include "collector/store/store.h"

namespace bt::collector::api {

inline constexpr std::size_t kDefaultBuildPage = 50;
inline constexpr std::size_t kMaxBuildPage = 500;

// ?ci=&repository=&job=&branch=&status=running|passed|failed&since=&until=
// &has_alerts=1|0&incomplete=1|0&limit=&after= -> {"builds":[…],"next":…}
Response list_builds(store::Store& db, const Params& params, uint64_t now_ns);

// {"build":{…summary, counts, integrity findings}}, or 404.
Response show_build(store::Store& db, std::string_view id_text);

// The record `id_text` names, or the answer refusing it (404: not a
// reference, no such record; 503: the store failed).
std::variant<store::BuildRow, Response> build_for_path(store::Store& db, std::string_view id_text);

// The object of a record in every answer that lists builds: identity,
// times, outcome, counts, integrity.
void write_build(JsonOut& out, const store::BuildRow& build);

}  // namespace bt::collector::api

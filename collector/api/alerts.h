// GET /v1/alerts and GET /v1/alerts/{id} (docs/collector-api.md): what the
// detector raised, each alert the object `alerts list --format jsonl`
// prints (view::alert_json), in id order, paged by cursor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "collector/api/request.h"
#include "collector/store/store.h"

namespace bt::collector::api {

inline constexpr std::size_t kDefaultAlertPage = 100;
inline constexpr std::size_t kMaxAlertPage = 1000;

// ?since=T&severity=S&build=REF&open=1&limit=N&after=CURSOR ->
// {"alerts":[…],"next":"<cursor>"|null}. `next` is null once nothing
// follows; `now_ns` resolves a relative `since` (2h). With `build` given
// (GET /v1/builds/{id}/alerts), the parameter `build` is not taken.
Response list_alerts(store::Store& db, const Params& params, uint64_t now_ns, std::optional<int64_t> build = {});

// One alert with its evidence, or 404.
Response show_alert(store::Store& db, std::string_view id_text);

}  // namespace bt::collector::api

// GET /v1/agents: the enrolled agents, what `agents list` shows and more:
// inventory, revoked or not, last seen, chain tip, the mode of its last
// agent_start, the events it reported lost, its integrity findings (all,
// and those still open). By id, paged by cursor.
#pragma once

#include <cstddef>

#include "collector/api/request.h"
#include "collector/store/store.h"

namespace bt::collector::api {

inline constexpr std::size_t kDefaultAgentPage = 100;
inline constexpr std::size_t kMaxAgentPage = 1000;

// ?limit=&after= -> {"agents":[…],"next":…}
Response list_agents(store::Store& db, const Params& params);

}  // namespace bt::collector::api

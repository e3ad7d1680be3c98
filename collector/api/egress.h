// GET /v1/builds/{id}/egress: where a build record's processes reached
// out, grouped by DNS name: the connections (net_connect) to addresses a
// name of the build resolved to, and the questions (dns_query) for it,
// with the processes that made them; connections to addresses no name of
// the build resolved to are grouped by address. From the index rows
// (destination, DNS name, process), paged by cursor.
#pragma once

#include <cstddef>

#include "collector/api/request.h"
#include "collector/store/store.h"

namespace bt::collector::api {

inline constexpr std::size_t kDefaultEgressPage = 200;
inline constexpr std::size_t kMaxEgressPage = 1000;
// Per group: the addresses and processes listed (the rest are counted).
inline constexpr std::size_t kEgressListed = 50;

// ?limit=&after= -> {"destinations":[{"name","address","connections",
// "queries","first_ns","last_ns","addresses":[…],"addresses_total",
// "processes":[…],"processes_total"}],"next":…}
Response build_egress(store::Store& db, const store::BuildRow& build, const Params& params);

}  // namespace bt::collector::api

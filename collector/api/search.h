// GET /v1/search?q=…: the builds whose events match a query
// (search_query.h), newest record first, each with the places (batch seq,
// line, time, process) of its matching events, paged by cursor.
//
// How each term is found: exe_sha256, dest and exe through the distinct
// values kept per build (store::build_values: one index range), then the
// places through the build's index rows; argv is not indexed (the index
// keeps no argv, on purpose: redaction), so the process_exec events of the
// candidate builds are read back from their signed batches and verified,
// at most kArgvScanBudget of them per request: a page may then hold fewer
// builds than asked, and `next` goes on from where the scan stopped.
#pragma once

#include <cstddef>

#include "collector/api/request.h"
#include "collector/readback/event_reader.h"
#include "collector/store/store.h"

namespace bt::collector::api {

inline constexpr std::size_t kDefaultSearchPage = 20;
inline constexpr std::size_t kMaxSearchPage = 100;
inline constexpr std::size_t kPlacesPerTerm = 10;            // per build; the rest are counted
inline constexpr std::size_t kArgvScanBudget = 100000;       // execs read back per request
inline constexpr std::size_t kMaxCandidateValues = 1000000;  // build_values rows per term

// ?q=…&limit=&after= -> {"query","builds":[{"build":{…},"matches":[{"term","events",
// "places":[…]}]}],"next":…,"scanned_execs":N}
Response search(store::Store& db, readback::EventReader& reader, const Params& params, uint64_t now_ns);

}  // namespace bt::collector::api

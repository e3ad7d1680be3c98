// GET /v1/builds/{id}/events and its views of one kind (/secrets,
// /uploads, /file-writes): a build record's events in time order, each
// read back from its signed batch and verified again (readback/), written
// as the buildtrail JSON of docs/events.md, paged by cursor.
#pragma once

#include <cstddef>
#include <optional>

#include "collector/api/request.h"
#include "collector/readback/event_reader.h"
#include "collector/store/store.h"

namespace bt::collector::api {

inline constexpr std::size_t kDefaultEventPage = 200;
inline constexpr std::size_t kMaxEventPage = 2000;

// ?kind=K[,K...]&since=&until=&limit=&after= -> {"events":[{"seq","line",
// "time_ns","time_out_of_range","event":{…}}],"next":…}. With `kind`
// given (a view), the parameter `kind` is not taken.
Response build_events(store::Store& db, readback::EventReader& reader, const store::BuildRow& build,
                      const Params& params, uint64_t now_ns, std::optional<events::Kind> kind = {});

}  // namespace bt::collector::api

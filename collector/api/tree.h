// GET /v1/builds/{id}/tree: a build record's processes as a tree, loaded
// a subtree at a time. The structure comes from the index (every
// process_exec row's process key and parent key, every process_exit row's
// exit code), so a build of 50,000 events is one scan of its rows; only the
// execs of the nodes answered are read back from their signed batches
// (argv, cwd, stdio, digests), verified.
#pragma once

#include <cstddef>

#include "collector/api/request.h"
#include "collector/readback/event_reader.h"
#include "collector/store/store.h"

namespace bt::collector::api {

inline constexpr std::size_t kDefaultTreePage = 500;
inline constexpr std::size_t kMaxTreePage = 5000;
inline constexpr int64_t kDefaultTreeDepth = 2;
inline constexpr int64_t kMaxTreeDepth = 1000;
// Execs shown per process (a process that execs in a loop shows its first
// ones and counts the rest).
inline constexpr std::size_t kExecsPerNode = 16;

// ?root=KEY&depth=N&limit=&after= -> {"root","depth","processes","nodes":[…],
// "next"}: the subtree under `root` (every top-level process without it),
// `depth` levels below it, in depth-first order; each node says how many
// children it has, and whether they follow it here (`expanded`).
Response build_tree(store::Store& db, readback::EventReader& reader, const store::BuildRow& build,
                    const Params& params);

}  // namespace bt::collector::api

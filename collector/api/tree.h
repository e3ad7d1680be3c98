// GET /v1/builds/{id}/tree: a build record's processes as a tree, loaded
// a subtree at a time. The structure comes from the index (every
// process_exec row's process key and parent key, every process_exit row's
// exit code), so a build of 50,000 events is one scan of its rows; only the
// execs of the nodes answered are read back from their signed batches
// (argv, cwd, stdio, digests), verified.
#pragma once

#include <cstddef>
#include <list>
#include <memory>

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

// The shape of a build's process tree (tree.cpp).
struct ProcessTree;

// The trees of the builds asked last: a viewer expands one node after
// another, and each answer would otherwise read every process row of the
// build again. A tree is made again when its build changed (its count of
// events or its last event time). Not thread-safe: the Api's lock guards it.
class TreeCache {
 public:
  Result<std::shared_ptr<const ProcessTree>> get(store::Store& db, const store::BuildRow& build);

 private:
  struct Entry {
    int64_t build = 0;
    uint64_t events = 0, last_ns = 0;
    std::shared_ptr<const ProcessTree> tree;
  };
  static constexpr std::size_t kTrees = 4;
  std::list<Entry> entries_;  // most recently used first
};

// ?root=KEY&depth=N&limit=&after= -> {"root","depth","processes","nodes":[…],
// "next"}: the subtree under `root` (every top-level process without it),
// `depth` levels below it, in depth-first order; each node says how many
// children it has, and whether they follow it here (`expanded`).
Response build_tree(store::Store& db, readback::EventReader& reader, TreeCache& trees, const store::BuildRow& build,
                    const Params& params);

}  // namespace bt::collector::api

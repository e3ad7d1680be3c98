// Reads stored events back: the store says where an event is, the archive
// holds the batch the agent signed, and nothing is handed out before that
// batch is verified again. Used by `query` and `export`.
#pragma once

#include <functional>
#include <list>
#include <map>
#include <string>
#include <vector>

#include "collector/store/store.h"
#include "common/events/event.h"
#include "common/result.h"

namespace bt::collector::readback {

// Each referenced batch is read from the archive, its signature verified
// with the agent's key from the store (batch::open), its events parsed and
// checked against the header (batch::for_each_event), and the batch must be
// the one the store names (agent, seq, content address).
class EventReader {
 public:
  EventReader(store::Store& store, std::string data_dir);

  // Calls `on_event` for the events matching `filter`, in the store's time
  // order, each with its reference (where it sorts, and whether its own
  // time was out of range). References are taken in chunks and each chunk
  // is read batch by batch, so an export interleaving many agents opens
  // each batch about once. Fails with a one-line error naming the batch on
  // any check.
  using OnEvent = std::function<void(const events::Event&, const store::EventRef&)>;
  Status for_each(const store::EventFilter& filter, const OnEvent& on_event);

  // Every event of one stored batch, verified as above (the detector walks
  // batches in commit order). The pointer is valid until the next call.
  Result<const std::vector<events::Event>*> batch_events(const store::CommittedBatch& stored);

 private:
  struct Batch {
    std::string path;
    std::vector<events::Event> events;
  };
  Result<const Batch*> batch(const store::EventRef& ref);
  Status flush(std::vector<store::EventRef>& chunk, const OnEvent& on_event);

  store::Store& store_;
  std::string data_dir_;
  std::map<std::string, crypto::PublicKey> keys_;
  std::list<Batch> cache_;  // most recently used first
};

}  // namespace bt::collector::readback

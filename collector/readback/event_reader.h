// Reads stored events back: the store says where an event is, the archive
// holds the batch the agent signed, and nothing is handed out before that
// batch is verified again. Used by `query` and `export` (and its evidence
// exports, which hand out the batches themselves).
#pragma once

#include <functional>
#include <list>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "collector/readback/shared_batches.h"
#include "collector/store/store.h"
#include "common/events/event.h"
#include "common/result.h"

namespace bt::collector::readback {

// One archived batch holding events of a build record, verified: its bytes
// as the agent signed them, their SHA-256 (the archive address), and the
// build's events in it with their lines, in line order.
struct BuildBatch {
  std::string agent_id;
  uint64_t seq = 0;
  std::string archive_path;
  std::string bytes;
  crypto::Digest hash{};
  std::vector<std::pair<uint32_t, events::Event>> events;
};

// Each referenced batch is read from the archive, its signature verified
// with the agent's key from the store (batch::open), its events parsed and
// checked against the header (batch::for_each_event), and the batch must be
// the one the store names (agent, seq, content address).
class EventReader {
 public:
  // `shared`: batches other readers of this process verified already
  // (shared_batches.h); null reads every batch itself.
  EventReader(store::Store& store, std::string data_dir, SharedBatches* shared = nullptr);

  // Calls `on_event` for the events matching `filter`, in the store's time
  // order, each with its reference (where it sorts, and whether its own
  // time was out of range). References are taken in chunks and each chunk
  // is read batch by batch, so an export interleaving many agents opens
  // each batch about once. Fails with a one-line error naming the batch on
  // any check.
  using OnEvent = std::function<void(const events::Event&, const store::EventRef&)>;
  Status for_each(const store::EventFilter& filter, const OnEvent& on_event);

  // The events `refs` name, verified as above, handed out in the order of
  // `refs` (read batch by batch; the batches of a build's page are a few).
  // `refs` is left empty.
  Status read(std::vector<store::EventRef>& refs, const OnEvent& on_event);
  // The same events in chain order (agent, seq, line), each handed out from its batch as read
  // (not copied): for a caller that looks at many events and keeps few.
  // `refs` is reordered.
  Status visit(std::vector<store::EventRef>& refs, const OnEvent& on_event);

  // Every event of one stored batch, verified as above (the detector walks
  // batches in commit order). The pointer is valid until the next call.
  Result<const std::vector<events::Event>*> batch_events(const store::CommittedBatch& stored);
  // The same with the lines they were parsed from.
  Result<const VerifiedBatch*> verified_batch(const store::CommittedBatch& stored);

  // The batches that hold events of the build record `build_ref`, each
  // read and verified as above, in chain order (agent, seq); `on_batch`
  // sees one at a time (its bytes are not kept), and its error stops the
  // walk. Fails on the first batch that does not verify.
  Status for_each_build_batch(int64_t build_ref, const std::function<Status(BuildBatch&&)>& on_batch);

 private:
  struct Batch {
    std::string path;
    BatchEvents verified;
  };
  struct Verified {
    std::string bytes;
    crypto::Digest hash{};
    std::vector<events::Event> events;
    std::string json;  // the decompressed lines
  };
  Result<Verified> read_verified(const store::EventRef& ref);
  static VerifiedBatch keep_lines(Verified&& v);
  Result<const Batch*> batch(const store::EventRef& ref);

  store::Store& store_;
  std::string data_dir_;
  std::map<std::string, crypto::PublicKey> keys_;
  SharedBatches* shared_;
  std::list<Batch> cache_;  // most recently used first
};

}  // namespace bt::collector::readback

// Verified reads of stored events; see event_reader.h.
#include "collector/readback/event_reader.h"

#include <algorithm>
#include <numeric>
#include <tuple>

#include "collector/archive/archive.h"
#include "common/batch/batch.h"

namespace bt::collector::readback {

namespace {
constexpr std::size_t kChunk = 4096;       // references read before their batches are opened
constexpr std::size_t kCachedBatches = 4;  // opened batches kept
}  // namespace

EventReader::EventReader(store::Store& store, std::string data_dir, SharedBatches* shared)
    : store_(store), data_dir_(std::move(data_dir)), shared_(shared) {}

Result<const EventReader::Batch*> EventReader::batch(const store::EventRef& ref) {
  for (auto it = cache_.begin(); it != cache_.end(); ++it) {
    if (it->path == ref.archive_path) {
      cache_.splice(cache_.begin(), cache_, it);
      return &cache_.front();
    }
  }
  BatchEvents found = shared_ ? shared_->find(ref.archive_path) : nullptr;
  if (!found) {
    auto verified = read_verified(ref);
    if (!verified) return verified.error();
    found = std::make_shared<const VerifiedBatch>(keep_lines(std::move(*verified)));
    if (shared_) shared_->keep(ref.archive_path, found);
  }
  cache_.push_front(Batch{ref.archive_path, std::move(found)});
  if (cache_.size() > kCachedBatches) cache_.pop_back();
  return &cache_.front();
}

Result<EventReader::Verified> EventReader::read_verified(const store::EventRef& ref) {
  const std::string name =
      "batch " + ref.archive_path + " (agent " + ref.agent_id + ", seq " + std::to_string(ref.seq) + ")";
  auto unverified = [&](const Error& e) { return make_error(e.code, name + " failed verification: " + e.message); };
  auto key = keys_.find(ref.agent_id);
  if (key == keys_.end()) {
    auto agent = store_.agent(ref.agent_id);
    if (!agent) return agent.error();
    if (!*agent) return unverified(make_error(ErrorCode::kUnknownKey, "agent is not in the store"));
    key = keys_.emplace(ref.agent_id, (*agent)->public_key).first;
  }
  auto bytes = archive::Archive(data_dir_).read(ref.archive_path);
  if (!bytes) return make_error(bytes.error().code, name + ": " + bytes.error().message);
  auto opened = batch::open(crypto::as_bytes(*bytes), key->second);
  if (!opened) return unverified(opened.error());
  if (opened->header.agent_id != ref.agent_id || opened->header.seq != ref.seq)
    return unverified(make_error(ErrorCode::kConflict, "it is signed as agent " + opened->header.agent_id + " seq " +
                                                           std::to_string(opened->header.seq)));
  if (archive::Archive::relative_path(opened->hash) != ref.archive_path)
    return unverified(make_error(ErrorCode::kConflict, "its content does not match its address"));
  Verified v;
  v.hash = opened->hash;
  v.events.reserve(opened->header.event_count);
  Status parsed = batch::for_each_event(*opened, [&](events::Event&& e) { v.events.push_back(std::move(e)); });
  if (!parsed) return unverified(parsed.error());
  v.bytes = std::move(*bytes);
  v.json = std::move(opened->json);
  return v;
}

// for_each_event parsed one event per '\n'-ended line.
VerifiedBatch EventReader::keep_lines(Verified&& v) {
  VerifiedBatch kept;
  kept.line_ends.reserve(v.events.size());
  for (std::size_t at = v.json.find('\n'); at != std::string::npos; at = v.json.find('\n', at + 1))
    kept.line_ends.push_back(static_cast<uint32_t>(at));
  kept.events = std::move(v.events);
  kept.json = std::move(v.json);
  return kept;
}

Result<const std::vector<events::Event>*> EventReader::batch_events(const store::CommittedBatch& stored) {
  auto b = verified_batch(stored);
  if (!b) return b.error();
  return &(*b)->events;
}

Result<const VerifiedBatch*> EventReader::verified_batch(const store::CommittedBatch& stored) {
  store::EventRef ref;
  ref.agent_id = stored.agent_id;
  ref.seq = stored.seq;
  ref.archive_path = stored.archive_path;
  auto b = batch(ref);
  if (!b) return b.error();
  return (*b)->verified.get();
}

Status EventReader::for_each_build_batch(int64_t build_ref, const std::function<Status(BuildBatch&&)>& on_batch) {
  // Where the build's events are: per batch, its place and their lines.
  struct Lines {
    store::EventRef ref;
    std::vector<uint32_t> lines;
  };
  std::map<std::pair<std::string, uint64_t>, Lines> batches;
  store::EventFilter filter;
  filter.build = build_ref;
  Status listed = store_.events(filter, [&](const store::EventRef& ref) {
    auto& b = batches[{ref.agent_id, ref.seq}];
    b.ref = ref;
    b.lines.push_back(ref.line);
    return true;
  });
  if (!listed) return listed;
  for (auto& [place, b] : batches) {
    auto verified = read_verified(b.ref);
    if (!verified) return verified.error();
    std::sort(b.lines.begin(), b.lines.end());
    BuildBatch out{b.ref.agent_id, b.ref.seq, b.ref.archive_path, std::move(verified->bytes), verified->hash, {}};
    for (uint32_t line : b.lines) {
      if (line >= verified->events.size())
        return make_error(ErrorCode::kNotFound, "batch " + b.ref.archive_path + " has no line " + std::to_string(line));
      out.events.emplace_back(line, std::move(verified->events[line]));
    }
    Status s = on_batch(std::move(out));
    if (!s) return s;
  }
  return Ok{};
}

Status EventReader::read(std::vector<store::EventRef>& chunk, const OnEvent& on_event) {
  // Read batch by batch, hand out in the store's order.
  std::vector<std::size_t> order(chunk.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return std::tie(chunk[a].archive_path, chunk[a].line) < std::tie(chunk[b].archive_path, chunk[b].line);
  });
  std::vector<events::Event> picked(chunk.size());
  for (std::size_t i : order) {
    auto b = batch(chunk[i]);
    if (!b) return b.error();
    if (chunk[i].line >= (*b)->verified->events.size())
      return make_error(ErrorCode::kNotFound,
                        "batch " + chunk[i].archive_path + " has no line " + std::to_string(chunk[i].line));
    picked[i] = (*b)->verified->events[chunk[i].line];
  }
  for (std::size_t i = 0; i < picked.size(); ++i) on_event(picked[i], chunk[i]);
  chunk.clear();
  return Ok{};
}

Status EventReader::visit(std::vector<store::EventRef>& refs, const OnEvent& on_event) {
  std::sort(refs.begin(), refs.end(), [](const store::EventRef& a, const store::EventRef& b) {
    return std::tie(a.agent_id, a.seq, a.line) < std::tie(b.agent_id, b.seq, b.line);
  });
  for (const auto& ref : refs) {
    auto b = batch(ref);
    if (!b) return b.error();
    if (ref.line >= (*b)->verified->events.size())
      return make_error(ErrorCode::kNotFound, "batch " + ref.archive_path + " has no line " + std::to_string(ref.line));
    on_event((*b)->verified->events[ref.line], ref);
  }
  return Ok{};
}

Status EventReader::for_each(const store::EventFilter& filter, const OnEvent& on_event) {
  std::vector<store::EventRef> chunk;
  chunk.reserve(kChunk);
  Status failed = Ok{};
  Status s = store_.events(filter, [&](const store::EventRef& ref) {
    chunk.push_back(ref);
    if (chunk.size() < kChunk) return true;
    failed = read(chunk, on_event);
    return failed.ok();
  });
  if (!s) return s;
  if (!failed) return failed;
  return read(chunk, on_event);
}

}  // namespace bt::collector::readback

#include "collector/ingest/ingest.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <pthread.h>
#include <sys/stat.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "collector/archive/archive.h"
#include "common/batch/chain.h"
#include "common/clock.h"

namespace bt::collector::ingest {

namespace {

using metrics::Reject;

// Small JSON bodies for responses; values are escaped by RapidJSON.
class Body {
 public:
  Body() { w_.StartObject(); }
  Body& str(const char* key, std::string_view value) {
    w_.Key(key);
    w_.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
    return *this;
  }
  Body& num(const char* key, uint64_t value) {
    w_.Key(key);
    w_.Uint64(value);
    return *this;
  }
  std::string done() {
    w_.EndObject();
    return std::string(buf_.GetString(), buf_.GetSize()) + "\n";
  }

 private:
  rapidjson::StringBuffer buf_;
  rapidjson::Writer<rapidjson::StringBuffer> w_{buf_};
};

Outcome error_outcome(int status, std::string_view message, int retry_after = 0) {
  return Outcome{status, Body().str("error", message).done(), retry_after};
}

struct ChainState {
  uint64_t epoch = 0;
  std::optional<batch::Tip> tip;
};

struct Job {
  store::BatchRecord record;
  std::promise<Outcome> done;
};

store::Finding make_finding(const std::string& agent_id, store::FindingKind kind, uint64_t seq_from,
                            uint64_t seq_to, uint64_t time_from_ns, uint64_t time_to_ns,
                            std::string detail) {
  store::Finding f;
  f.agent_id = agent_id;
  f.kind = kind;
  f.seq_from = seq_from;
  f.seq_to = seq_to;
  f.time_from_ns = time_from_ns;
  f.time_to_ns = time_to_ns;
  f.recorded_ns = clock::now_ns();
  f.detail = std::move(detail);
  return f;
}

// A `loss` event from an agent becomes an integrity finding.
void collect_loss_finding(const events::Event& e, const std::string& agent_id, uint64_t seq,
                          std::vector<store::Finding>& out) {
  const auto* loss = std::get_if<events::Loss>(&e.body);
  if (!loss) return;
  std::string counts;
  for (const auto& [reason, n] : loss->counts)
    counts += (counts.empty() ? "" : ", ") + reason + "=" + std::to_string(n);
  out.push_back(make_finding(agent_id, store::FindingKind::kLoss, seq, seq, loss->first_ns,
                             loss->last_ns, "agent reported dropped events: " + counts));
}

}  // namespace

store::EventRow event_row(const events::Event& e, uint32_t line, const store::EventRow* previous) {
  store::EventRow row;
  row.line = line;
  row.time_ns = e.time_ns;
  row.kind = e.kind();
  if (!e.build.id.empty()) {
    if (previous && previous->build && *previous->build == e.build) row.build = previous->build;
    else row.build = std::make_shared<const events::Build>(e.build);
  }
  row.pid = e.process.pid;
  row.ppid = e.process.ppid;
  row.process_key = e.process.key;
  row.exe = e.process.exe;
  std::visit(
      [&](const auto& b) {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, events::NetConnect>) {
          const bool v6 = b.daddr.find(':') != std::string::npos;
          row.destination = (v6 ? "[" + b.daddr + "]" : b.daddr) + ":" + std::to_string(b.dport);
        } else if constexpr (std::is_same_v<T, events::DnsQuery>) {
          row.destination = b.name;
        } else if constexpr (std::is_same_v<T, events::ArtifactUpload>) {
          row.destination = b.destination;
        } else if constexpr (std::is_same_v<T, events::SecretAccess>) {
          row.secret_path = b.path;
        } else if constexpr (std::is_same_v<T, events::ProcessExit> ||
                             std::is_same_v<T, events::BuildEnd>) {
          row.exit_code = b.exit_code;
        } else if constexpr (std::is_same_v<T, events::Loss>) {
          for (const auto& c : b.counts) row.loss_total += c.second;
        }
      },
      e.body);
  return row;
}

struct Ingest::Impl {
  Config config;
  std::unique_ptr<store::Store> writer_store;
  std::unique_ptr<store::Store> admin_store;
  metrics::Metrics& metrics;
  archive::Archive archive;

  std::mutex admin_mu;
  uint64_t agents_rev = ~uint64_t{0};
  std::map<std::string, std::optional<store::Agent>, std::less<>> agent_cache;

  mutable std::mutex queue_mu;
  std::condition_variable queue_cv;
  std::deque<Job*> queue;
  bool stopping = false;
  std::thread writer;

  // Writer-thread state only.
  std::map<std::string, ChainState, std::less<>> chains;

  Impl(Config c, std::unique_ptr<store::Store> w, std::unique_ptr<store::Store> a,
       metrics::Metrics& m)
      : config(std::move(c)),
        writer_store(std::move(w)),
        admin_store(std::move(a)),
        metrics(m),
        archive(config.data_dir) {}

  Result<std::optional<store::Agent>> lookup_agent(const std::string& id);
  Outcome submit(std::span<const uint8_t> body);
  Outcome enqueue(store::BatchRecord record);
  void writer_loop();
  void process_group(std::vector<Job*>& jobs);
  Result<ChainState*> chain_for(const std::string& agent_id);
};

Result<std::optional<store::Agent>> Ingest::Impl::lookup_agent(const std::string& id) {
  std::lock_guard lock(admin_mu);
  auto rev = admin_store->agents_revision();
  if (!rev) return rev.error();
  if (*rev != agents_rev) {
    agent_cache.clear();
    agents_rev = *rev;
  }
  if (auto it = agent_cache.find(id); it != agent_cache.end()) return it->second;
  auto agent = admin_store->agent(id);
  if (!agent) return agent.error();
  agent_cache.emplace(id, *agent);
  return *agent;
}

Outcome Ingest::Impl::submit(std::span<const uint8_t> body) {
  auto header = batch::parse_header(body, config.limits);
  if (!header) {
    const bool too_large = header.error().code == ErrorCode::kTooLarge;
    metrics.rejected(too_large ? Reject::too_large : Reject::malformed);
    return error_outcome(too_large ? 413 : 400, header.error().message);
  }
  auto agent = lookup_agent(header->agent_id);
  if (!agent) {
    metrics.rejected(Reject::store_error);
    return error_outcome(503, "store unavailable: " + agent.error().message,
                         config.retry_after_seconds);
  }
  if (!*agent) {
    metrics.rejected(Reject::unknown_agent, header->event_count);
    return error_outcome(401, "unknown agent '" + header->agent_id + "': enroll it first");
  }
  const store::Agent& a = **agent;
  if (a.revoked) {
    metrics.rejected(Reject::revoked, header->event_count);
    return error_outcome(403, "agent '" + a.id + "' is revoked");
  }
  if (crypto::key_id(a.public_key) != header->key_id) {
    metrics.rejected(Reject::bad_signature, header->event_count);
    return error_outcome(403, "batch key id " + crypto::to_hex(header->key_id) +
                                  " is not the enrolled key of agent '" + a.id + "'");
  }
  auto opened = batch::open(body, a.public_key, config.limits);
  if (!opened) {
    switch (opened.error().code) {
      case ErrorCode::kBadSignature:
        metrics.rejected(Reject::bad_signature, header->event_count);
        return error_outcome(403, opened.error().message);
      case ErrorCode::kTooLarge:
        metrics.rejected(Reject::too_large);
        return error_outcome(413, opened.error().message);
      default:
        metrics.rejected(Reject::malformed);
        return error_outcome(400, opened.error().message);
    }
  }
  store::BatchRecord record;
  record.agent_id = header->agent_id;
  record.header = *header;
  record.hash = opened->hash;
  record.received_ns = clock::now_ns();
  record.size_bytes = body.size();
  record.events.reserve(header->event_count);
  uint32_t line = 0;
  Status parsed = batch::for_each_event(*opened, [&](events::Event&& e) {
    record.events.push_back(
        event_row(e, line++, record.events.empty() ? nullptr : &record.events.back()));
    collect_loss_finding(e, record.agent_id, header->seq, record.findings);
  });
  if (!parsed) {
    metrics.rejected(Reject::malformed);
    return error_outcome(400, parsed.error().message);
  }
  // Archive before commit: content-addressed, so a retry rewrites nothing
  // and a crash between the two leaves only an unreferenced object. The
  // writer syncs the archive once per group, before the commit.
  auto path = archive.put(body, opened->hash);
  if (!path) {
    metrics.rejected(Reject::store_error, header->event_count);
    return error_outcome(503, "archive: " + path.error().message, config.retry_after_seconds);
  }
  record.archive_path = *path;
  return enqueue(std::move(record));
}

Outcome Ingest::Impl::enqueue(store::BatchRecord record) {
  Job job;
  job.record = std::move(record);
  auto result = job.done.get_future();
  {
    std::lock_guard lock(queue_mu);
    if (stopping) return error_outcome(503, "collector is shutting down", config.retry_after_seconds);
    if (queue.size() >= config.max_queue) {
      metrics.rejected(Reject::overloaded, job.record.header.event_count);
      return error_outcome(503, "store is busy, retry later", config.retry_after_seconds);
    }
    queue.push_back(&job);
  }
  queue_cv.notify_one();
  return result.get();
}

Result<ChainState*> Ingest::Impl::chain_for(const std::string& agent_id) {
  if (auto it = chains.find(agent_id); it != chains.end()) return &it->second;
  auto agent = writer_store->agent(agent_id);
  if (!agent) return agent.error();
  ChainState state;
  if (*agent) {
    state.epoch = (*agent)->epoch;
    if ((*agent)->last_seq > 0) state.tip = batch::Tip{(*agent)->last_seq, (*agent)->last_hash};
  }
  return &chains.emplace(agent_id, state).first->second;
}

void Ingest::Impl::process_group(std::vector<Job*>& jobs) {
  struct Decision {
    Job* job;
    batch::Link link;
    bool commit;
    const Job* duplicate_of = nullptr;  // a replay of a batch in this same group
    std::size_t record = 0;             // index in `records` when committed
  };
  std::vector<Decision> decisions;
  std::vector<store::BatchRecord> records;
  std::vector<store::Finding> forks;
  // Hashes accepted in this group, not yet committed: (agent, epoch, seq).
  std::map<std::tuple<std::string, uint64_t, uint64_t>, std::pair<crypto::Digest, const Job*>>
      pending;

  for (Job* job : jobs) {
    store::BatchRecord& r = job->record;
    auto chain = chain_for(r.agent_id);
    if (!chain) {
      job->done.set_value(error_outcome(503, "store: " + chain.error().message,
                                        config.retry_after_seconds));
      continue;
    }
    ChainState& st = **chain;
    const Job* dup_of = nullptr;
    const auto link = batch::classify(st.tip, r.header, r.hash, [&](uint64_t seq) {
      auto it = pending.find({r.agent_id, st.epoch, seq});
      if (it != pending.end()) {
        if (it->second.first == r.hash) dup_of = it->second.second;
        return std::optional(it->second.first);
      }
      auto h = writer_store->batch_hash(r.agent_id, st.epoch, seq);
      return h ? *h : std::nullopt;
    });
    if (link == batch::Link::kReplay && !dup_of) {
      auto it = pending.find({r.agent_id, st.epoch, r.header.seq});
      if (it != pending.end() && it->second.first == r.hash) dup_of = it->second.second;
    }
    if (link == batch::Link::kReplay || link == batch::Link::kFork) {
      if (link == batch::Link::kFork) {
        forks.push_back(make_finding(r.agent_id, store::FindingKind::kFork, r.header.seq,
                                     r.header.seq, r.header.first_time_ns, r.header.last_time_ns,
                                     "a different batch " + crypto::to_hex(r.hash) + " for seq " +
                                         std::to_string(r.header.seq) + " (kept in " +
                                         r.archive_path + ")"));
      }
      decisions.push_back({job, link, false, dup_of});
      continue;
    }
    if (link == batch::Link::kRestart) {
      ++st.epoch;
      r.findings.push_back(make_finding(
          r.agent_id, store::FindingKind::kRestart, 1, 1, r.header.first_time_ns,
          r.header.last_time_ns,
          "agent restarted its chain after seq " + std::to_string(st.tip ? st.tip->seq : 0) +
              "; epoch " + std::to_string(st.epoch) + " begins"));
      st.tip.reset();
    } else if (link == batch::Link::kGap) {
      const uint64_t from = st.tip->seq + 1, to = r.header.seq - 1;
      r.findings.push_back(make_finding(r.agent_id, store::FindingKind::kGap, from, to, 0,
                                        r.header.first_time_ns,
                                        "batches " + std::to_string(from) + ".." +
                                            std::to_string(to) + " never arrived"));
    }
    r.epoch = st.epoch;
    if (!st.tip || r.header.seq > st.tip->seq) st.tip = batch::Tip{r.header.seq, r.hash};
    pending[{r.agent_id, st.epoch, r.header.seq}] = {r.hash, job};
    decisions.push_back({job, link, true, nullptr, records.size()});
    records.push_back(std::move(r));
  }

  // The archive objects of this group become durable before the rows that
  // point at them, all with one sync.
  Status committed = records.empty() ? Status(Ok{}) : archive.sync();
  if (committed) committed = records.empty() ? Status(Ok{}) : writer_store->commit(records);
  if (!committed) {
    // Nothing of this group is stored: forget the cached tips so the next
    // group reloads them from the store.
    for (const auto& r : records) chains.erase(r.agent_id);
  }
  for (const auto& f : forks) {
    if (auto s = writer_store->record_finding(f); !s) {
      std::fprintf(stderr, "collector: cannot record fork finding: %s\n", s.error().message.c_str());
    }
    metrics.finding("fork");
  }
  for (auto& d : decisions) {
    const store::BatchRecord& r = d.commit ? records[d.record] : d.job->record;
    Outcome out;
    if (d.commit) {
      if (committed) {
        metrics.accepted(r.header.event_count);
        for (const auto& f : r.findings) metrics.finding(store::finding_kind_name(f.kind));
        out = Outcome{200, Body()
                               .str("status", "stored")
                               .str("agent_id", r.agent_id)
                               .num("seq", r.header.seq)
                               .num("events", r.header.event_count)
                               .str("link", batch::link_name(d.link))
                               .done()};
      } else {
        metrics.rejected(Reject::store_error, r.header.event_count);
        out = error_outcome(503, "store: " + committed.error().message, config.retry_after_seconds);
      }
    } else if (d.link == batch::Link::kReplay) {
      if (d.duplicate_of && !committed) {
        out = error_outcome(503, "store: " + committed.error().message, config.retry_after_seconds);
      } else {
        metrics.duplicate();
        out = Outcome{200, Body()
                               .str("status", "duplicate")
                               .str("agent_id", r.agent_id)
                               .num("seq", r.header.seq)
                               .done()};
      }
    } else {
      metrics.rejected(Reject::fork, r.header.event_count);
      out = error_outcome(409, "fork: agent '" + r.agent_id + "' already has a different batch at seq " +
                                   std::to_string(r.header.seq));
    }
    // Hand the rows back: the request thread frees them, not the writer.
    if (d.commit) d.job->record = std::move(records[d.record]);
    d.job->done.set_value(std::move(out));
  }
}

void Ingest::Impl::writer_loop() {
  std::vector<Job*> group;
  for (;;) {
    {
      std::unique_lock lock(queue_mu);
      queue_cv.wait(lock, [&] { return stopping || !queue.empty(); });
      if (queue.empty() && stopping) return;
      while (!queue.empty() && group.size() < config.max_group) {
        group.push_back(queue.front());
        queue.pop_front();
      }
    }
    process_group(group);
    group.clear();
  }
}

Ingest::Ingest(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<Ingest>> Ingest::start(Config config, std::unique_ptr<store::Store> writer,
                                              std::unique_ptr<store::Store> admin,
                                              metrics::Metrics& metrics) {
  auto impl = std::make_unique<Impl>(std::move(config), std::move(writer), std::move(admin), metrics);
  Impl* raw = impl.get();
  raw->writer = std::thread([raw] {
    pthread_setname_np(pthread_self(), "bt-store-writer");  // shows in top -H and perf
    raw->writer_loop();
  });
  return std::unique_ptr<Ingest>(new Ingest(std::move(impl)));
}

Ingest::~Ingest() { stop(); }

void Ingest::stop() {
  {
    std::lock_guard lock(impl_->queue_mu);
    impl_->stopping = true;
  }
  impl_->queue_cv.notify_all();
  if (impl_->writer.joinable()) impl_->writer.join();
}

Outcome Ingest::submit_batch(std::span<const uint8_t> body) {
  const auto t0 = std::chrono::steady_clock::now();
  Outcome out = impl_->submit(body);
  if (out.status == 200)
    impl_->metrics.observe_latency(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  return out;
}

std::size_t Ingest::queue_depth() const {
  std::lock_guard lock(impl_->queue_mu);
  return impl_->queue.size();
}

uint64_t Ingest::store_bytes() {
  uint64_t total = 0;
  for (const char* name : {"/buildtrail.db", "/buildtrail.db-wal"}) {
    struct stat st {};
    if (::stat((impl_->config.data_dir + name).c_str(), &st) == 0) total += st.st_size;
  }
  return total;
}

Outcome Ingest::enroll(std::string_view json_body) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseValidateEncodingFlag | rapidjson::kParseIterativeFlag>(
      json_body.data(), json_body.size());
  if (doc.HasParseError() || !doc.IsObject())
    return error_outcome(400, "enroll body is not a JSON object");
  auto text = [&](const rapidjson::Value& obj, const char* key) -> std::string {
    auto it = obj.FindMember(key);
    return it != obj.MemberEnd() && it->value.IsString()
               ? std::string(it->value.GetString(), it->value.GetStringLength())
               : std::string();
  };
  const std::string token = text(doc, "token");
  const std::string agent_id = text(doc, "agent_id");
  const std::string pem = text(doc, "public_key");
  if (token.empty()) return error_outcome(400, "missing 'token'");
  if (!batch::valid_agent_id(agent_id))
    return error_outcome(400, "'agent_id' must be 1-64 characters of [A-Za-z0-9_-]");
  auto key = crypto::parse_public_key_pem(pem);
  if (!key) return error_outcome(400, "'public_key': " + key.error().message);

  store::Agent agent;
  agent.id = agent_id;
  agent.public_key = *key;
  agent.enrolled_ns = clock::now_ns();
  if (doc.HasMember("inventory") && doc["inventory"].IsObject()) {
    const rapidjson::Value& inv = doc["inventory"];
    agent.inventory = store::Inventory{text(inv, "hostname"), text(inv, "os"), text(inv, "kernel"),
                                       text(inv, "agent_version"), text(inv, "ci")};
  }
  std::lock_guard lock(impl_->admin_mu);
  auto& st = *impl_->admin_store;
  auto existing = st.agent(agent_id);
  if (!existing) return error_outcome(503, "store: " + existing.error().message, 1);
  if (*existing && (*existing)->public_key != *key)
    return error_outcome(409, "agent '" + agent_id + "' is enrolled with another key");
  if (*existing && (*existing)->revoked)
    return error_outcome(403, "agent '" + agent_id + "' is revoked");
  // The same key enrolling again (several agents of one state folder
  // starting at once) changes nothing and needs no token.
  auto enrolled = [&] {
    return Outcome{200, Body()
                            .str("status", "enrolled")
                            .str("agent_id", agent_id)
                            .str("key_id", crypto::to_hex(crypto::key_id(*key)))
                            .done()};
  };
  if (*existing) return enrolled();
  if (auto used = st.use_token(token, clock::now_ns()); !used) {
    if (used.error().code == ErrorCode::kNotFound)
      return error_outcome(401, "enrollment token is unknown, expired or used up");
    return error_outcome(503, "store: " + used.error().message, 1);
  }
  if (auto s = st.add_agent(agent); !s) {
    const int status = s.error().code == ErrorCode::kConflict ? 409 : 503;
    return error_outcome(status, s.error().message);
  }
  return enrolled();
}

}  // namespace bt::collector::ingest

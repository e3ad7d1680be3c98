#include "collector/ingest/ingest.h"

#include <pthread.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <tuple>
#include <variant>

#include "collector/archive/archive.h"
#include "common/batch/chain.h"
#include "common/bounds.h"
#include "common/clock.h"
#include "common/overloaded.h"
#include "common/redact/redact.h"
#include "common/text.h"

namespace bt::collector::ingest {

namespace {

using metrics::Reject;

// A finding's detail quotes what an agent reported; this keeps it one
// readable line in `agents findings`.
constexpr std::size_t kMaxDetailBytes = 1024;

// A small JSON object for a reply body; values are escaped by RapidJSON.
class JsonReply {
 public:
  JsonReply() { w_.StartObject(); }
  JsonReply& str(const char* key, std::string_view value) {
    w_.Key(key);
    w_.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
    return *this;
  }
  JsonReply& num(const char* key, uint64_t value) {
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
  return Outcome{status, JsonReply().str("error", message).done(), retry_after};
}

struct ChainState {
  uint64_t epoch = 0;
  std::optional<batch::Tip> tip;
};

// A verified batch handed from its request thread to the writer; the
// request thread waits on `done` for its answer.
struct Submission {
  store::BatchRecord record;
  std::promise<Outcome> done;
};

// What the writer decided for one submission of a group.
struct Decision {
  Submission* submission;
  batch::Verdict verdict;
  bool commit;
  const Submission* duplicate_of = nullptr;  // a replay of a batch in this same group
  std::size_t record = 0;                    // index in Group::records when committed
  uint64_t epoch = 0;                        // of the chain a fork conflicts with
};

// Batches accepted in a group, not yet committed: a later batch of the same
// group chains to them (by agent, epoch, seq) or repeats them (by hash)
// before they are stored.
struct Pending {
  std::map<std::tuple<std::string, uint64_t, uint64_t>, batch::Stored> links;
  std::map<crypto::Digest, const Submission*> by_hash;
};

// One group of submissions on its way to one commit.
struct Group {
  std::vector<Decision> decisions;
  std::vector<store::BatchRecord> records;
  std::vector<store::Finding> forks;
  Pending pending;
};

store::Finding make_finding(const std::string& agent_id, store::FindingKind kind, uint64_t seq_from, uint64_t seq_to,
                            uint64_t time_from_ns, uint64_t time_to_ns, std::string detail) {
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
  // The reasons are the agent's words: bounded like any field it reports.
  out.push_back(make_finding(agent_id, store::FindingKind::kLoss, seq, seq, loss->first_ns, loss->last_ns,
                             bounds::cut("agent reported dropped events: " + counts, kMaxDetailBytes)));
}

// Identity fields cut in one batch (common/bounds.h), counted per field.
struct Oversized {
  uint64_t events = 0;
  std::array<uint64_t, 32> per_field{};

  void add(uint32_t cut_fields) {
    if (!cut_fields) return;
    ++events;
    for (std::size_t i = 0; i < per_field.size(); ++i)
      if (cut_fields & (uint32_t{1} << i)) ++per_field[i];
  }
};

// One finding per batch whose events had fields over their bounds: the
// batch is kept whole as evidence; the finding says what its index rows
// hold cut, so an investigator knows to read those events from the batch.
store::Finding oversized_finding(const store::BatchRecord& r, const Oversized& o) {
  std::string fields;
  const auto bounded = bounds::event_fields();
  for (std::size_t i = 0; i < bounded.size(); ++i) {
    if (!o.per_field[i]) continue;
    fields += (fields.empty() ? "" : ", ") + std::string(bounded[i].name) + " (over " +
              std::to_string(bounded[i].max_bytes) + " bytes) in " + std::to_string(o.per_field[i]);
  }
  return make_finding(r.agent_id, store::FindingKind::kOversized, r.header.seq, r.header.seq, r.header.first_time_ns,
                      r.header.last_time_ns,
                      std::to_string(o.events) + (o.events == 1 ? " event" : " events") +
                          " with fields over their bounds, indexed cut (the batch keeps them whole): " + fields);
}

// `kept` is where the refused batch is kept as evidence.
store::Finding fork_finding(const store::BatchRecord& r, const Decision& d, const std::string& kept) {
  auto f = make_finding(r.agent_id, store::FindingKind::kFork, r.header.seq, r.header.seq, r.header.first_time_ns,
                        r.header.last_time_ns,
                        batch::conflict_text(d.verdict, r.header, r.hash) + "; refused, kept in " + kept);
  f.epoch = d.epoch;
  return f;
}

// `chain` is the state before the restart; the epoch is already the new one.
store::Finding restart_finding(const store::BatchRecord& r, const ChainState& chain) {
  return make_finding(r.agent_id, store::FindingKind::kRestart, 1, 1, r.header.first_time_ns, r.header.last_time_ns,
                      "agent restarted its chain after seq " + std::to_string(chain.tip ? chain.tip->seq : 0) +
                          "; epoch " + std::to_string(chain.epoch) + " begins");
}

// Batches `from`..`to` are missing before `r`. `why` says how that was seen.
store::Finding gap_finding(const store::BatchRecord& r, uint64_t from, const std::string& why) {
  const uint64_t to = r.header.seq - 1;
  const std::string range =
      from == to ? "batch " + std::to_string(from) : "batches " + std::to_string(from) + ".." + std::to_string(to);
  return make_finding(r.agent_id, store::FindingKind::kGap, from, to, 0, r.header.first_time_ns,
                      range + " never arrived" + why);
}

Outcome stored_outcome(const store::BatchRecord& r, batch::Link link) {
  return Outcome{200, JsonReply()
                          .str("status", "stored")
                          .str("agent_id", r.agent_id)
                          .num("seq", r.header.seq)
                          .num("events", r.header.event_count)
                          .str("link", batch::link_name(link))
                          .done()};
}

Outcome duplicate_outcome(const store::BatchRecord& r) {
  return Outcome{200,
                 JsonReply().str("status", "duplicate").str("agent_id", r.agent_id).num("seq", r.header.seq).done()};
}

Outcome enrolled_outcome(const std::string& agent_id, const crypto::PublicKey& key) {
  return Outcome{200, JsonReply()
                          .str("status", "enrolled")
                          .str("agent_id", agent_id)
                          .str("key_id", crypto::to_hex(crypto::key_id(key)))
                          .done()};
}

// What POST /v1/enroll asks for.
struct EnrollRequest {
  std::string token;
  store::Agent agent;
};

std::string json_text(const rapidjson::Value& obj, const char* key) {
  auto it = obj.FindMember(key);
  return it != obj.MemberEnd() && it->value.IsString() ? std::string(it->value.GetString(), it->value.GetStringLength())
                                                       : std::string();
}

// Every error is the client's (400) and its message is the reply.
Result<EnrollRequest> parse_enroll_request(std::string_view json_body) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseValidateEncodingFlag | rapidjson::kParseIterativeFlag>(json_body.data(), json_body.size());
  auto bad = [](const std::string& message) { return make_error(ErrorCode::kInvalidArgument, message); };
  if (doc.HasParseError() || !doc.IsObject()) return bad("enroll body is not a JSON object");
  EnrollRequest req;
  req.token = json_text(doc, "token");
  req.agent.id = json_text(doc, "agent_id");
  if (req.token.empty()) return bad("missing 'token'");
  if (!batch::valid_agent_id(req.agent.id)) return bad("'agent_id' must be 1-64 characters of [A-Za-z0-9_-]");
  auto key = crypto::parse_public_key_pem(json_text(doc, "public_key"));
  if (!key) return bad("'public_key': " + key.error().message);
  req.agent.public_key = *key;
  req.agent.enrolled_ns = clock::now_ns();
  if (doc.HasMember("inventory") && doc["inventory"].IsObject()) {
    const rapidjson::Value& inv = doc["inventory"];
    req.agent.inventory = store::Inventory{json_text(inv, "hostname"), json_text(inv, "os"), json_text(inv, "kernel"),
                                           json_text(inv, "agent_version"), json_text(inv, "ci")};
    // An inventory is a claim, not evidence: over-long is refused, not
    // cut, and the agent (which cuts its own to these bounds) hears why.
    for (const auto& field : bounds::kInventory) {
      const std::size_t size = json_text(inv, std::string(field.name).c_str()).size();
      if (size > field.max_bytes)
        return bad("'inventory." + std::string(field.name) + "' is " + std::to_string(size) + " bytes, at most " +
                   std::to_string(field.max_bytes));
    }
  }
  return req;
}

// The build block as indexed: its URLs and names through redaction, like
// every other indexed string (event_row).
events::Build indexed_build(const events::Build& b) {
  events::Build r;
  r.ci = redact::text(b.ci);
  r.job = redact::text(b.job);
  r.id = redact::text(b.id);
  r.number = redact::text(b.number);
  r.url = redact::url(b.url);
  r.repository = redact::url(b.repository);
  r.commit = redact::text(b.commit);
  r.runner = redact::text(b.runner);
  r.branch = redact::text(b.branch);
  return r;
}

// What an exec's exe_sha256 must be to be indexed (the agent writes 64
// lowercase hex digits; anything else is not searchable).
bool is_sha256_hex(std::string_view s) {
  return s.size() == 64 &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace

// Only these facts are indexed; argv, the build command, cwd and every other
// field stay in the signed batch and are read back from the archive. Each
// indexed string passes through the same redaction the agent applies
// (common/redact), so what an agent's redaction missed -- an older agent, a
// rule added since, a hostile agent -- is not indexed in clear either: a URL
// destination keeps its host and path, not its credentials. Redacting a
// clean string returns it unchanged, so filters on ordinary values work.
store::EventRow event_row(const events::Event& e, uint32_t line, const store::EventRow* previous) {
  store::EventRow row;
  row.line = line;
  row.time_ns = e.time_ns;
  row.kind = e.kind();
  if (!e.build.id.empty()) {
    // Most events of a batch share its previous event's build: compared
    // raw first, redacted only when it differs.
    if (previous && previous->build && *previous->build == e.build) {
      row.build = previous->build;
    } else {
      events::Build b = indexed_build(e.build);
      if (previous && previous->build && *previous->build == b)
        row.build = previous->build;
      else
        row.build = std::make_shared<const events::Build>(std::move(b));
    }
  }
  row.pid = e.process.pid;
  row.ppid = e.process.ppid;
  row.process_key = e.process.key;
  row.exe = redact::text(e.process.exe);
  const auto dns_name = [&](const std::string& name) { row.dns_name = redact::text(name); };
  // One lambda per kind and no catch-all: a kind added to events.def does
  // not compile here until someone decides what of it is filterable.
  std::visit(bt::Overloaded{
                 [&](const events::BuildStart& b) { row.mode = redact::text(b.mode); },
                 [&](const events::BuildEnd& b) { row.exit_code = b.exit_code; },
                 [&](const events::ProcessExec& b) {
                   row.parent_key = e.process.parent_key;
                   if (is_sha256_hex(b.exe_sha256)) row.exe_sha256 = b.exe_sha256;
                 },
                 [&](const events::ProcessExit& b) {
                   row.exit_code = b.exit_code;
                   row.parent_key = e.process.parent_key;  // a process that never exec'd has only this
                 },
                 [&](const events::NetConnect& b) {
                   const bool v6 = b.daddr.find(':') != std::string::npos;
                   row.destination = redact::text((v6 ? "[" + b.daddr + "]" : b.daddr) + ":" + std::to_string(b.dport));
                   dns_name(b.dns_name);
                 },
                 [&](const events::DnsQuery& b) {
                   row.destination = redact::text(b.name);
                   dns_name(b.name);
                 },
                 [&](const events::SecretAccess& b) {
                   row.secret_path = redact::text(b.path);
                   // A metadata access is found by its destination too: the
                   // name the build used, else the address.
                   if (!b.dest_ip.empty()) {
                     const bool v6 = b.dest_ip.find(':') != std::string::npos;
                     row.destination = redact::text(!b.dest_name.empty() ? b.dest_name
                                                                         : (v6 ? "[" + b.dest_ip + "]" : b.dest_ip) +
                                                                               ":" + std::to_string(b.dest_port));
                   }
                   dns_name(b.dest_name);
                 },
                 [&](const events::ArtifactUpload& b) { row.destination = redact::url(b.destination); },
                 [&](const events::AgentStart& b) { row.mode = redact::text(b.mode); },
                 [](const events::AgentStop&) {},
                 [](const events::AgentHeartbeat&) {},
                 [&](const events::Loss& b) {
                   for (const auto& c : b.counts) row.loss_total += c.second;
                 },
                 [](const events::FileWrite&) {},  // the path stays in the signed batch
                 [](const std::monostate&) {},
             },
             e.body);
  return row;
}

// Issue 17/12. Every event of a batch lies in the batch's signed time
// window (batch::for_each_event holds them to the header's first and last
// time), but nothing bounds that window: an agent can sign any time up to
// 2^64-1. An event claiming a time after the collector's clock plus the
// allowed skew is kept (it is evidence) but indexed at the batch's receive
// time with its claim beside it, so every time query (`builds --since`,
// `export --since`, the order of `query`) still finds it; a clock finding
// says so, with the claimed times as its range. Times in the past are
// left alone: they are listed where they claim to be, and a batch may
// legitimately wait days in an agent's spool.
void bound_event_times(store::BatchRecord& r, uint64_t max_skew_ns) {
  const uint64_t limit = r.received_ns > UINT64_MAX - max_skew_ns ? UINT64_MAX : r.received_ns + max_skew_ns;
  uint64_t out_of_range = 0, from = UINT64_MAX, to = 0;
  for (store::EventRow& row : r.events) {
    if (row.time_ns <= limit) continue;
    row.claimed_ns = row.time_ns;
    row.time_ns = r.received_ns;
    ++out_of_range;
    from = std::min(from, *row.claimed_ns);
    to = std::max(to, *row.claimed_ns);
  }
  if (out_of_range == 0) return;
  r.findings.push_back(make_finding(r.agent_id, store::FindingKind::kClock, r.header.seq, r.header.seq, from, to,
                                    std::to_string(out_of_range) + " of " + std::to_string(r.events.size()) +
                                        " events claim a time more than " + std::to_string(max_skew_ns / 1000000000) +
                                        "s after the collector received them; indexed at the receive time"));
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
  RejectionLimiter rejections;

  mutable std::mutex queue_mu;
  std::condition_variable queue_cv;
  std::deque<Submission*> queue;
  bool stopping = false;
  std::thread writer;

  // Writer-thread state only.
  std::map<std::string, ChainState, std::less<>> chains;

  Impl(Config c, std::unique_ptr<store::Store> w, std::unique_ptr<store::Store> a, metrics::Metrics& m)
      : config(std::move(c)),
        writer_store(std::move(w)),
        admin_store(std::move(a)),
        metrics(m),
        archive(config.data_dir),
        rejections(config.rejections) {}

  // Request threads.
  Result<std::optional<store::Agent>> lookup_agent(const std::string& id);
  Outcome submit(std::span<const uint8_t> body);
  Outcome refuse(Reject reason, uint64_t events, int status, std::string_view message, int retry_after = 0);
  Outcome refuse_enrolled(Reject reason, const batch::Header& header, const std::string& message);
  std::optional<Outcome> refuse_signer(const batch::Header& header, const std::optional<store::Agent>& agent);
  Outcome refuse_unopened(const Error& error, const batch::Header& header);
  Outcome enqueue(store::BatchRecord record);
  Outcome enroll(const EnrollRequest& request);

  // The writer thread.
  void writer_loop();
  void process_group(std::vector<Submission*>& submissions);
  Result<ChainState*> chain_for(const std::string& agent_id);
  void classify(Submission* submission, Group& group);
  Result<batch::Verdict> verdict_of(const store::BatchRecord& r, const ChainState& chain, const Pending& pending,
                                    const Submission** duplicate_of);
  Result<bool> stored_anywhere(const store::BatchRecord& r, const Pending& pending, const Submission** duplicate_of);
  void accept(Submission* submission, ChainState& chain, batch::Link link, Group& group);
  void keep_refused(Group& group);
  Status commit_records(const std::vector<store::BatchRecord>& records, bool refused);
  void record_forks(const std::vector<store::Finding>& forks);
  Outcome answer(const Decision& d, const store::BatchRecord& r, const Status& committed);
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

Outcome Ingest::Impl::refuse(Reject reason, uint64_t events, int status, std::string_view message, int retry_after) {
  metrics.rejected(reason, events);
  return error_outcome(status, message, retry_after);
}

// A batch claiming an enrolled agent that cannot be trusted: refused with
// 403, and a finding for that agent unless the limiter holds it back (the
// sender need not hold any key, so findings must not grow with a flood).
Outcome Ingest::Impl::refuse_enrolled(Reject reason, const batch::Header& header, const std::string& message) {
  const auto admitted = rejections.admit(header.agent_id, clock::monotonic_ns());
  if (admitted.record) {
    std::string detail = "batch seq " + std::to_string(header.seq) + " refused: " + message;
    if (admitted.held_back)
      detail += "; " + std::to_string(admitted.held_back) + " more refused since the last such finding";
    auto f = make_finding(header.agent_id, store::FindingKind::kRejected, header.seq, header.seq, header.first_time_ns,
                          header.last_time_ns, std::move(detail));
    std::lock_guard lock(admin_mu);
    if (auto s = admin_store->record_finding(f); s)
      metrics.finding("rejected");
    else
      std::fprintf(stderr, "collector: cannot record rejected finding: %s\n",
                   text::printable(s.error().message).c_str());
  }
  return refuse(reason, header.event_count, 403, message);
}

// Whether the signer named in the header may send at all: enrolled, not
// revoked (the id or its key), and signing with its enrolled key. An id
// nobody enrolled gets no finding: there is no agent to attach it to, and
// any client could invent ids without end (metrics count them).
std::optional<Outcome> Ingest::Impl::refuse_signer(const batch::Header& header,
                                                   const std::optional<store::Agent>& agent) {
  if (!agent)
    return refuse(Reject::unknown_agent, header.event_count, 401,
                  "unknown agent '" + header.agent_id + "': enroll it first");
  if (agent->revoked) return refuse_enrolled(Reject::revoked, header, "agent '" + agent->id + "' is revoked");
  if (crypto::key_id(agent->public_key) != header.key_id)
    return refuse_enrolled(
        Reject::bad_signature, header,
        "batch key id " + crypto::to_hex(header.key_id) + " is not the enrolled key of agent '" + agent->id + "'");
  return std::nullopt;
}

Outcome Ingest::Impl::refuse_unopened(const Error& error, const batch::Header& header) {
  switch (error.code) {
    case ErrorCode::kBadSignature:
      return refuse_enrolled(Reject::bad_signature, header, error.message);
    case ErrorCode::kTooLarge:
      return refuse(Reject::too_large, 0, 413, error.message);
    default:
      return refuse(Reject::malformed, 0, 400, error.message);
  }
}

Outcome Ingest::Impl::submit(std::span<const uint8_t> body) {
  auto header = batch::parse_header(body, config.limits);
  if (!header) {
    const bool too_large = header.error().code == ErrorCode::kTooLarge;
    return refuse(too_large ? Reject::too_large : Reject::malformed, 0, too_large ? 413 : 400, header.error().message);
  }
  auto agent = lookup_agent(header->agent_id);
  if (!agent)
    return refuse(Reject::store_error, 0, 503, "store unavailable: " + agent.error().message,
                  config.retry_after_seconds);
  if (auto refused = refuse_signer(*header, *agent)) return *refused;
  auto opened = batch::open(body, (*agent)->public_key, config.limits);
  if (!opened) return refuse_unopened(opened.error(), *header);
  store::BatchRecord record;
  record.agent_id = header->agent_id;
  record.header = *header;
  record.hash = opened->hash;
  record.received_ns = clock::now_ns();
  record.size_bytes = body.size();
  record.events.reserve(header->event_count);
  uint32_t line = 0;
  Oversized oversized;
  Status parsed = batch::for_each_event(*opened, [&](events::Event&& e) {
    // Before anything reads the event for the index: a hostile agent's
    // megabyte host or build id reaches no row, listing or finding whole.
    oversized.add(bounds::bound_event(e));
    record.events.push_back(event_row(e, line++, record.events.empty() ? nullptr : &record.events.back()));
    collect_loss_finding(e, record.agent_id, header->seq, record.findings);
  });
  if (!parsed) return refuse(Reject::malformed, 0, 400, parsed.error().message);
  bound_event_times(record, config.max_clock_skew_ns);
  if (oversized.events) record.findings.push_back(oversized_finding(record, oversized));
  // Archive before commit: content-addressed, so a retry rewrites nothing
  // and a crash between the two leaves only an unreferenced object. The
  // writer syncs the archive once per group, before the commit.
  auto path = archive.put(body, opened->hash);
  if (!path)
    return refuse(Reject::store_error, header->event_count, 503, "archive: " + path.error().message,
                  config.retry_after_seconds);
  record.archive_path = *path;
  return enqueue(std::move(record));
}

Outcome Ingest::Impl::enqueue(store::BatchRecord record) {
  Submission submission;
  submission.record = std::move(record);
  auto result = submission.done.get_future();
  {
    std::lock_guard lock(queue_mu);
    if (stopping) return error_outcome(503, "collector is shutting down", config.retry_after_seconds);
    if (queue.size() >= config.max_queue) {
      metrics.rejected(Reject::overloaded, submission.record.header.event_count);
      return error_outcome(503, "store is busy, retry later", config.retry_after_seconds);
    }
    queue.push_back(&submission);
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

// Stored batches of the current epoch come from this group first, then
// from the store. A replay of a batch still pending in this group is
// remembered so its answer can follow that batch's commit.
Result<batch::Verdict> Ingest::Impl::verdict_of(const store::BatchRecord& r, const ChainState& chain,
                                                const Pending& pending, const Submission** duplicate_of) {
  Status lookup = Ok{};
  const auto verdict = batch::classify(chain.tip, r.header, r.hash, [&](uint64_t seq) -> std::optional<batch::Stored> {
    if (auto it = pending.links.find({r.agent_id, chain.epoch, seq}); it != pending.links.end()) return it->second;
    auto stored = writer_store->batch_link(r.agent_id, chain.epoch, seq);
    if (stored) return *stored;
    if (lookup) lookup = stored.error();
    return std::nullopt;
  });
  // A failed lookup could turn a fork into a late batch: nothing is decided.
  if (!lookup) return lookup.error();
  if (verdict.link == batch::Link::kReplay) {
    if (auto it = pending.by_hash.find(r.hash); it != pending.by_hash.end()) *duplicate_of = it->second;
    return verdict;
  }
  // The same bytes stored in an earlier epoch (sent again after a restart
  // of the chain) are a replay too, not a new batch of this epoch. A next
  // batch cannot be: it chains to this epoch's tip.
  if (verdict.link == batch::Link::kFirst || verdict.link == batch::Link::kNext) return verdict;
  auto stored = stored_anywhere(r, pending, duplicate_of);
  if (!stored) return stored.error();
  return *stored ? batch::Verdict{batch::Link::kReplay} : verdict;
}

Result<bool> Ingest::Impl::stored_anywhere(const store::BatchRecord& r, const Pending& pending,
                                           const Submission** duplicate_of) {
  if (auto it = pending.by_hash.find(r.hash); it != pending.by_hash.end()) {
    *duplicate_of = it->second;
    return true;
  }
  return writer_store->has_batch(r.hash);
}

void Ingest::Impl::classify(Submission* submission, Group& group) {
  const store::BatchRecord& r = submission->record;
  auto chain = chain_for(r.agent_id);
  const Submission* duplicate_of = nullptr;
  auto verdict = chain ? verdict_of(r, **chain, group.pending, &duplicate_of) : Result<batch::Verdict>(chain.error());
  if (!verdict) {
    submission->done.set_value(error_outcome(503, "store: " + verdict.error().message, config.retry_after_seconds));
    return;
  }
  const batch::Link link = verdict->link;
  if (link == batch::Link::kReplay || link == batch::Link::kFork) {
    group.decisions.push_back({submission, *verdict, false, duplicate_of, 0, (*chain)->epoch});
    return;
  }
  accept(submission, **chain, link, group);
}

// The batch joins the commit: restarts and gaps become findings stored
// with it, a late batch narrows the gap finding it falls in, and the chain
// tip moves forward (never back).
void Ingest::Impl::accept(Submission* submission, ChainState& chain, batch::Link link, Group& group) {
  store::BatchRecord& r = submission->record;
  if (link == batch::Link::kRestart) {
    ++chain.epoch;
    r.findings.push_back(restart_finding(r, chain));
    chain.tip.reset();
  } else if (link == batch::Link::kGap) {
    r.findings.push_back(gap_finding(r, chain.tip->seq + 1, ""));
  } else if (link == batch::Link::kFirst && r.header.seq > 1) {
    // A chain starts at seq 1; first contact above it is accepted (nothing
    // already sent is lost) but the batches before it are missing.
    r.findings.push_back(gap_finding(r, 1, " (first batch received is seq " + std::to_string(r.header.seq) + ")"));
  }
  r.late = link == batch::Link::kLate;
  r.epoch = chain.epoch;
  if (!chain.tip || r.header.seq > chain.tip->seq) chain.tip = batch::Tip{r.header.seq, r.hash};
  group.pending.links[{r.agent_id, chain.epoch, r.header.seq}] = batch::Stored{r.hash, r.header.prev_hash};
  group.pending.by_hash[r.hash] = submission;
  group.decisions.push_back({submission, batch::Verdict{link}, true, nullptr, group.records.size()});
  group.records.push_back(std::move(r));
}

// Forks are not stored, but they are evidence: each moves to the refused
// archive, and the first time those bytes are refused it becomes a fork
// finding (recorded after the group's commit).
void Ingest::Impl::keep_refused(Group& group) {
  for (const Decision& d : group.decisions) {
    if (d.verdict.link != batch::Link::kFork) continue;
    const store::BatchRecord& r = d.submission->record;
    auto refused = archive.refuse(r.hash);
    if (!refused) {
      // The batch stays where the request thread put it: not lost, only
      // not apart. The finding still names it.
      std::fprintf(stderr, "collector: %s\n", text::printable(refused.error().message).c_str());
      group.forks.push_back(fork_finding(r, d, r.archive_path));
      continue;
    }
    if (!refused->before) group.forks.push_back(fork_finding(r, d, refused->path));
  }
}

Status Ingest::Impl::commit_records(const std::vector<store::BatchRecord>& records, bool refused) {
  if (records.empty() && !refused) return Ok{};
  // The archive objects of this group (and the moves of refused ones)
  // become durable before the rows that point at them, all with one sync.
  Status committed = Ok{};
  for (const auto& r : records)
    if (committed) committed = archive.restore(r.hash);
  if (committed) committed = archive.sync();
  if (committed) committed = writer_store->commit(records);
  if (!committed) {
    // Nothing of this group is stored: forget the cached tips so the next
    // group reloads them from the store.
    for (const auto& r : records) chains.erase(r.agent_id);
  }
  return committed;
}

void Ingest::Impl::record_forks(const std::vector<store::Finding>& forks) {
  for (const auto& f : forks) {
    if (auto s = writer_store->record_finding(f); !s) {
      std::fprintf(stderr, "collector: cannot record fork finding: %s\n", text::printable(s.error().message).c_str());
    }
    metrics.finding("fork");
  }
}

Outcome Ingest::Impl::answer(const Decision& d, const store::BatchRecord& r, const Status& committed) {
  if (d.commit) {
    if (!committed) {
      metrics.rejected(Reject::store_error, r.header.event_count);
      return error_outcome(503, "store: " + committed.error().message, config.retry_after_seconds);
    }
    metrics.accepted(r.header.event_count);
    for (const auto& f : r.findings) metrics.finding(store::finding_kind_name(f.kind));
    return stored_outcome(r, d.verdict.link);
  }
  if (d.verdict.link == batch::Link::kReplay) {
    // A replay of a batch of this group is only a duplicate once that
    // batch is stored.
    if (d.duplicate_of && !committed)
      return error_outcome(503, "store: " + committed.error().message, config.retry_after_seconds);
    metrics.duplicate();
    return duplicate_outcome(r);
  }
  metrics.rejected(Reject::fork, r.header.event_count);
  return error_outcome(409, "fork: agent '" + r.agent_id + "': " + batch::conflict_text(d.verdict, r.header, r.hash));
}

void Ingest::Impl::process_group(std::vector<Submission*>& submissions) {
  Group group;
  for (Submission* submission : submissions) classify(submission, group);
  keep_refused(group);
  const Status committed = commit_records(group.records, !group.forks.empty());
  record_forks(group.forks);
  for (const Decision& d : group.decisions) {
    const store::BatchRecord& r = d.commit ? group.records[d.record] : d.submission->record;
    Outcome out = answer(d, r, committed);
    // Hand the rows back: the request thread frees them, not the writer.
    if (d.commit) d.submission->record = std::move(group.records[d.record]);
    d.submission->done.set_value(std::move(out));
  }
}

void Ingest::Impl::writer_loop() {
  std::vector<Submission*> group;
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

// The store decides in one transaction (store::Store::enroll); a caller
// without a valid token gets the same 401 whatever the id's state, so
// enrolled ids cannot be probed.
Outcome Ingest::Impl::enroll(const EnrollRequest& request) {
  std::lock_guard lock(admin_mu);
  Status s = admin_store->enroll(request.agent, request.token, clock::now_ns());
  if (s) return enrolled_outcome(request.agent.id, request.agent.public_key);
  switch (s.error().code) {
    case ErrorCode::kNotFound:
      return error_outcome(401, "enrollment token is unknown, expired or used up");
    case ErrorCode::kForbidden:
      return error_outcome(403, s.error().message);
    case ErrorCode::kConflict:
      return error_outcome(409, s.error().message);
    default:
      return error_outcome(503, "store: " + s.error().message, 1);
  }
}

Ingest::Ingest(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<Ingest>> Ingest::start(Config config, std::unique_ptr<store::Store> writer,
                                              std::unique_ptr<store::Store> admin, metrics::Metrics& metrics) {
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
  const uint64_t t0 = clock::monotonic_ns();
  Outcome out = impl_->submit(body);
  if (out.status == 200) impl_->metrics.observe_latency(static_cast<double>(clock::monotonic_ns() - t0) / 1e9);
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
  auto request = parse_enroll_request(json_body);
  if (!request) return error_outcome(400, request.error().message);
  return impl_->enroll(*request);
}

}  // namespace bt::collector::ingest

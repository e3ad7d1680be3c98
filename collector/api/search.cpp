#include "collector/api/search.h"

#include <algorithm>
#include <map>
#include <set>

#include "collector/api/builds.h"
#include "collector/api/cursor.h"
#include "collector/api/json.h"
#include "collector/api/search_query.h"

namespace bt::collector::api {

namespace {

// One matching event.
struct Place {
  store::EventRef ref;
  events::Kind kind{};
  std::string process_key, exe, value;
  uint64_t pid = 0;
};

struct TermMatch {
  std::string term;
  uint64_t events = 0;  // matching events in the build (and the time bounds)
  std::vector<Place> places;
};

// A matching value of one build (build_values), within the time bounds.
struct Candidate {
  std::string value;
  uint64_t events = 0, first_ns = 0, last_ns = 0;
};
using Candidates = std::map<int64_t, std::vector<Candidate>>;  // by build

struct Window {
  uint64_t since_ns = 0, until_ns = UINT64_MAX;
  bool overlaps(uint64_t first, uint64_t last) const { return last >= since_ns && first <= until_ns; }
};

// The builds with a value of `field` in `range` that `keep` accepts.
Result<Candidates> candidates(store::Store& db, store::ValueField field, const ValueRange& range, const Window& w,
                              const std::function<bool(const std::string&)>& keep) {
  Candidates out;
  std::size_t rows = 0;
  bool too_many = false;
  Status s = db.build_values(field, range.lo, range.hi, [&](const store::BuildValue& v) {
    if (++rows > kMaxCandidateValues) {
      too_many = true;
      return false;
    }
    if (w.overlaps(v.first_ns, v.last_ns) && keep(v.value))
      out[v.build].push_back({v.value, v.events, v.first_ns, v.last_ns});
    return true;
  });
  if (!s) return s.error();
  if (too_many)
    return make_error(
        ErrorCode::kInvalidArgument,
        "q: the pattern matches more than " + std::to_string(kMaxCandidateValues) +
            " stored values; make it narrower (end dest: with whole labels, start exe: with a directory)");
  return out;
}

Place place_of(const store::IndexRow& r, std::string value) {
  return Place{r.ref, r.kind, r.process_key, r.exe, std::move(value), r.pid};
}

// The places of one index term in one build: its candidate values' rows.
Result<TermMatch> index_places(store::Store& db, const store::BuildRow& b, const std::string& term,
                               const std::vector<Candidate>& values, const Window& w,
                               const std::function<void(store::IndexQuery&, const std::string&)>& narrow) {
  TermMatch m;
  m.term = term;
  for (const Candidate& c : values) {
    m.events += c.events;
    if (m.places.size() >= kPlacesPerTerm) continue;
    store::IndexQuery q;
    q.build = b.id;
    q.since_ns = std::max(w.since_ns, c.first_ns);
    q.until_ns = std::min(w.until_ns, c.last_ns);
    q.limit = kPlacesPerTerm - m.places.size();
    narrow(q, c.value);
    Status s = db.index_rows(q, [&](const store::IndexRow& r) {
      m.places.push_back(place_of(r, c.value));
      return true;
    });
    if (!s) return s.error();
  }
  std::sort(m.places.begin(), m.places.end(), [](const Place& a, const Place& b) {
    return std::tie(a.ref.time_ns, a.ref.row) < std::tie(b.ref.time_ns, b.ref.row);
  });
  return m;
}

// The execs of one build whose argv holds `text`, read back; counts what
// it read into `scanned`. A batch that fails verification sets
// `unreadable` (that is the answer then, not an outage of the store).
Result<TermMatch> argv_places(store::Store& db, readback::EventReader& reader, const store::BuildRow& b,
                              const std::string& term, const std::string& text, const Window& w, std::size_t& scanned,
                              bool& unreadable) {
  TermMatch m;
  m.term = term;
  store::IndexQuery q;
  q.build = b.id;
  q.kinds = {events::Kind::process_exec};
  q.since_ns = w.since_ns;
  q.until_ns = w.until_ns;
  std::vector<store::EventRef> refs;
  Status s = db.index_rows(q, [&](const store::IndexRow& r) {
    refs.push_back(r.ref);
    return true;
  });
  if (!s) return s.error();
  scanned += refs.size();
  Status read = reader.visit(refs, [&](const events::Event& e, const store::EventRef& ref) {
    const auto* x = std::get_if<events::ProcessExec>(&e.body);
    if (!x) return;
    for (const auto& arg : x->argv) {
      if (arg.find(text) == std::string::npos) continue;
      ++m.events;
      if (m.places.size() < kPlacesPerTerm) {
        Place p;
        p.ref = ref;
        p.kind = e.kind();
        p.process_key = e.process.key;
        p.exe = e.process.exe;
        p.pid = e.process.pid;
        p.value = arg;
        m.places.push_back(std::move(p));
      }
      break;
    }
  });
  // Visited in batch order: the first places in time.
  std::sort(m.places.begin(), m.places.end(), [](const Place& a, const Place& b) {
    return std::tie(a.ref.time_ns, a.ref.row) < std::tie(b.ref.time_ns, b.ref.row);
  });
  if (!read) {
    unreadable = true;
    return read.error();
  }
  return m;
}

void write_match(JsonOut& out, const TermMatch& m) {
  out.object().key("term").str(m.term).key("events").u64(m.events).key("places").array();
  for (const Place& p : m.places) {
    out.object();
    out.key("seq").u64(p.ref.seq).key("line").u64(p.ref.line).key("time_ns").u64(p.ref.time_ns);
    out.key("kind").str(events::kind_name(p.kind));
    out.key("process_key").str(p.process_key).key("pid").u64(p.pid).key("exe").str(p.exe);
    out.key("value").str(p.value);
    out.end_object();
  }
  out.end_array().end_object();
}

// The query's search, one page at a time.
class Search {
 public:
  Search(store::Store& db, readback::EventReader& reader, const SearchQuery& q) : db_(db), reader_(reader), q_(q) {
    window_.since_ns = q.since_ns.value_or(0);
    window_.until_ns = q.until_ns.value_or(UINT64_MAX);
  }

  // The candidate builds of the index terms, intersected; false when no
  // index term narrows them (argv alone).
  Result<bool> find_candidates() {
    bool narrowed = false;
    const auto take = [&](Result<Candidates> found, Candidates& slot) -> Status {
      if (!found) return found.error();
      slot = std::move(*found);
      if (!narrowed) {
        for (const auto& [build, values] : slot) builds_.insert(build);
      } else {
        std::set<int64_t> both;
        for (int64_t b : builds_)
          if (slot.count(b)) both.insert(b);
        builds_ = std::move(both);
      }
      narrowed = true;
      return Ok{};
    };
    if (!q_.exe_sha256.empty()) {
      Status s = take(candidates(db_, store::ValueField::kExeSha256, {q_.exe_sha256, q_.exe_sha256 + '\x01'}, window_,
                                 [&](const std::string& v) { return v == q_.exe_sha256; }),
                      sha_);
      if (!s) return s.error();
    }
    if (!q_.dest.empty()) {
      Status s = take(candidates(db_, store::ValueField::kDnsName, dns_range(q_.dest), window_,
                                 [&](const std::string& v) { return glob_matches(q_.dest, store::dns_name_of(v)); }),
                      dest_);
      if (!s) return s.error();
    }
    if (!q_.exe.empty()) {
      Status s = take(candidates(db_, store::ValueField::kExe, exe_range(q_.exe), window_,
                                 [&](const std::string& v) { return glob_matches(q_.exe, v); }),
                      exe_);
      if (!s) return s.error();
    }
    return narrowed;
  }

  // The next builds below `before` (0: the newest), up to `limit`
  // matching ones; `next` is where the following page starts (0: none).
  Status page(int64_t before, std::size_t limit, bool narrowed) {
    int64_t at = before;
    while (found_.size() < limit) {
      auto rows = next_rows(at, narrowed);
      if (!rows) return rows.error();
      if (rows->empty()) return Ok{};
      for (const auto& b : *rows) {
        if (found_.size() >= limit || scanned_ >= kArgvScanBudget) {
          next_ = at;
          return Ok{};
        }
        auto m = matches(b);
        if (!m) return m.error();
        if (!m->empty()) found_.push_back({b, std::move(*m)});
        at = b.id;
      }
      if (found_.size() >= limit) next_ = at;
    }
    return Ok{};
  }

  bool unreadable() const { return unreadable_; }

  void write(JsonOut& out) const {
    out.object().key("query").str(query_text(q_)).key("builds").array();
    for (const auto& [b, terms] : found_) {
      out.object().key("build");
      write_build(out, b);
      out.key("matches").array();
      for (const auto& m : terms) write_match(out, m);
      out.end_array().end_object();
    }
    out.end_array().key("next");
    if (next_)
      out.str(make_cursor({next_}));
    else
      out.null();
    out.key("scanned_execs").u64(scanned_);
    out.end_object();
  }

 private:
  static constexpr std::size_t kChunk = 200;

  // Build records below `before` that the build terms allow: the
  // candidates (a chunk of them, newest first), or every record.
  Result<std::vector<store::BuildRow>> next_rows(int64_t before, bool narrowed) {
    store::BuildQuery bq;
    bq.ci = q_.ci;
    bq.repository = q_.repository;
    bq.job = q_.job;
    bq.branch = q_.branch;
    bq.since_ns = window_.since_ns;
    bq.until_ns = window_.until_ns;
    bq.before = before;
    bq.limit = kChunk;
    if (narrowed) {
      auto it = before ? builds_.lower_bound(before) : builds_.end();
      while (it != builds_.begin() && bq.ids.size() < kChunk) bq.ids.push_back(*--it);
      if (bq.ids.empty()) return std::vector<store::BuildRow>();
      bq.before = 0;
      auto rows = db_.build_page(bq);
      if (!rows) return rows.error();
      // Candidates the build terms refused are passed over: go on below
      // the chunk even when none of it was kept.
      if (rows->empty() || rows->back().id != bq.ids.back()) {
        store::BuildRow marker;
        marker.id = bq.ids.back();
        rows->push_back(std::move(marker));
        skipped_.insert(bq.ids.back());
      }
      return rows;
    }
    return db_.build_page(bq);
  }

  // Every term's places in the build; none when a term has none.
  Result<std::vector<TermMatch>> matches(const store::BuildRow& b) {
    std::vector<TermMatch> out;
    if (skipped_.count(b.id)) return out;
    const auto exec_with = [](std::string store::IndexQuery::*field) {
      return [field](store::IndexQuery& iq, const std::string& v) {
        iq.kinds = {events::Kind::process_exec};
        iq.*field = v;
      };
    };
    const auto by_name = [](store::IndexQuery& iq, const std::string& v) { iq.dns_name = store::dns_name_of(v); };
    const struct {
      std::string_view field;
      const std::string& value;
      Candidates& candidates;
      std::function<void(store::IndexQuery&, const std::string&)> narrow;
    } index_terms[] = {{"exe_sha256", q_.exe_sha256, sha_, exec_with(&store::IndexQuery::exe_sha256)},
                       {"dest", q_.dest, dest_, by_name},
                       {"exe", q_.exe, exe_, exec_with(&store::IndexQuery::exe)}};
    for (const auto& t : index_terms) {
      if (t.value.empty()) continue;
      auto m = index_places(db_, b, term_text(t.field, t.value), t.candidates[b.id], window_, t.narrow);
      if (!m) return m.error();
      if (m->places.empty()) return std::vector<TermMatch>();
      out.push_back(std::move(*m));
    }
    // DNS values are kept reversed: the places show the names.
    for (auto& m : out)
      if (m.term.rfind("dest:", 0) == 0)
        for (Place& p : m.places) p.value = store::dns_name_of(p.value);
    if (!q_.argv.empty()) {
      auto m = argv_places(db_, reader_, b, term_text("argv", q_.argv), q_.argv, window_, scanned_, unreadable_);
      if (!m) return m.error();
      if (m->places.empty()) return std::vector<TermMatch>();
      out.push_back(std::move(*m));
    }
    return out;
  }

  store::Store& db_;
  readback::EventReader& reader_;
  const SearchQuery& q_;
  Window window_;
  std::set<int64_t> builds_;  // candidates of the index terms
  Candidates sha_, dest_, exe_;
  std::set<int64_t> skipped_;  // chunk ends the build terms refused
  std::vector<std::pair<store::BuildRow, std::vector<TermMatch>>> found_;
  int64_t next_ = 0;
  std::size_t scanned_ = 0;
  bool unreadable_ = false;
};

}  // namespace

Response search(store::Store& db, readback::EventReader& reader, const Params& params, uint64_t now_ns) {
  if (Status s = params.only({"q", "limit", "after"}); !s) return error_response(400, s.error().message);
  const auto text = params.get("q");
  if (!text) return error_response(400, "q is needed: the query (docs/collector-api.md \"Search\")");
  auto query = parse_search(*text, now_ns);
  if (!query) return error_response(400, query.error().message);
  auto limit = params.page_limit(kDefaultSearchPage, kMaxSearchPage);
  if (!limit) return error_response(400, limit.error().message);
  auto after = params.after(1);
  if (!after) return error_response(400, after.error().message);
  const int64_t before = *after ? (**after)[0] : 0;
  Search run(db, reader, *query);
  auto narrowed = run.find_candidates();
  if (!narrowed) {
    if (narrowed.error().code == ErrorCode::kInvalidArgument) return error_response(400, narrowed.error().message);
    return store_unavailable(narrowed.error());
  }
  if (Status s = run.page(before, *limit, *narrowed); !s)
    return run.unreadable() ? readback_failed(s.error()) : store_unavailable(s.error());
  JsonOut out;
  run.write(out);
  return json_response(out.done());
}

}  // namespace bt::collector::api

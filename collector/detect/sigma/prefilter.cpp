// The literal prefilter; see prefilter.h.
#include "collector/detect/sigma/prefilter.h"

#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>
#include <optional>

namespace bt::collector::detect::sigma {

struct Prefilter::FieldSet {
  std::string field;
  std::unique_ptr<re2::RE2::Set> set;
  std::unordered_map<std::string, int> literal_ids;
  std::unordered_map<const Matcher*, std::vector<int>> matcher_ids;
  bool compiled = false;
};

namespace {

re2::RE2::Options literal_options() {
  re2::RE2::Options o;
  o.set_literal(true);
  o.set_case_sensitive(true);  // values are folded before the search
  o.set_log_errors(false);
  o.set_max_mem(64 << 20);
  return o;
}

template <class F>
void for_each_item(const std::vector<Rule>& rules, const F& f) {
  const auto searches = [&](const Searches& s) {
    for (const auto& [name, d] : s.detections)
      for (const auto& group : d.any_of)
        for (const auto& item : group) f(item);
  };
  for (const auto& r : rules) {
    searches(r.searches);
    for (const auto& fs : r.filter_searches)
      if (fs) searches(*fs);
  }
}

}  // namespace

Prefilter::Prefilter(const std::vector<Rule>& rules) {
  for_each_item(rules, [&](const DetectionItem& item) {
    for (const auto& m : item.match.matchers) {
      if (m.kind != Matcher::Kind::kPattern || m.literals.empty() || !m.fold) continue;
      for (const auto& field : item.fields) {
        auto& fs = sets_[field];
        if (!fs) {
          fs = std::make_unique<FieldSet>();
          fs->field = field;
          fs->set = std::make_unique<re2::RE2::Set>(literal_options(), re2::RE2::UNANCHORED);
        }
        auto& ids = fs->matcher_ids[&m];
        for (const auto& lit : m.literals) {
          auto [it, added] = fs->literal_ids.emplace(lit, 0);
          if (added) it->second = fs->set->Add(lit, nullptr);
          if (it->second >= 0) ids.push_back(it->second);
        }
        if (ids.size() != m.literals.size()) fs->matcher_ids.erase(&m);  // a literal the Set refused
      }
    }
  });
  for (auto& [field, fs] : sets_) fs->compiled = fs->set->Compile();  // not compiled: no prefilter on the field
  // A matcher is prefiltered only when it is on every field of its item.
  for_each_item(rules, [&](const DetectionItem& item) {
    for (const auto& m : item.match.matchers) {
      Needs needs;
      for (const auto& field : item.fields) {
        auto fs = sets_.find(field);
        if (fs == sets_.end() || !fs->second->compiled) break;
        auto ids = fs->second->matcher_ids.find(&m);
        if (ids == fs->second->matcher_ids.end()) break;
        needs.emplace_back(fs->second.get(), ids->second);
      }
      m.prefilter_slot = -1;
      if (item.fields.empty() || needs.size() != item.fields.size()) continue;
      m.prefilter_slot = static_cast<int>(needs_.size());
      needs_.push_back(std::move(needs));
    }
  });
}

Prefilter::~Prefilter() = default;

const Prefilter::Needs* Prefilter::needs(const Matcher& m) const {
  const int slot = m.prefilter_slot;
  return slot >= 0 && static_cast<std::size_t>(slot) < needs_.size() ? &needs_[slot] : nullptr;
}

const std::string& Prefilter::field_of(const FieldSet& set) { return set.field; }

bool Prefilter::present(const FieldSet& set, const std::string& value, std::vector<int>& out) const {
  thread_local std::string folded;
  folded.assign(value);
  for (char& c : folded) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  thread_local std::vector<int> found;
  found.clear();
  re2::RE2::Set::ErrorInfo error{};
  if (!set.set->Match(folded, &found, &error) && error.kind != re2::RE2::Set::kNoError) return false;
  out.insert(out.end(), found.begin(), found.end());
  return true;
}

CachedFields::Entry& CachedFields::entry(std::string_view field) const {
  for (auto& e : cache_)
    if (e.name == field) return e;
  cache_.push_back(Entry{std::string(field), nullptr, {}, false, false, {}});
  inner_.values(field, cache_.back().values);
  return cache_.back();
}

void CachedFields::values(std::string_view field, std::vector<std::string>& out) const {
  const Entry& e = entry(field);
  out.insert(out.end(), e.values.begin(), e.values.end());
}

const std::vector<int>* CachedFields::present(const Prefilter::FieldSet& set) const {
  Entry* e = nullptr;
  for (auto& c : cache_)
    if (c.set == &set) e = &c;
  if (!e) {
    e = &entry(Prefilter::field_of(set));
    e->set = &set;
  }
  if (!e->hits_known) {
    e->hits_known = true;
    for (const auto& v : e->values)
      if (!prefilter_->present(set, v, e->hits)) {
        e->bypass = true;
        break;
      }
    std::sort(e->hits.begin(), e->hits.end());
    e->hits.erase(std::unique(e->hits.begin(), e->hits.end()), e->hits.end());
  }
  return e->bypass ? nullptr : &e->hits;
}

bool CachedFields::may_match(const Matcher& m) const {
  if (!prefilter_ || m.kind != Matcher::Kind::kPattern) return true;
  const auto* needs = prefilter_->needs(m);
  if (!needs) return true;
  for (const auto& [set, ids] : *needs) {
    const auto* hits = present(*set);
    if (!hits) return true;
    for (int id : ids)
      if (std::binary_search(hits->begin(), hits->end(), id)) return true;
  }
  return false;
}

namespace {

// What a rule needs to hold, as matchers (RuleIndex); nullopt: nothing.
using Need = std::optional<std::vector<const Matcher*>>;

// An AND: any one part's need will do; the smallest is the most selective.
Need need_all(const std::vector<Need>& parts) {
  Need best;
  for (const auto& n : parts)
    if (n && (!best || n->size() < best->size())) best = n;
  return best;
}

// An OR: every part's need together; a part needing nothing frees all.
Need need_any(const std::vector<Need>& parts) {
  std::vector<const Matcher*> all;
  for (const auto& n : parts) {
    if (!n) return std::nullopt;
    all.insert(all.end(), n->begin(), n->end());
  }
  return all;
}

Need need_of(const DetectionItem& item, const Prefilter& p) {
  const auto filtered = [&](const Matcher& m) { return m.kind == Matcher::Kind::kPattern && p.needs(m); };
  const auto& ms = item.match.matchers;
  if (item.match.all) {
    for (const auto& m : ms)
      if (filtered(m)) return std::vector<const Matcher*>{&m};
    return std::nullopt;
  }
  std::vector<const Matcher*> out;
  for (const auto& m : ms) {
    if (!filtered(m)) return std::nullopt;
    out.push_back(&m);
  }
  if (out.empty()) return std::nullopt;
  return out;
}

Need need_of(const Searches& s, const std::string& name, const Prefilter& p) {
  const auto it = s.detections.find(name);
  if (it == s.detections.end()) return std::nullopt;
  std::vector<Need> groups;
  for (const auto& group : it->second.any_of) {
    std::vector<Need> items;
    for (const auto& item : group) items.push_back(need_of(item, p));
    groups.push_back(need_all(items));
  }
  return need_any(groups);
}

Need need_of(const Condition& c, const Searches& s, const Prefilter& p) {
  std::vector<Need> parts;
  switch (c.op) {
    case Condition::Op::kRef:
      return need_of(s, c.ref, p);
    case Condition::Op::kNot:
      return std::nullopt;
    case Condition::Op::kAnd:
    case Condition::Op::kOr:
      for (const auto& ch : c.children) parts.push_back(need_of(*ch, s, p));
      return c.op == Condition::Op::kAnd ? need_all(parts) : need_any(parts);
    case Condition::Op::kOf:
      for (const auto& name : c.of) parts.push_back(need_of(s, name, p));
      return c.need == 0 ? need_all(parts) : need_any(parts);
  }
  return std::nullopt;
}

Need need_of(const Rule& r, const Prefilter& p) {
  if (!r.condition) return std::nullopt;
  std::vector<Need> parts{need_of(*r.condition, r.searches, p)};
  for (std::size_t i = 0; i < r.filter_conditions.size() && i < r.filter_searches.size(); ++i)
    if (r.filter_conditions[i] && r.filter_searches[i])
      parts.push_back(need_of(*r.filter_conditions[i], *r.filter_searches[i], p));
  return need_all(parts);
}

void add_once(std::vector<uint32_t>& list, uint32_t rule) {
  if (list.empty() || list.back() != rule) list.push_back(rule);
}

}  // namespace

RuleIndex::RuleIndex(const std::vector<const Rule*>& rules, const Prefilter& prefilter) : size_(rules.size()) {
  std::unordered_map<const Prefilter::FieldSet*, std::size_t> set_index;
  for (uint32_t i = 0; i < rules.size(); ++i) {
    const Need need = need_of(*rules[i], prefilter);
    if (!need) {
      always_.push_back(i);
      continue;
    }
    for (const Matcher* m : *need)
      for (const auto& [set, ids] : *prefilter.needs(*m)) {
        auto [at, added] = set_index.emplace(set, sets_.size());
        if (added) sets_.push_back({set, std::vector<std::vector<uint32_t>>(set->literal_ids.size()), {}});
        SetRules& sr = sets_[at->second];
        add_once(sr.any, i);
        for (int id : ids) add_once(sr.by_literal.at(static_cast<std::size_t>(id)), i);
      }
  }
}

void RuleIndex::candidates(const CachedFields& fields, std::vector<char>& out) const {
  out.assign(size_, 0);
  for (uint32_t i : always_) out[i] = 1;
  for (const auto& sr : sets_) {
    const auto* hits = fields.present(*sr.set);
    if (!hits) {
      for (uint32_t i : sr.any) out[i] = 1;
      continue;
    }
    for (int id : *hits)
      for (uint32_t i : sr.by_literal[static_cast<std::size_t>(id)]) out[i] = 1;
  }
}

}  // namespace bt::collector::detect::sigma

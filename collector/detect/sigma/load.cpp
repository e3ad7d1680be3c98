// Rule files into the model: see load.h. One document is one rule, filter
// or correlation; its first problem rejects it with a reason.
#include "collector/detect/sigma/load.h"

#include <re2/re2.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "collector/detect/sigma/yaml_input.h"

namespace bt::collector::detect::sigma {

namespace {

Error bad(const std::string& m) { return make_error(ErrorCode::kMalformed, m); }

using Entries = std::vector<std::pair<std::string, YAML::Node>>;

// What one document's searches are parsed against: the logsource's routing,
// and the RE2 instructions compiled so far (bounded per document: many
// small values can each compile to a large program, `[a-z]{1000}`).
constexpr std::size_t kMaxProgramPerDocument = 200000;
struct Ctx {
  const Routing& routing;
  std::size_t program = 0;
};

Result<LogSource> parse_logsource(const YAML::Node& n) {
  if (!is_map(n)) return bad("logsource is missing or not a map");
  auto e = map_entries(n, "logsource");
  if (!e) return e.error();
  LogSource ls;
  for (const auto& [k, v] : *e) {
    if (k == "product")
      ls.product = scalar(v);
    else if (k == "category")
      ls.category = scalar(v);
    else if (k == "service")
      ls.service = scalar(v);
  }
  return ls;
}

Result<DetectionItem> parse_item(const std::string& key, const YAML::Node& values, Ctx& ctx) {
  DetectionItem item;
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const auto bar = key.find('|', start);
    parts.push_back(key.substr(start, bar == std::string::npos ? std::string::npos : bar - start));
    if (bar == std::string::npos) break;
    start = bar + 1;
  }
  item.sigma_field = parts[0];
  std::vector<std::string> modifiers(parts.begin() + 1, parts.end());
  // Keywords are searched for in the event's text (spec: full-text search):
  // a plain keyword is a substring of any mapped field.
  if (item.sigma_field.empty() && modifiers.empty()) modifiers.push_back("contains");
  std::vector<Value> vals;
  if (is_seq(values)) {
    for (const auto& v : values) {
      if (v.IsDefined() && !v.IsNull() && !v.IsScalar())
        return bad("field '" + item.sigma_field + "': a value that is not a scalar");
      vals.push_back(to_value(v));
    }
    if (vals.empty()) return bad("field '" + item.sigma_field + "': an empty list of values");
  } else if (!values.IsDefined() || values.IsNull() || values.IsScalar()) {
    vals.push_back(to_value(values));
  } else {
    return bad("field '" + item.sigma_field + "': a value that is not a scalar or a list");
  }
  if (item.sigma_field.empty()) {
    for (const auto& [_, ours] : ctx.routing.fields)
      for (const auto& f : ours)
        if (std::find(item.fields.begin(), item.fields.end(), f) == item.fields.end()) item.fields.push_back(f);
  } else {
    const auto it = ctx.routing.fields.find(item.sigma_field);
    if (it == ctx.routing.fields.end()) return bad("field '" + item.sigma_field + "' is not mapped for this logsource");
    item.fields = it->second;
  }
  auto m = compile_values(modifiers, vals);
  if (!m) return bad("field '" + item.sigma_field + "': " + m.error().message);
  item.match = std::move(*m);
  for (const auto& matcher : item.match.matchers)
    if (matcher.re) ctx.program += static_cast<std::size_t>(matcher.re->ProgramSize());
  if (ctx.program > kMaxProgramPerDocument)
    return bad("field '" + item.sigma_field + "': the rule's patterns compile to more than " +
               std::to_string(kMaxProgramPerDocument) + " RE2 instructions");
  for (const auto& ref : item.match.fieldrefs) {
    const auto it = ctx.routing.fields.find(ref);
    if (it == ctx.routing.fields.end()) return bad("fieldref: field '" + ref + "' is not mapped for this logsource");
    item.refs.push_back(it->second.front());
  }
  return item;
}

Result<std::vector<DetectionItem>> parse_group(const YAML::Node& map, Ctx& ctx) {
  auto e = map_entries(map, "detection");
  if (!e) return e.error();
  if (e->empty()) return bad("an empty detection map");
  std::vector<DetectionItem> group;
  for (const auto& [k, v] : *e) {
    auto item = parse_item(k, v, ctx);
    if (!item) return item.error();
    group.push_back(std::move(*item));
  }
  return group;
}

Result<Detection> parse_detection(const std::string& name, const YAML::Node& n, Ctx& ctx) {
  Detection d;
  if (is_map(n)) {
    auto g = parse_group(n, ctx);
    if (!g) return g.error();
    d.any_of.push_back(std::move(*g));
    return d;
  }
  if (!is_seq(n) || n.size() == 0) return bad("search '" + name + "' is neither a map nor a non-empty list");
  bool maps = false, scalars = false;
  for (const auto& v : n) (is_map(v) ? maps : scalars) = true;
  if (maps && scalars) return bad("search '" + name + "' mixes maps and keywords");
  if (maps) {
    for (const auto& v : n) {
      auto g = parse_group(v, ctx);
      if (!g) return g.error();
      d.any_of.push_back(std::move(*g));
    }
    return d;
  }
  // keywords: the values of every field mapped for the logsource
  auto item = parse_item("", n, ctx);
  if (!item) return item.error();
  d.any_of.push_back({std::move(*item)});
  return d;
}

// A detection/filter block: its identifiers and condition(s).
Status parse_searches(const YAML::Node& n, Ctx& ctx, Searches& s, std::shared_ptr<const Condition>& condition,
                      const std::set<std::string>& skip) {
  if (!is_map(n)) return bad("detection is missing or not a map");
  auto e = map_entries(n, "detection");
  if (!e) return e.error();
  YAML::Node cond;
  for (const auto& [k, v] : *e) {
    if (k == "condition") {
      cond = v;
    } else if (k == "timeframe") {
      return bad("detection timeframe (v1 aggregation) is obsolete; write a correlation rule");
    } else if (skip.count(k)) {
      continue;
    } else {
      auto d = parse_detection(k, v, ctx);
      if (!d) return d.error();
      s.detections.emplace(k, std::move(*d));
      s.names.push_back(k);
    }
  }
  std::vector<std::string> conditions;
  if (!cond.IsDefined() || !string_list(cond, &conditions) || conditions.empty())
    return bad("condition is missing or not a string");
  std::vector<std::shared_ptr<const Condition>> parsed;
  for (const auto& c : conditions) {
    auto p = parse_condition(c, s.names);
    if (!p) return p.error();
    parsed.push_back(*p);
  }
  if (parsed.size() == 1) {
    condition = parsed[0];
  } else {  // a list of conditions is their OR
    auto node = std::make_shared<Condition>();
    node->op = Condition::Op::kOr;
    node->children = parsed;
    condition = node;
  }
  return Ok{};
}

Result<CountCondition> parse_count_condition(const YAML::Node& n) {
  auto e =
      is_map(n) ? map_entries(n, "correlation condition") : Result<Entries>(bad("correlation condition is not a map"));
  if (!e) return e.error();
  CountCondition c;
  int ops = 0;
  for (const auto& [k, v] : *e) {
    if (k == "field") {
      c.field = scalar(v);
      continue;
    }
    using Op = CountCondition::Op;
    Op op;
    if (k == "gt")
      op = Op::kGt;
    else if (k == "gte")
      op = Op::kGte;
    else if (k == "lt")
      op = Op::kLt;
    else if (k == "lte")
      op = Op::kLte;
    else if (k == "eq")
      op = Op::kEq;
    else if (k == "neq")
      op = Op::kNeq;
    else
      return bad("correlation condition: unknown key '" + k + "'");
    const std::string t = scalar(v);
    if (t.empty() || t.size() > 18 || t.find_first_not_of("0123456789") != std::string::npos)
      return bad("correlation condition: '" + k + "' needs a whole number");
    c.op = op;
    c.value = std::stoull(t);
    ++ops;
  }
  if (ops != 1) return bad("correlation condition: needs exactly one of gt, gte, lt, lte, eq, neq");
  return c;
}

Result<Correlation> parse_correlation(const YAML::Node& n, Correlation c) {
  auto e = is_map(n) ? map_entries(n, "correlation") : Result<Entries>(bad("correlation is not a map"));
  if (!e) return e.error();
  bool has_type = false, has_span = false;
  YAML::Node cond;
  for (const auto& [k, v] : *e) {
    if (k == "type") {
      const std::string t = scalar(v);
      has_type = true;
      if (t == "event_count")
        c.type = CorrelationType::kEventCount;
      else if (t == "value_count")
        c.type = CorrelationType::kValueCount;
      else if (t == "temporal")
        c.type = CorrelationType::kTemporal;
      else if (t == "temporal_ordered")
        c.type = CorrelationType::kTemporalOrdered;
      else
        return bad("correlation type '" + t +
                   "' is not supported (event_count, value_count, temporal, temporal_ordered)");
    } else if (k == "rules") {
      if (!string_list(v, &c.rules) || c.rules.empty()) return bad("correlation rules: a list of rule ids or names");
    } else if (k == "group-by") {
      if (!string_list(v, &c.group_by)) return bad("correlation group-by: a list of fields");
    } else if (k == "timespan" || k == "timeframe") {
      auto s = parse_timespan(scalar(v));
      if (!s) return s.error();
      c.timespan_s = *s;
      has_span = true;
    } else if (k == "condition") {
      cond = v;
    } else if (k == "generate") {
      c.generate = scalar(v) == "true";
    } else if (k == "aliases") {
      auto ae = is_map(v) ? map_entries(v, "aliases") : Result<Entries>(bad("correlation aliases is not a map"));
      if (!ae) return ae.error();
      for (const auto& [alias, per_rule] : *ae) {
        auto pe = is_map(per_rule) ? map_entries(per_rule, "alias")
                                   : Result<Entries>(bad("alias '" + alias + "' is not a map"));
        if (!pe) return pe.error();
        for (const auto& [rule, field] : *pe) c.aliases[alias][rule] = scalar(field);
      }
    } else {
      return bad("correlation: unknown key '" + k + "'");
    }
  }
  if (!has_type) return bad("correlation without a type");
  if (!has_span) return bad("correlation without a timespan");
  if (c.timespan_s == 0) return bad("correlation timespan of 0");
  if (cond.IsDefined() && !cond.IsNull()) {
    auto cc = parse_count_condition(cond);
    if (!cc) return cc.error();
    c.condition = *cc;
    c.has_condition = true;
  }
  const bool temporal = c.type == CorrelationType::kTemporal || c.type == CorrelationType::kTemporalOrdered;
  if (!temporal && !c.has_condition)
    return bad("correlation " + std::string(correlation_type_name(c.type)) + " without a condition");
  if (c.type == CorrelationType::kValueCount && c.condition.field.empty())
    return bad("correlation value_count: condition needs a field");
  if (temporal && c.rules.size() < 2) return bad("correlation temporal: needs two or more rules");
  return c;
}

void load_document(const YAML::Node& doc, const std::string& file, const Pipeline& pipeline, RuleSet& out) {
  Rejection rej{file, "", "", ""};
  if (!is_map(doc)) {
    if (doc.IsDefined() && !doc.IsNull()) {
      rej.reason = "a YAML document that is not a map";
      out.rejected.push_back(rej);
    }
    return;
  }
  auto entries = map_entries(doc, "rule");
  if (!entries) {
    rej.reason = entries.error().message;
    out.rejected.push_back(rej);
    return;
  }
  std::map<std::string, YAML::Node> top;
  for (auto& [k, v] : *entries) top[k] = v;
  auto get = [&](const char* k) { return top.count(k) ? scalar(top[k]) : std::string(); };
  rej.id = get("id");
  rej.title = get("title");
  auto reject = [&](const std::string& reason) {
    rej.reason = reason;
    out.rejected.push_back(rej);
  };
  if (top.count("action")) return reject("rule collections (action: " + get("action") + ") are not supported");
  if (rej.title.empty()) return reject("no title");

  if (top.count("correlation")) {
    Correlation c;
    c.id = rej.id;
    c.name = get("name");
    c.title = rej.title;
    c.level = get("level");
    c.file = file;
    if (top.count("tags")) string_list(top["tags"], &c.tags);
    auto parsed = parse_correlation(top["correlation"], std::move(c));
    if (!parsed) return reject(parsed.error().message);
    out.correlations.push_back(std::move(*parsed));
    return;
  }

  auto ls = parse_logsource(top["logsource"]);
  if (!ls) return reject(ls.error().message);
  auto routing = route(pipeline, *ls);
  if (!routing) return reject(routing.error().message);

  if (top.count("filter")) {
    Filter f;
    f.id = rej.id;
    f.name = get("name");
    f.title = rej.title;
    f.file = file;
    f.logsource = *ls;
    const YAML::Node& block = top["filter"];
    if (!is_map(block) || !block["rules"].IsDefined() || !string_list(block["rules"], &f.rules) || f.rules.empty())
      return reject("filter: needs rules, a list of rule ids or names");
    f.searches = std::make_shared<Searches>();
    Ctx ctx{*routing};
    auto s = parse_searches(block, ctx, *f.searches, f.condition, {"rules"});
    if (!s) return reject("filter: " + s.error().message);
    out.filters.push_back(std::move(f));
    return;
  }

  Rule r;
  r.id = rej.id;
  r.name = get("name");
  r.title = rej.title;
  r.level = get("level");
  r.status = get("status");
  r.description = get("description");
  r.author = get("author");
  r.file = file;
  if (top.count("tags")) string_list(top["tags"], &r.tags);
  if (top.count("references")) string_list(top["references"], &r.references);
  r.logsource = *ls;
  r.kinds = routing->kinds;
  r.fields = routing->fields;
  Ctx ctx{*routing};
  auto s = parse_searches(top["detection"], ctx, r.searches, r.condition, {});
  if (!s) return reject(s.error().message);
  out.rules.push_back(std::move(r));
}

bool names(const std::string& ref, const std::string& id, const std::string& name) {
  return !ref.empty() && (ref == id || ref == name);
}

}  // namespace

std::string_view correlation_type_name(CorrelationType t) {
  switch (t) {
    case CorrelationType::kEventCount:
      return "event_count";
    case CorrelationType::kValueCount:
      return "value_count";
    case CorrelationType::kTemporal:
      return "temporal";
    case CorrelationType::kTemporalOrdered:
      return "temporal_ordered";
  }
  return "?";
}

bool CountCondition::holds(uint64_t n) const {
  switch (op) {
    case Op::kGt:
      return n > value;
    case Op::kGte:
      return n >= value;
    case Op::kLt:
      return n < value;
    case Op::kLte:
      return n <= value;
    case Op::kEq:
      return n == value;
    case Op::kNeq:
      return n != value;
  }
  return false;
}

std::vector<std::string> fields_read(const Rule& rule) {
  std::set<std::string> out;
  auto add = [&](const Searches& s) {
    for (const auto& [_, d] : s.detections)
      for (const auto& group : d.any_of)
        for (const auto& item : group) {
          out.insert(item.fields.begin(), item.fields.end());
          out.insert(item.refs.begin(), item.refs.end());
        }
  };
  add(rule.searches);
  for (const auto& f : rule.filter_searches) add(*f);
  return {out.begin(), out.end()};
}

Result<uint64_t> parse_timespan(std::string_view text) {
  if (text.size() < 2 || text.size() > 12)
    return bad("timespan '" + std::string(text) + "': expected e.g. 30s, 5m, 1h, 7d");
  const std::string digits(text.substr(0, text.size() - 1));
  if (digits.find_first_not_of("0123456789") != std::string::npos)
    return bad("timespan '" + std::string(text) + "': expected e.g. 30s, 5m, 1h, 7d");
  const uint64_t n = std::stoull(digits);
  switch (text.back()) {
    case 's':
      return n;
    case 'm':
      return n * 60;
    case 'h':
      return n * 3600;
    case 'd':
      return n * 86400;
    case 'w':
      return n * 7 * 86400;
  }
  return bad("timespan '" + std::string(text) + "': unit must be s, m, h, d or w");
}

void load_text(std::string_view yaml, const std::string& file, const Pipeline& pipeline, RuleSet& out) {
  const std::size_t before = out.rejected.size();
  auto docs = parse_yaml(yaml);
  if (!docs)
    out.rejected.push_back({file, "", "", docs.error().message});
  else
    for (const auto& doc : *docs) load_document(doc, file, pipeline, out);
  for (std::size_t i = before; i < out.rejected.size(); ++i) out.rejected[i].reason = one_line(out.rejected[i].reason);
}

void finish(RuleSet& set) {
  auto find_rule = [&](const std::string& ref) -> Rule* {
    for (auto& r : set.rules)
      if (names(ref, r.id, r.name)) return &r;
    return nullptr;
  };
  std::vector<Filter> kept_filters;
  for (auto& f : set.filters) {
    std::string missing;
    std::vector<Rule*> targets;
    for (const auto& ref : f.rules) {
      Rule* r = find_rule(ref);
      if (!r)
        missing = ref;
      else
        targets.push_back(r);
    }
    if (!missing.empty()) {
      set.rejected.push_back({f.file, f.id, f.title, "filter: names no loaded rule '" + missing + "'"});
      continue;
    }
    for (Rule* r : targets) {
      r->filter_conditions.push_back(f.condition);
      r->filter_searches.push_back(f.searches);
    }
    kept_filters.push_back(std::move(f));
  }
  set.filters = std::move(kept_filters);

  std::vector<Correlation> kept;
  for (auto& c : set.correlations) {
    std::string problem;
    for (const auto& ref : c.rules) {
      const Rule* r = find_rule(ref);
      if (!r) {
        problem = "correlation: names no loaded rule '" + ref + "'";
        break;
      }
      auto fields = c.group_by;
      if (c.type == CorrelationType::kValueCount) fields.push_back(c.condition.field);
      for (const auto& g : fields) {
        const auto alias = c.aliases.find(g);
        std::string field = g;
        if (alias != c.aliases.end()) {
          auto per = alias->second.find(ref);
          if (per == alias->second.end()) {
            problem = "correlation: alias '" + g + "' has no field for rule '" + ref + "'";
            break;
          }
          field = per->second;
        }
        if (!r->fields.count(field)) {
          problem = "correlation: field '" + field + "' is not mapped for rule '" + ref + "'";
          break;
        }
      }
      if (!problem.empty()) break;
    }
    if (!problem.empty()) {
      set.rejected.push_back({c.file, c.id, c.title, problem});
      continue;
    }
    kept.push_back(std::move(c));
  }
  set.correlations = std::move(kept);
  for (auto& r : set.rejected) r.reason = one_line(r.reason);
}

Result<RuleSet> load_directory(const std::string& dir, const Pipeline& pipeline) {
  std::vector<std::string> files;
  std::error_code ec;
  std::filesystem::recursive_directory_iterator it(dir, ec), end;
  if (ec) return make_error(ErrorCode::kIo, dir + ": " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) return make_error(ErrorCode::kIo, dir + ": " + ec.message());
    const auto& p = it->path();
    if (it->is_regular_file(ec) && (p.extension() == ".yml" || p.extension() == ".yaml")) files.push_back(p.string());
  }
  std::sort(files.begin(), files.end());
  RuleSet set;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    if (!in) {
      set.rejected.push_back({f, "", "", "cannot open"});
      continue;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    load_text(ss.str(), f, pipeline, set);
  }
  finish(set);
  return set;
}

}  // namespace bt::collector::detect::sigma

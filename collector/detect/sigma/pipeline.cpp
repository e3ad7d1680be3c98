// The pySigma pipeline subset: see pipeline.h.
#include "collector/detect/sigma/pipeline.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "collector/detect/sigma/event_fields.h"
#include "collector/detect/sigma/yaml_input.h"
#include "common/events/event.h"

namespace bt::collector::detect::sigma {

extern const char* const kBuiltinPipelineYaml;  // builtin_pipeline.cpp, generated from the .yml

namespace {

Error bad(const std::string& m) { return make_error(ErrorCode::kMalformed, "pipeline: " + m); }

bool same_conditions(const Transformation& a, const Transformation& b) {
  if (a.any != b.any || a.conditions.size() != b.conditions.size()) return false;
  for (std::size_t i = 0; i < a.conditions.size(); ++i) {
    const auto &x = a.conditions[i], &y = b.conditions[i];
    if (x.product != y.product || x.category != y.category || x.service != y.service) return false;
  }
  return true;
}

Result<Transformation> parse_transformation(const YAML::Node& n, const std::set<std::string>& known_fields) {
  if (!is_map(n)) return bad("a transformation that is not a map");
  auto entries = map_entries(n, "transformation");
  if (!entries) return entries.error();
  Transformation t;
  std::string type;
  for (const auto& [k, v] : *entries) {
    if (k == "id") {
      t.id = scalar(v);
    } else if (k == "type") {
      type = scalar(v);
    } else if (k == "rule_cond_op") {
      const std::string op = scalar(v);
      if (op != "and" && op != "or") return bad("rule_cond_op '" + op + "': and or or");
      t.any = op == "or";
    } else if (k == "rule_conditions") {
      if (!is_seq(v)) return bad(t.id + ": rule_conditions is not a list");
      for (const auto& c : v) {
        if (!is_map(c)) return bad(t.id + ": a rule condition that is not a map");
        auto ce = map_entries(c, "rule condition");
        if (!ce) return ce.error();
        LogSource ls;
        for (const auto& [ck, cv] : *ce) {
          if (ck == "type") {
            if (scalar(cv) != "logsource")
              return bad(t.id + ": rule condition type '" + scalar(cv) + "' not supported");
          } else if (ck == "product") {
            ls.product = scalar(cv);
          } else if (ck == "category") {
            ls.category = scalar(cv);
          } else if (ck == "service") {
            ls.service = scalar(cv);
          } else {
            return bad(t.id + ": rule condition key '" + ck + "' not supported");
          }
        }
        t.conditions.push_back(ls);
      }
    } else if (k == "mapping") {
      auto me = is_map(v)
                    ? map_entries(v, "mapping")
                    : Result<std::vector<std::pair<std::string, YAML::Node>>>(bad(t.id + ": mapping is not a map"));
      if (!me) return me.error();
      for (const auto& [from, to] : *me) {
        std::vector<std::string> targets;
        if (!string_list(to, &targets) || targets.empty())
          return bad(t.id + ": mapping of '" + from + "' is not a field name or a list of them");
        for (const auto& target : targets)
          if (!known_fields.count(target))
            return bad(t.id + ": '" + from + "' mapped to '" + target + "', which is not a buildtrail field");
        t.mapping[from] = targets;
      }
    } else if (k == "conditions") {
      auto ce = is_map(v)
                    ? map_entries(v, "conditions")
                    : Result<std::vector<std::pair<std::string, YAML::Node>>>(bad(t.id + ": conditions is not a map"));
      if (!ce) return ce.error();
      for (const auto& [ck, cv] : *ce) {
        if (ck != "kind") return bad(t.id + ": add_condition on '" + ck + "': only 'kind' is supported");
        events::Kind kind;
        if (!events::kind_from_name(scalar(cv), &kind))
          return bad(t.id + ": '" + scalar(cv) + "' is not an event kind");
        t.kind = scalar(cv);
      }
    } else if (k == "message") {
      t.message = scalar(v);
    } else {
      return bad(t.id + ": key '" + k + "' not supported");
    }
  }
  if (type == "field_name_mapping") {
    t.type = Transformation::Type::kFieldNameMapping;
    if (t.mapping.empty()) return bad(t.id + ": field_name_mapping without a mapping");
  } else if (type == "add_condition") {
    t.type = Transformation::Type::kAddCondition;
    if (t.kind.empty()) return bad(t.id + ": add_condition without conditions: {kind: ...}");
  } else if (type == "rule_failure") {
    t.type = Transformation::Type::kRuleFailure;
    if (t.message.empty()) return bad(t.id + ": rule_failure without a message");
  } else {
    return bad(t.id + ": transformation type '" + type + "' not supported");
  }
  return t;
}

}  // namespace

bool Transformation::applies(const LogSource& ls) const {
  if (conditions.empty()) return true;
  auto one = [&](const LogSource& c) {
    return (c.product.empty() || c.product == ls.product) && (c.category.empty() || c.category == ls.category) &&
           (c.service.empty() || c.service == ls.service);
  };
  return any ? std::any_of(conditions.begin(), conditions.end(), one)
             : std::all_of(conditions.begin(), conditions.end(), one);
}

std::string describe(const LogSource& ls) {
  std::string s;
  auto add = [&](const char* k, const std::string& v) {
    if (v.empty()) return;
    if (!s.empty()) s += ", ";
    s += std::string(k) + ": " + v;
  };
  add("product", ls.product);
  add("category", ls.category);
  add("service", ls.service);
  return s.empty() ? "(empty)" : s;
}

Result<Pipeline> parse_pipeline(std::string_view yaml) {
  auto docs = parse_yaml(yaml);
  if (!docs) return bad(docs.error().message);
  if (docs->size() != 1 || !is_map((*docs)[0])) return bad("expected one YAML document, a map");
  auto entries = map_entries((*docs)[0], "pipeline");
  if (!entries) return bad(entries.error().message);
  const auto names = all_event_field_names();
  const std::set<std::string> known(names.begin(), names.end());
  Pipeline p;
  for (const auto& [k, v] : *entries) {
    if (k == "name") {
      p.name = scalar(v);
    } else if (k == "priority") {
      p.priority = std::atoi(scalar(v).c_str());
    } else if (k == "transformations") {
      if (!is_seq(v)) return bad("transformations is not a list");
      for (const auto& t : v) {
        auto parsed = parse_transformation(t, known);
        if (!parsed) return parsed.error();
        // A Sigma field mapped twice under the same conditions: which one
        // wins would depend on order; refused.
        for (const auto& prior : p.transformations) {
          if (prior.type != Transformation::Type::kFieldNameMapping ||
              parsed->type != Transformation::Type::kFieldNameMapping || !same_conditions(prior, *parsed))
            continue;
          for (const auto& [field, _] : parsed->mapping)
            if (prior.mapping.count(field))
              return bad("'" + field + "' mapped twice (" + prior.id + ", " + parsed->id + ")");
        }
        p.transformations.push_back(std::move(*parsed));
      }
    } else if (k == "vars" || k == "allowed_backends" || k == "postprocessing" || k == "finalizers") {
      // for backends; nothing for the engine to do
    } else {
      return bad("key '" + k + "' not supported");
    }
  }
  if (p.transformations.empty()) return bad("no transformations");
  return p;
}

Result<Pipeline> load_pipeline(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::kIo, path + ": cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  auto p = parse_pipeline(ss.str());
  if (!p) return with_context(path, p.error());
  return p;
}

const Pipeline& builtin_pipeline() {
  static const Pipeline p = [] {
    auto parsed = parse_pipeline(kBuiltinPipelineYaml);
    return parsed ? std::move(*parsed) : Pipeline{};
  }();
  return p;
}

Result<Routing> route(const Pipeline& p, const LogSource& ls) {
  Routing r;
  for (const auto& t : p.transformations) {
    if (!t.applies(ls)) continue;
    switch (t.type) {
      case Transformation::Type::kRuleFailure:
        return make_error(ErrorCode::kInvalidArgument, t.message);
      case Transformation::Type::kAddCondition:
        if (std::find(r.kinds.begin(), r.kinds.end(), t.kind) == r.kinds.end()) r.kinds.push_back(t.kind);
        break;
      case Transformation::Type::kFieldNameMapping:
        for (const auto& [from, to] : t.mapping)
          if (!r.fields.count(from)) r.fields[from] = to;
        break;
    }
  }
  if (r.kinds.empty())
    return make_error(ErrorCode::kInvalidArgument, "logsource (" + describe(ls) + ") has no buildtrail events");
  return r;
}

}  // namespace bt::collector::detect::sigma

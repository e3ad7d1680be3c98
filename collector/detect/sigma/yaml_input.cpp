// Bounded YAML input: see yaml_input.h. The first pass runs yaml-cpp's
// event parser with a handler that counts and refuses; only a text that
// passes is built into nodes (yaml-cpp's own recursion is bounded by its
// DepthGuard, and our handler refuses far earlier).
#include "collector/detect/sigma/yaml_input.h"

#include <yaml-cpp/eventhandler.h>

#include <set>
#include <sstream>

namespace bt::collector::detect::sigma {

namespace {

struct Refusal {
  std::string message;
};

class Guard : public YAML::EventHandler {
 public:
  explicit Guard(const YamlLimits& l) : l_(l) {}
  void OnDocumentStart(const YAML::Mark&) override { count(); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override { count(); }
  void OnAlias(const YAML::Mark& m, YAML::anchor_t) override {
    throw Refusal{"YAML aliases are not accepted (line " + std::to_string(m.line + 1) + ")"};
  }
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override { count(); }
  void OnSequenceStart(const YAML::Mark& m, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    enter(m);
  }
  void OnSequenceEnd() override { --depth_; }
  void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    enter(m);
  }
  void OnMapEnd() override { --depth_; }

 private:
  void count() {
    if (++events_ > l_.max_events) throw Refusal{"YAML has more than " + std::to_string(l_.max_events) + " nodes"};
  }
  void enter(const YAML::Mark& m) {
    count();
    if (++depth_ > l_.max_depth)
      throw Refusal{"YAML nested deeper than " + std::to_string(l_.max_depth) + " (line " + std::to_string(m.line + 1) +
                    ")"};
  }
  const YamlLimits& l_;
  std::size_t events_ = 0;
  int depth_ = 0;
};

Error bad(const std::string& m) { return make_error(ErrorCode::kMalformed, m); }

}  // namespace

Result<std::vector<YAML::Node>> parse_yaml(std::string_view text, const YamlLimits& limits) {
  if (text.size() > limits.max_bytes)
    return make_error(ErrorCode::kTooLarge, "YAML larger than " + std::to_string(limits.max_bytes) + " bytes");
  const std::string copy(text);
  try {
    std::istringstream in(copy);
    YAML::Parser parser(in);
    Guard guard(limits);
    while (parser.HandleNextDocument(guard)) {}
    return YAML::LoadAll(copy);
  } catch (const Refusal& r) {
    return bad(r.message);
  } catch (const YAML::Exception& e) {
    return bad("YAML: " + std::string(e.what()));
  } catch (const std::exception& e) {
    return bad("YAML: " + std::string(e.what()));
  }
}

std::string one_line(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  return out;
}

bool is_map(const YAML::Node& n) { return n.IsDefined() && n.IsMap(); }
bool is_seq(const YAML::Node& n) { return n.IsDefined() && n.IsSequence(); }
bool is_scalar(const YAML::Node& n) { return n.IsDefined() && n.IsScalar(); }
std::string scalar(const YAML::Node& n) { return is_scalar(n) ? n.Scalar() : std::string(); }

Value to_value(const YAML::Node& n) {
  Value v;
  if (!n.IsDefined() || n.IsNull()) {
    v.type = Value::Type::kNull;
    return v;
  }
  v.text = n.Scalar();
  if (n.Tag() != "?") return v;  // quoted or tagged: a string
  const std::string& t = v.text;
  if (t == "true" || t == "True" || t == "TRUE" || t == "false" || t == "False" || t == "FALSE") {
    v.type = Value::Type::kBool;
  } else if (!t.empty() && t.find_first_not_of("+-0123456789.eE") == std::string::npos &&
             t.find_first_of("0123456789") != std::string::npos) {
    v.type = Value::Type::kNumber;
  }
  return v;
}

bool string_list(const YAML::Node& n, std::vector<std::string>* out) {
  if (is_scalar(n)) {
    out->push_back(n.Scalar());
    return true;
  }
  if (!is_seq(n)) return false;
  for (const auto& item : n) {
    if (!is_scalar(item)) return false;
    out->push_back(item.Scalar());
  }
  return true;
}

Result<std::vector<std::pair<std::string, YAML::Node>>> map_entries(const YAML::Node& n, std::string_view where) {
  std::vector<std::pair<std::string, YAML::Node>> out;
  std::set<std::string> seen;
  for (const auto& kv : n) {
    if (!is_scalar(kv.first)) return bad(std::string(where) + ": a key that is not a string");
    const std::string key = kv.first.Scalar();
    if (!seen.insert(key).second) return bad(std::string(where) + ": key '" + key + "' given twice");
    out.emplace_back(key, kv.second);
  }
  return out;
}

}  // namespace bt::collector::detect::sigma

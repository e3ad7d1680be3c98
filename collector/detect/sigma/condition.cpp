// Recursive descent over the condition's tokens; the recursion is bounded by
// kMaxConditionDepth, so hostile nesting is an error, not a stack overflow.
#include "collector/detect/sigma/condition.h"

#include <algorithm>
#include <cctype>

namespace bt::collector::detect::sigma {

namespace {

Error bad(const std::string& m) { return make_error(ErrorCode::kMalformed, "condition: " + m); }

std::string lower(std::string_view s) {
  std::string t(s);
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
  return t;
}

class Parser {
 public:
  Parser(std::vector<std::string> tokens, const std::vector<std::string>& ids) : t_(std::move(tokens)), ids_(ids) {}

  Result<std::shared_ptr<const Condition>> parse() {
    auto c = or_expr(0);
    if (!c) return c;
    if (i_ != t_.size()) return bad("unexpected '" + t_[i_] + "'");
    return c;
  }

 private:
  bool at(std::string_view word) const { return i_ < t_.size() && lower(t_[i_]) == word; }

  Result<std::shared_ptr<const Condition>> binary(int depth, Condition::Op op, std::string_view word) {
    auto first = op == Condition::Op::kOr ? binary(depth, Condition::Op::kAnd, "and") : not_expr(depth);
    if (!first) return first;
    if (!at(word)) return first;
    auto node = std::make_shared<Condition>();
    node->op = op;
    node->children.push_back(*first);
    while (at(word)) {
      ++i_;
      auto next = op == Condition::Op::kOr ? binary(depth, Condition::Op::kAnd, "and") : not_expr(depth);
      if (!next) return next;
      node->children.push_back(*next);
    }
    return std::shared_ptr<const Condition>(std::move(node));
  }

  Result<std::shared_ptr<const Condition>> or_expr(int depth) {
    if (depth > kMaxConditionDepth) return bad("nested deeper than " + std::to_string(kMaxConditionDepth) + " levels");
    return binary(depth, Condition::Op::kOr, "or");
  }

  Result<std::shared_ptr<const Condition>> not_expr(int depth) {
    if (depth > kMaxConditionDepth) return bad("nested deeper than " + std::to_string(kMaxConditionDepth) + " levels");
    if (at("not")) {
      ++i_;
      auto inner = not_expr(depth + 1);
      if (!inner) return inner;
      auto node = std::make_shared<Condition>();
      node->op = Condition::Op::kNot;
      node->children.push_back(*inner);
      return std::shared_ptr<const Condition>(std::move(node));
    }
    return primary(depth);
  }

  Result<std::shared_ptr<const Condition>> primary(int depth) {
    if (i_ >= t_.size()) return bad("ends early");
    const std::string tok = t_[i_];
    if (tok == "(") {
      ++i_;
      auto inner = or_expr(depth + 1);
      if (!inner) return inner;
      if (i_ >= t_.size() || t_[i_] != ")") return bad("missing ')'");
      ++i_;
      return inner;
    }
    if (tok == ")") return bad("unexpected ')'");
    const std::string low = lower(tok);
    if (low == "and" || low == "or" || low == "of" || low == "them") return bad("unexpected '" + tok + "'");
    // quantifier: "all of", "any of", "N of"
    if (i_ + 1 < t_.size() && lower(t_[i_ + 1]) == "of") {
      auto node = std::make_shared<Condition>();
      node->op = Condition::Op::kOf;
      if (low == "all") {
        node->need = 0;
      } else if (low == "any") {
        node->need = 1;
      } else if (!low.empty() && low.size() < 6 && std::all_of(low.begin(), low.end(), ::isdigit)) {
        node->need = std::stoull(low);
        if (node->need == 0) return bad("'0 of' matches nothing");
      } else {
        return bad("'" + tok + " of': expected 1, a number or all");
      }
      i_ += 2;
      if (i_ >= t_.size()) return bad("'of' without a pattern");
      const std::string pat = t_[i_++];
      if (lower(pat) == "them") {
        for (const auto& id : ids_)
          if (id.empty() || id[0] != '_') node->of.push_back(id);
      } else {
        for (const auto& id : ids_)
          if (identifier_matches(pat, id)) node->of.push_back(id);
        if (node->of.empty()) return bad("'" + pat + "' names no search identifier");
      }
      if (node->of.empty()) return bad("'them': the rule has no search identifiers");
      return std::shared_ptr<const Condition>(std::move(node));
    }
    if (low == "all" && i_ + 1 == t_.size()) return bad("'all' without 'of'");
    if (std::find(ids_.begin(), ids_.end(), tok) == ids_.end())
      return bad("'" + tok + "' is not a search identifier of the rule");
    ++i_;
    auto node = std::make_shared<Condition>();
    node->op = Condition::Op::kRef;
    node->ref = tok;
    return std::shared_ptr<const Condition>(std::move(node));
  }

  std::vector<std::string> t_;
  const std::vector<std::string>& ids_;
  std::size_t i_ = 0;
};

}  // namespace

bool identifier_matches(std::string_view p, std::string_view s) {
  // Greedy glob with one backtrack point: O(|p| * |s|) worst case, and both
  // come from the rule (identifiers are short), not from events.
  std::size_t pi = 0, si = 0, star = std::string_view::npos, mark = 0;
  while (si < s.size()) {
    if (pi < p.size() && (p[pi] == s[si] || p[pi] == '?')) {
      ++pi;
      ++si;
    } else if (pi < p.size() && p[pi] == '*') {
      star = pi++;
      mark = si;
    } else if (star != std::string_view::npos) {
      pi = star + 1;
      si = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

Result<std::shared_ptr<const Condition>> parse_condition(std::string_view text,
                                                         const std::vector<std::string>& identifiers) {
  if (text.size() > kMaxConditionBytes) return bad("longer than 16 KiB");
  std::vector<std::string> tokens;
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == '(' || c == ')') {
      tokens.emplace_back(1, c);
      ++i;
    } else if (c == '|') {
      return bad("v1 aggregation ('|') is obsolete; write a correlation rule");
    } else {
      const std::size_t start = i;
      while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i])) && text[i] != '(' &&
             text[i] != ')' && text[i] != '|')
        ++i;
      tokens.emplace_back(text.substr(start, i - start));
    }
  }
  if (tokens.empty()) return bad("empty");
  return Parser(std::move(tokens), identifiers).parse();
}

}  // namespace bt::collector::detect::sigma

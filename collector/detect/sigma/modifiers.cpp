// Sigma value modifiers: see modifiers.h. The modifier list follows the
// Sigma specification v2 (sigma-modifiers-appendix.md); what is not listed in
// kKnown is refused by name.
#include "collector/detect/sigma/modifiers.h"

#include <arpa/inet.h>
#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <set>

namespace bt::collector::detect::sigma {

namespace {

Error bad(const std::string& message) { return make_error(ErrorCode::kMalformed, message); }

// Sigma spec modifiers we know but refuse, with why.
struct Refused {
  std::string_view name, why;
};
constexpr Refused kRefused[] = {
    {"utf16", "UTF-16 encodings are Windows-only; our events carry UTF-8"},
    {"utf16le", "UTF-16 encodings are Windows-only; our events carry UTF-8"},
    {"utf16be", "UTF-16 encodings are Windows-only; our events carry UTF-8"},
    {"wide", "UTF-16 encodings are Windows-only; our events carry UTF-8"},
    {"expand", "placeholders need values configured for them, and none are"},
    {"neq", "not supported by this engine; write `not` in the condition"},
    {"minute", "time modifiers are not supported"},
    {"hour", "time modifiers are not supported"},
    {"day", "time modifiers are not supported"},
    {"week", "time modifiers are not supported"},
    {"month", "time modifiers are not supported"},
    {"year", "time modifiers are not supported"},
};

std::string value_text(const Value& v) {
  if (v.type == Value::Type::kBool) {
    std::string t = v.text;
    std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
    return t;
  }
  return v.text;
}

bool has_unescaped_wildcard(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && (s[i + 1] == '*' || s[i + 1] == '?' || s[i + 1] == '\\')) {
      ++i;
      continue;
    }
    if (s[i] == '*' || s[i] == '?') return true;
  }
  return false;
}

// Escapes every character: the text is matched literally.
std::string literal_to_re2(std::string_view s) { return RE2::QuoteMeta(re2::StringPiece(s.data(), s.size())); }

Result<std::shared_ptr<const re2::RE2>> compile(const std::string& pattern, bool case_sensitive, bool dot_nl,
                                                std::string_view what) {
  RE2::Options o;
  o.set_encoding(RE2::Options::EncodingLatin1);  // bytes: argv need not be UTF-8
  o.set_case_sensitive(case_sensitive);
  o.set_dot_nl(dot_nl);
  o.set_never_capture(true);
  o.set_log_errors(false);
  o.set_max_mem(kRe2MaxMem);
  auto re = std::make_shared<const re2::RE2>(pattern, o);
  if (!re->ok()) return bad(std::string(what) + ": " + re->error());
  return std::shared_ptr<const re2::RE2>(std::move(re));
}

std::vector<std::string> windash_variants(std::string_view s) {
  static constexpr std::string_view kDashes[] = {"-", "/", "\xe2\x80\x93", "\xe2\x80\x94", "\xe2\x80\x95"};
  std::vector<std::string> out;
  if (s.find('-') == std::string_view::npos) return {std::string(s)};
  for (auto d : kDashes) {
    std::string v;
    for (char c : s) {
      if (c == '-')
        v += d;
      else
        v += c;
    }
    out.push_back(std::move(v));
  }
  return out;
}

bool parse_number(std::string_view s, double* out) {
  if (s.empty() || s.size() > 64) return false;
  std::string t(s);
  char* end = nullptr;
  errno = 0;
  const double d = std::strtod(t.c_str(), &end);
  if (*end != '\0' || errno != 0 || t.find_first_of("xXpP") != std::string::npos) return false;
  *out = d;
  return true;
}

Result<Cidr> parse_cidr(std::string_view s) {
  const auto slash = s.find('/');
  std::string addr(s.substr(0, slash));
  Cidr c;
  if (inet_pton(AF_INET, addr.c_str(), c.addr.data()) == 1) {
    c.family = AF_INET;
    c.prefix = 32;
  } else if (inet_pton(AF_INET6, addr.c_str(), c.addr.data()) == 1) {
    c.family = AF_INET6;
    c.prefix = 128;
  } else {
    return bad("cidr: not an IP network: '" + std::string(s) + "'");
  }
  if (slash != std::string_view::npos) {
    const std::string p(s.substr(slash + 1));
    char* end = nullptr;
    const long n = std::strtol(p.c_str(), &end, 10);
    if (p.empty() || *end != '\0' || n < 0 || n > c.prefix)
      return bad("cidr: bad prefix length in '" + std::string(s) + "'");
    c.prefix = static_cast<int>(n);
  }
  return c;
}

}  // namespace

bool Cidr::contains(std::string_view ip) const {
  if (ip.size() > 64) return false;
  std::string t(ip);
  std::array<uint8_t, 16> a{};
  if (inet_pton(family, t.c_str(), a.data()) != 1) {
    // an IPv4-mapped IPv6 address matches an IPv4 network
    if (family != AF_INET || t.rfind("::ffff:", 0) != 0 || inet_pton(AF_INET, t.c_str() + 7, a.data()) != 1)
      return false;
  }
  const int full = prefix / 8, rest = prefix % 8;
  if (std::memcmp(a.data(), addr.data(), full) != 0) return false;
  if (rest == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a[full] & mask) == (addr[full] & mask);
}

std::string wildcard_to_re2(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '\\' && i + 1 < s.size() && (s[i + 1] == '*' || s[i + 1] == '?' || s[i + 1] == '\\')) {
      out += literal_to_re2(s.substr(i + 1, 1));
      ++i;
    } else if (c == '*') {
      out += ".*";
    } else if (c == '?') {
      out += '.';
    } else {
      out += literal_to_re2(s.substr(i, 1));
    }
  }
  return out;
}

std::string longest_literal(std::string_view s) {
  std::string best, run;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '\\' && i + 1 < s.size() && (s[i + 1] == '*' || s[i + 1] == '?' || s[i + 1] == '\\')) {
      run += s[++i];
    } else if (c == '*' || c == '?') {
      if (run.size() > best.size()) best = run;
      run.clear();
    } else {
      run += c;
    }
  }
  return run.size() > best.size() ? run : best;
}

std::string base64(std::string_view in) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (i + 1 == in.size()) {
    const uint32_t n = uint8_t(in[i]) << 16;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    const uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

// As pySigma's SigmaBase64OffsetModifier: the value shifted by 0, 1 and 2
// bytes, encoded, with the characters that depend on the unknown
// neighbouring bytes cut from both ends.
std::vector<std::string> base64_offsets(std::string_view text) {
  static constexpr std::size_t kStart[] = {0, 2, 3};
  static constexpr std::size_t kEndCut[] = {0, 3, 2};
  std::vector<std::string> out;
  for (std::size_t i = 0; i < 3; ++i) {
    const std::string enc = base64(std::string(i, ' ') + std::string(text));
    const std::size_t cut = kEndCut[(text.size() + i) % 3];
    if (enc.size() < kStart[i] + cut) continue;
    out.push_back(enc.substr(kStart[i], enc.size() - kStart[i] - cut));
  }
  return out;
}

Result<ValueMatch> compile_values(const std::vector<std::string>& modifiers, const std::vector<Value>& values) {
  enum class Form { kEquals, kContains, kStartsWith, kEndsWith, kRe, kCidr, kExists, kCompare, kFieldRef };
  Form form = Form::kEquals;
  bool all = false, cased = false, b64 = false, b64offset = false, windash = false;
  bool re_i = false, re_m = false, re_s = false;
  Matcher::Cmp cmp = Matcher::Cmp::kLt;
  int forms = 0;
  auto set_form = [&](Form f) {
    form = f;
    ++forms;
  };
  std::set<std::string> seen;
  for (const auto& m : modifiers) {
    if (!seen.insert(m).second) return bad("modifier '" + m + "' given twice");
    if (m == "contains")
      set_form(Form::kContains);
    else if (m == "startswith")
      set_form(Form::kStartsWith);
    else if (m == "endswith")
      set_form(Form::kEndsWith);
    else if (m == "re")
      set_form(Form::kRe);
    else if (m == "cidr")
      set_form(Form::kCidr);
    else if (m == "exists")
      set_form(Form::kExists);
    else if (m == "fieldref")
      set_form(Form::kFieldRef);
    else if (m == "lt" || m == "lte" || m == "gt" || m == "gte") {
      set_form(Form::kCompare);
      cmp = m == "lt"    ? Matcher::Cmp::kLt
            : m == "lte" ? Matcher::Cmp::kLte
            : m == "gt"  ? Matcher::Cmp::kGt
                         : Matcher::Cmp::kGte;
    } else if (m == "all")
      all = true;
    else if (m == "cased")
      cased = true;
    else if (m == "base64")
      b64 = true;
    else if (m == "base64offset")
      b64offset = true;
    else if (m == "windash")
      windash = true;
    else if (m == "i" || m == "ignorecase")
      re_i = true;
    else if (m == "m" || m == "multiline")
      re_m = true;
    else if (m == "s" || m == "dotall")
      re_s = true;
    else {
      for (const auto& r : kRefused)
        if (m == r.name) return bad("modifier '" + m + "' is not supported: " + std::string(r.why));
      return bad("unknown modifier '" + m + "'");
    }
  }
  if (forms > 1) return bad("modifiers: more than one of contains/startswith/endswith/re/cidr/exists/fieldref/lt..gte");
  if ((re_i || re_m || re_s) && form != Form::kRe) return bad("modifiers i, m, s apply to 're' only");
  if (b64 && b64offset) return bad("modifiers base64 and base64offset together");
  if (b64offset && form != Form::kContains) return bad("modifier 'base64offset' needs 'contains'");
  if ((b64 || b64offset || windash || cased) && (form == Form::kRe || form == Form::kCidr || form == Form::kExists ||
                                                 form == Form::kCompare || form == Form::kFieldRef))
    return bad("modifiers base64/base64offset/windash/cased apply to string matches only");
  if (values.empty()) return bad("no values");

  ValueMatch out;
  out.all = all;
  std::vector<std::string> patterns;  // string forms: one unanchored RE2 pattern each
  // The prefilter's literals, one per pattern; an empty one (a value that
  // is all wildcards, a regex, an encoded form) turns the prefilter off.
  std::vector<std::string> literals;
  for (const auto& v : values) {
    if (v.text.size() > kMaxValueBytes) return bad("value longer than 64 KiB");
    if (v.type == Value::Type::kNull) {
      if (form != Form::kEquals || b64 || b64offset || windash) return bad("null value with modifiers");
      Matcher m;
      m.kind = Matcher::Kind::kNull;
      out.matchers.push_back(std::move(m));
      continue;
    }
    const std::string text = value_text(v);
    switch (form) {
      case Form::kExists: {
        if (v.type != Value::Type::kBool) return bad("exists: needs true or false, got '" + text + "'");
        Matcher m;
        m.kind = Matcher::Kind::kExists;
        m.exists = text == "true";
        out.matchers.push_back(std::move(m));
        continue;
      }
      case Form::kCidr: {
        auto c = parse_cidr(text);
        if (!c) return c.error();
        Matcher m;
        m.kind = Matcher::Kind::kCidr;
        m.cidr = *c;
        out.matchers.push_back(std::move(m));
        continue;
      }
      case Form::kCompare: {
        Matcher m;
        m.kind = Matcher::Kind::kCompare;
        m.cmp = cmp;
        if (!parse_number(text, &m.number)) return bad("lt/lte/gt/gte: not a number: '" + text + "'");
        out.matchers.push_back(std::move(m));
        continue;
      }
      case Form::kFieldRef: {
        Matcher m;
        m.kind = Matcher::Kind::kFieldRef;
        m.ref = out.fieldrefs.size();
        out.fieldrefs.push_back(text);
        out.matchers.push_back(std::move(m));
        continue;
      }
      case Form::kRe: {
        std::string p;
        if (re_m) p += "(?m)";
        p += "(?:" + text + ")";
        patterns.push_back(std::move(p));
        literals.emplace_back();
        continue;
      }
      default:
        break;
    }
    // String forms: transforms, then the wildcard pattern, then anchors.
    std::vector<std::string> texts = windash ? windash_variants(text) : std::vector<std::string>{text};
    std::vector<std::string> bodies;
    for (const auto& t : texts) {
      if (b64 || b64offset) {
        if (has_unescaped_wildcard(t)) return bad("base64: wildcards cannot be encoded ('" + t + "')");
        if (b64)
          bodies.push_back(literal_to_re2(base64(t)));
        else
          for (const auto& e : base64_offsets(t)) bodies.push_back(literal_to_re2(e));
      } else {
        bodies.push_back(wildcard_to_re2(t));
      }
    }
    literals.push_back(b64 || b64offset || windash ? std::string() : longest_literal(text));
    std::string alt;
    for (const auto& b : bodies) alt += (alt.empty() ? "" : "|") + b;
    const std::string body = "(?:" + alt + ")";
    switch (form) {
      case Form::kContains:
        patterns.push_back(body);
        break;
      case Form::kStartsWith:
        patterns.push_back("^" + body);
        break;
      case Form::kEndsWith:
        patterns.push_back(body + "$");
        break;
      default:
        patterns.push_back("^" + body + "$");
        break;
    }
  }
  if (!patterns.empty()) {
    const bool sensitive = form == Form::kRe ? !re_i : cased;
    const bool dot_nl = form == Form::kRe ? re_s : true;
    const std::string what = form == Form::kRe ? "re" : "value";
    const auto prefilter = [&](Matcher& m, std::size_t from, std::size_t to) {
      m.fold = !sensitive;
      for (std::size_t i = from; i < to; ++i) {
        if (literals[i].empty()) {
          m.literals.clear();
          return;
        }
        std::string lit = literals[i];
        if (m.fold)
          for (char& c : lit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        m.literals.push_back(std::move(lit));
      }
    };
    if (!all) {
      std::string joined;
      for (const auto& p : patterns) joined += (joined.empty() ? "(?:" : "|(?:") + p + ")";
      auto re = compile(joined, sensitive, dot_nl, what);
      if (!re) return re.error();
      Matcher m;
      m.re = std::move(*re);
      prefilter(m, 0, patterns.size());
      out.matchers.push_back(std::move(m));
    } else {
      for (std::size_t i = 0; i < patterns.size(); ++i) {
        auto re = compile(patterns[i], sensitive, dot_nl, what);
        if (!re) return re.error();
        Matcher m;
        m.re = std::move(*re);
        prefilter(m, i, i + 1);
        out.matchers.push_back(std::move(m));
      }
    }
  }
  return out;
}

bool matcher_holds(const Matcher& m, const std::vector<std::string>& values,
                   const std::vector<std::vector<std::string>>& ref_values) {
  switch (m.kind) {
    case Matcher::Kind::kNull:
      return std::all_of(values.begin(), values.end(), [](const std::string& v) { return v.empty(); });
    case Matcher::Kind::kExists:
      return values.empty() == !m.exists;
    case Matcher::Kind::kPattern:
      for (const auto& v : values)
        if (RE2::PartialMatch(re2::StringPiece(v.data(), v.size()), *m.re)) return true;
      return false;
    case Matcher::Kind::kCidr:
      for (const auto& v : values)
        if (m.cidr.contains(v)) return true;
      return false;
    case Matcher::Kind::kCompare:
      for (const auto& v : values) {
        double d = 0;
        if (!parse_number(v, &d)) continue;
        switch (m.cmp) {
          case Matcher::Cmp::kLt:
            if (d < m.number) return true;
            break;
          case Matcher::Cmp::kLte:
            if (d <= m.number) return true;
            break;
          case Matcher::Cmp::kGt:
            if (d > m.number) return true;
            break;
          case Matcher::Cmp::kGte:
            if (d >= m.number) return true;
            break;
        }
      }
      return false;
    case Matcher::Kind::kFieldRef:
      if (m.ref >= ref_values.size()) return false;
      for (const auto& v : values)
        for (const auto& r : ref_values[m.ref])
          if (v == r) return true;
      return false;
  }
  return false;
}

}  // namespace bt::collector::detect::sigma

// Sigma value modifiers compiled into matchers that run in time linear in
// the length of the event's strings: every string form (equality with `*`
// and `?` wildcards, contains, startswith, endswith, re) becomes one RE2
// program (RE2 guarantees linear-time matching; std::regex is never used:
// argv is attacker-controlled), CIDRs become address/prefix pairs, numbers
// numbers. An unknown or unsupported modifier, or a value a modifier cannot
// take, is an Error whose message names it.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace re2 {
class RE2;
}

namespace bt::collector::detect::sigma {

// A YAML scalar (or null) as the rule wrote it.
struct Value {
  enum class Type { kString, kNumber, kBool, kNull } type = Type::kString;
  std::string text;
};

struct Cidr {
  int family = 0;  // AF_INET or AF_INET6
  std::array<uint8_t, 16> addr{};
  int prefix = 0;
  bool contains(std::string_view ip) const;
};

// One compiled value.
struct Matcher {
  enum class Kind { kPattern, kCidr, kExists, kNull, kCompare, kFieldRef } kind = Kind::kPattern;
  std::shared_ptr<const re2::RE2> re;  // kPattern
  Cidr cidr;                           // kCidr
  bool exists = true;                  // kExists
  enum class Cmp { kLt, kLte, kGt, kGte } cmp = Cmp::kLt;
  double number = 0;    // kCompare
  std::size_t ref = 0;  // kFieldRef: index into DetectionItem::refs
  // kPattern's prefilter (prefilter.h): a value the pattern matches
  // contains one of these (each value's longest run without wildcards;
  // lower-case ASCII when the pattern is case-insensitive, `fold`). Empty:
  // no prefilter.
  std::vector<std::string> literals;
  bool fold = true;
  // Its place in the one Prefilter built over its rule set (-1: none),
  // where a hash lookup per matcher per event was most of the cost.
  mutable int prefilter_slot = -1;
};

// The compiled values of one detection item. Without `all`, a field matches
// when any of its values matches any matcher; with `all`, when every matcher
// is matched by some value.
struct ValueMatch {
  bool all = false;
  std::vector<Matcher> matchers;
  std::vector<std::string> fieldrefs;  // fieldref: the Sigma fields referenced, in matcher order
};

// The limits of compiled programs: RE2's memory per program, the length of
// one value or regex.
inline constexpr int64_t kRe2MaxMem = 1 << 20;
inline constexpr std::size_t kMaxValueBytes = 64 * 1024;

// Compiles `values` under `modifiers` (the `|`-separated words after the
// field name, in order). Errors name the modifier or value.
Result<ValueMatch> compile_values(const std::vector<std::string>& modifiers, const std::vector<Value>& values);

// The longest run of a Sigma value without wildcards, escapes resolved.
std::string longest_literal(std::string_view value);

// Sigma's wildcard syntax as an RE2 pattern (unanchored text): `*` any
// run, `?` one character, `\*` `\?` `\\` the literal character, any other
// backslash itself.
std::string wildcard_to_re2(std::string_view value);

// base64 of `text` (standard alphabet, padded) and the three offset forms of
// the base64offset modifier.
std::string base64(std::string_view text);
std::vector<std::string> base64_offsets(std::string_view text);

// Does one value (field values of the event, and for fieldref the
// referenced fields' values) satisfy the matcher?
bool matcher_holds(const Matcher& m, const std::vector<std::string>& values,
                   const std::vector<std::vector<std::string>>& ref_values);

}  // namespace bt::collector::detect::sigma

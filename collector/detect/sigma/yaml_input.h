// Outside YAML (rule files, the pipeline) into yaml-cpp nodes, bounded: the
// text's size, the number of parse events, the nesting depth, and no alias
// (`*name`) at all: an alias is how a YAML bomb multiplies a few bytes into
// millions of nodes, and Sigma rules have no use for one. yaml-cpp throws;
// every exception stops here and becomes an Error. Maps with a key given
// twice are refused too (the second would silently win).
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <string_view>
#include <vector>

#include "collector/detect/sigma/modifiers.h"
#include "common/result.h"

namespace bt::collector::detect::sigma {

struct YamlLimits {
  std::size_t max_bytes = 1 << 20;
  std::size_t max_events = 200000;
  int max_depth = 32;
};

Result<std::vector<YAML::Node>> parse_yaml(std::string_view text, const YamlLimits& limits = {});

// `text` as one printable line: control characters (a newline yaml-cpp
// quotes from the input, a key with one) become \xNN. Reasons are printed
// one per line.
std::string one_line(std::string_view text);

// Node helpers that never throw.
bool is_map(const YAML::Node& n);
bool is_seq(const YAML::Node& n);
bool is_scalar(const YAML::Node& n);
// A scalar's text ("" for anything else).
std::string scalar(const YAML::Node& n);
// A scalar as a Sigma value: plain null/~/empty is null, plain true/false a
// bool, plain numbers numbers, anything quoted a string.
Value to_value(const YAML::Node& n);
// A string or a list of strings; false when it is anything else.
bool string_list(const YAML::Node& n, std::vector<std::string>* out);
// The map's entries with scalar keys, in order; an Error for a key given
// twice or a key that is not a scalar.
Result<std::vector<std::pair<std::string, YAML::Node>>> map_entries(const YAML::Node& n, std::string_view where);

}  // namespace bt::collector::detect::sigma

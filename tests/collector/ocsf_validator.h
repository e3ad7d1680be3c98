// A validator of OCSF records against the schema's own source files
// (github.com/ocsf/ocsf-schema: dictionary.json, categories.json,
// events/, objects/, profiles/), read at test time, so what the test holds
// our records to is the schema, not our reading of it.
//
// A class or object is resolved as the schema server does: its `extends`
// chain merged from the base down, each file's `$include`d profiles first
// and its own attributes over them; an attribute's type, array-ness and
// enum come from the dictionary, refined by the class or object. Attributes
// of a profile count only when the record names that profile in
// metadata.profiles ("profile": null in a class makes one unconditional).
//
// A record is checked for: known class (class_uid), its category_uid and
// type_uid (class_uid * 100 + activity_id); every required attribute,
// recursively in objects; no attribute the class or object does not define;
// no deprecated attribute; each value's type (string_t and the types built
// on it with their regex, max_len and range; integer_t as 32 bits, long_t
// and timestamp_t as 64; boolean_t; objects recursively; arrays where
// is_array); enum values; the at_least_one and just_one constraints.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace bt::testing::ocsf {

class Schema {
 public:
  // `root` holds the schema's files; a file the records need that is not
  // there is a problem of the record that needs it.
  explicit Schema(std::string root);
  ~Schema();

  // What is wrong with one record (a JSON object), one line per problem,
  // each naming the attribute's path; empty when the record is valid.
  std::vector<std::string> validate(std::string_view json) const;

  // The schema files read so far, relative to the root (what a copy of the
  // schema must hold for these records).
  std::set<std::string> files_read() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bt::testing::ocsf

// What the engine asks of an event: its kind and the values of a field,
// named as OUR field (the target side of the pipeline's mapping, e.g.
// `process.exe`, `data.argv`, `derived.command_line`). Zero values means the
// field is absent; a list field gives one value per element. The engine
// never sees the event's structure, so anything that can answer these two
// questions can be matched: our events (event_fields.h), a test's map.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bt::collector::detect::sigma {

class Fields {
 public:
  virtual ~Fields() = default;
  virtual std::string_view kind() const = 0;
  // Appends the field's values to `out`.
  virtual void values(std::string_view field, std::vector<std::string>& out) const = 0;
  // The values of one field without a copy, when the Fields keeps them
  // (CachedFields); null otherwise, then values() is used.
  virtual const std::vector<std::string>* values_kept(std::string_view field) const {
    (void)field;
    return nullptr;
  }
  // False only when `m` cannot match any value of its item's fields
  // (prefilter.h); the default knows nothing.
  virtual bool may_match(const struct Matcher& m) const {
    (void)m;
    return true;
  }
};

}  // namespace bt::collector::detect::sigma

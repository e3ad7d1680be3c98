// The format switch; see format.h.
#include "collector/format/format.h"

#include "collector/format/ecs.h"
#include "collector/format/names.h"
#include "collector/format/ocsf.h"
#include "collector/view/alert.h"
#include "common/events/json.h"
#include "common/text.h"

namespace bt::collector::format {

Result<Format> parse(std::string_view name) {
  for (std::size_t i = 0; i < std::size(kNames); ++i)
    if (name == kNames[i]) return static_cast<Format>(i);
  return make_error(ErrorCode::kInvalidArgument,
                    "format is json, ocsf or ecs, not '" + text::printable(std::string(name)) + "'");
}

std::string_view name(Format format) { return kNames[static_cast<int>(format)]; }

std::string event(Format format, const events::Event& e) {
  switch (format) {
    case Format::kOcsf:
      return ocsf::event(e);
    case Format::kEcs:
      return ecs::event(e);
    case Format::kJson:
      break;
  }
  // The agent's line keeps bytes that are not UTF-8 as they were (it is
  // what was signed); a receiver's JSON parser may refuse them.
  std::string json = events::to_json(e);
  if (!text::json_is_printable(json)) json = text::json_printable(json);
  return json;
}

std::string alert(Format format, const store::Alert& a) {
  switch (format) {
    case Format::kOcsf:
      return ocsf::alert(a);
    case Format::kEcs:
      return ecs::alert(a);
    case Format::kJson:
      break;
  }
  return view::alert_json(a);
}

}  // namespace bt::collector::format

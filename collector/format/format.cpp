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
  return event(format, e, events::to_json(e));
}

std::string event(Format format, const events::Event& e, std::string_view signed_line) {
  if (format != Format::kJson) return event(format, e);
  // The agent's line keeps bytes that are not UTF-8 as they were (it is
  // what was signed); a receiver's JSON parser may refuse them.
  if (!text::json_is_printable(signed_line)) return text::json_printable(signed_line);
  return std::string(signed_line);
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

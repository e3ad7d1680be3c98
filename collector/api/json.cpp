#include "collector/api/json.h"

#include "common/text.h"

namespace bt::collector::api {

std::string JsonOut::done() const {
  return text::json_printable(std::string_view(buf_.GetString(), buf_.GetSize())) + "\n";
}

}  // namespace bt::collector::api

#include "common/events/event.h"

namespace bt::events {

namespace {

template <std::size_t... I>
Body make_body_at(std::size_t index, std::index_sequence<I...>) {
  Body body = std::monostate{};
  ((index == I ? (body.emplace<I>(), 0) : 0), ...);
  return body;
}

}  // namespace

Kind kind_of(const Body& body) {
  // Alternatives are declared in kKinds order; the trailing monostate maps
  // past the end and is never a valid event.
  return body.index() < kKinds.size() ? kKinds[body.index()].kind : Kind{0};
}

std::string_view kind_name(Kind kind) {
  for (const auto& info : kKinds)
    if (info.kind == kind) return info.name;
  return "unknown";
}

bool kind_from_name(std::string_view name, Kind* out) {
  for (const auto& info : kKinds) {
    if (info.name == name) {
      *out = info.kind;
      return true;
    }
  }
  return false;
}

Body make_body(Kind kind) {
  for (std::size_t i = 0; i < kKinds.size(); ++i)
    if (kKinds[i].kind == kind) return make_body_at(i, std::make_index_sequence<kKinds.size()>{});
  return std::monostate{};
}

}  // namespace bt::events

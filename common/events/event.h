// C++ view of the event model declared in events.def. Nothing here names a
// field by hand: structs, kind tables and field visitors are expanded from
// the declaration, so adding a field is a one-line change there.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "common/events/events.def"

namespace bt::events {

using StringList = std::vector<std::string>;
// Ordered (name, count) pairs; order is kept so encodings are stable.
using Counts = std::vector<std::pair<std::string, uint64_t>>;

struct FileDigest;
using FileList = std::vector<FileDigest>;

// A field descriptor handed to visitors: JSON name, member pointer, doc.
template <class Owner, class T>
struct Field {
  std::string_view name;
  T Owner::*member;
  std::string_view doc;
};

#define BT_DECLARE_MEMBER(type, name, doc) type name{};
#define BT_VISIT_MEMBER(type, name, doc) v(Field<Self, type>{#name, &Self::name, doc});
#define BT_DECLARE_STRUCT(Name)                            \
  struct Name {                                            \
    BT_FIELDS_##Name(BT_DECLARE_MEMBER) using Self = Name; \
    static constexpr bool kIsRecord = true;                \
    template <class V>                                     \
    static void visit_fields(V&& v) {                      \
      BT_FIELDS_##Name(BT_VISIT_MEMBER)                    \
    }                                                      \
    bool operator==(const Name&) const = default;          \
  };

// Records are declared in dependency order: FileDigest before FileList users.
BT_DECLARE_STRUCT(FileDigest)
BT_DECLARE_STRUCT(Build)
BT_DECLARE_STRUCT(Process)
BT_DECLARE_STRUCT(Stdio)

#define BT_DECLARE_KIND_STRUCT(id, name, Struct, doc) BT_DECLARE_STRUCT(Struct)
BT_EVENT_KINDS(BT_DECLARE_KIND_STRUCT)
#undef BT_DECLARE_KIND_STRUCT

enum class Kind : uint16_t {
#define BT_KIND_ENUM(id, name, Struct, doc) name = id,
  BT_EVENT_KINDS(BT_KIND_ENUM)
#undef BT_KIND_ENUM
};

struct KindInfo {
  Kind kind;
  std::string_view name;
  std::string_view doc;
};

inline constexpr std::array kKinds = {
#define BT_KIND_INFO(id, name, Struct, doc) KindInfo{Kind::name, #name, doc},
    BT_EVENT_KINDS(BT_KIND_INFO)
#undef BT_KIND_INFO
};

// The kind-specific part of an event; alternative order follows kKinds.
using Body = std::variant<
#define BT_KIND_ALT(id, name, Struct, doc) Struct,
    BT_EVENT_KINDS(BT_KIND_ALT)
#undef BT_KIND_ALT
        std::monostate>;

// The kind of a body, derived from which alternative it holds.
Kind kind_of(const Body& body);
std::string_view kind_name(Kind kind);
// Looks a kind up by its JSON name; false when unknown.
bool kind_from_name(std::string_view name, Kind* out);
// A default-constructed body of the given kind.
Body make_body(Kind kind);

struct Event {
  BT_FIELDS_Envelope(BT_DECLARE_MEMBER) Body body;

  using Self = Event;
  template <class V>
  static void visit_fields(V&& v){BT_FIELDS_Envelope(BT_VISIT_MEMBER)} Kind kind() const {
    return kind_of(body);
  }
  bool operator==(const Event&) const = default;
};

#undef BT_DECLARE_STRUCT
#undef BT_VISIT_MEMBER
#undef BT_DECLARE_MEMBER

}  // namespace bt::events

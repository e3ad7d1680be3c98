#include "common/events/json.h"

// RapidJSON is header-only and configured per translation unit. This one
// turns on its SSE2 string scanning (baseline on x86-64) and therefore puts
// RapidJSON in a namespace of its own: other files (schema_doc.cpp) include
// it without SSE2, and sharing inline functions with different bodies
// between them would break the one-definition rule.
#if defined(__SSE2__) && !defined(RAPIDJSON_SSE2) && !defined(RAPIDJSON_SSE42)
#define RAPIDJSON_SSE2
#endif
#define RAPIDJSON_NAMESPACE bt_events_rapidjson
#define RAPIDJSON_NAMESPACE_BEGIN namespace bt_events_rapidjson {
#define RAPIDJSON_NAMESPACE_END }
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <type_traits>
#include <utility>
#include <variant>

namespace rapidjson = ::bt_events_rapidjson;

namespace bt::events {

namespace {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

template <class T>
concept Record = T::kIsRecord;

// ---- encoding -----------------------------------------------------------------

bool is_empty(const std::string& s) { return s.empty(); }
template <class T>
bool is_empty(const std::vector<T>& v) { return v.empty(); }
template <class T>
bool is_empty(const T&) { return false; }

void write_value(JsonWriter& w, uint64_t v) { w.Uint64(v); }
void write_value(JsonWriter& w, int64_t v) { w.Int64(v); }
[[maybe_unused]] void write_value(JsonWriter& w, bool v) { w.Bool(v); }
void write_value(JsonWriter& w, const std::string& v) {
  w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
}
void write_value(JsonWriter& w, const Counts& counts) {
  w.StartObject();
  for (const auto& [name, n] : counts) {
    w.Key(name.data(), static_cast<rapidjson::SizeType>(name.size()));
    w.Uint64(n);
  }
  w.EndObject();
}
template <Record T>
void write_value(JsonWriter& w, const T& record);
template <class T>
void write_value(JsonWriter& w, const std::vector<T>& list) {
  w.StartArray();
  for (const auto& item : list) write_value(w, item);
  w.EndArray();
}

template <class T>
void write_members(JsonWriter& w, const T& record) {
  T::visit_fields([&](auto field) {
    const auto& value = record.*(field.member);
    if (is_empty(value)) return;
    w.Key(field.name.data(), static_cast<rapidjson::SizeType>(field.name.size()));
    write_value(w, value);
  });
}

template <Record T>
void write_value(JsonWriter& w, const T& record) {
  w.StartObject();
  write_members(w, record);
  w.EndObject();
}

void write_event(JsonWriter& w, const Event& event) {
  w.StartObject();
  const std::string_view kind = kind_name(event.kind());
  w.Key("kind");
  w.String(kind.data(), static_cast<rapidjson::SizeType>(kind.size()));
  write_members(w, event);
  w.Key("data");
  std::visit(
      [&](const auto& body) {
        if constexpr (std::is_same_v<std::decay_t<decltype(body)>, std::monostate>) {
          w.StartObject();
          w.EndObject();
        } else {
          write_value(w, body);
        }
      },
      event.body);
  w.EndObject();
}

// ---- decoding -----------------------------------------------------------------

using JsonValue = rapidjson::Value;

Error type_error(std::string_view field, const char* expected) {
  return make_error(ErrorCode::kMalformed,
                    "field '" + std::string(field) + "': expected " + expected);
}

Status read_value(const JsonValue& v, std::string_view field, uint64_t& out) {
  if (!v.IsUint64()) return type_error(field, "unsigned integer");
  out = v.GetUint64();
  return Ok{};
}
Status read_value(const JsonValue& v, std::string_view field, int64_t& out) {
  if (!v.IsInt64()) return type_error(field, "integer");
  out = v.GetInt64();
  return Ok{};
}
[[maybe_unused]] Status read_value(const JsonValue& v, std::string_view field, bool& out) {
  if (!v.IsBool()) return type_error(field, "boolean");
  out = v.GetBool();
  return Ok{};
}
Status read_value(const JsonValue& v, std::string_view field, std::string& out) {
  if (!v.IsString()) return type_error(field, "string");
  out.assign(v.GetString(), v.GetStringLength());
  return Ok{};
}
Status read_value(const JsonValue& v, std::string_view field, Counts& out) {
  if (!v.IsObject()) return type_error(field, "object of counts");
  out.clear();
  out.reserve(v.MemberCount());
  for (const auto& m : v.GetObject()) {
    if (!m.value.IsUint64()) return type_error(field, "unsigned integer counts");
    out.emplace_back(std::string(m.name.GetString(), m.name.GetStringLength()),
                     m.value.GetUint64());
  }
  return Ok{};
}
template <Record T>
Status read_value(const JsonValue& v, std::string_view field, T& out);
template <class T>
Status read_value(const JsonValue& v, std::string_view field, std::vector<T>& out) {
  if (!v.IsArray()) return type_error(field, "array");
  out.clear();
  out.resize(v.Size());
  for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
    Status s = read_value(v[i], field, out[i]);
    if (!s) return s;
  }
  return Ok{};
}

// Reads every declared member of `record` present in object `v`; absent
// members keep their defaults.
template <class T>
Status read_members(const JsonValue& v, std::string_view owner, T& record) {
  Status status = Ok{};
  T::visit_fields([&](auto field) {
    if (!status) return;
    auto it = v.FindMember(rapidjson::StringRef(field.name.data(), field.name.size()));
    if (it == v.MemberEnd()) return;
    status = read_value(it->value, field.name, record.*(field.member));
    if (!status && !owner.empty()) status = with_context(std::string(owner), status.error());
  });
  return status;
}

template <Record T>
Status read_value(const JsonValue& v, std::string_view field, T& out) {
  if (!v.IsObject()) return type_error(field, "object");
  out = T{};
  return read_members(v, field, out);
}

Status read_body(const JsonValue& data, Body& body) {
  return std::visit(
      [&](auto& alt) -> Status {
        if constexpr (std::is_same_v<std::decay_t<decltype(alt)>, std::monostate>) {
          return make_error(ErrorCode::kInternal, "no body");
        } else {
          if (!data.IsObject()) return type_error("data", "object");
          return read_members(data, "data", alt);
        }
      },
      body);
}

Result<Event> read_event(const JsonValue& root) {
  if (!root.IsObject()) return make_error(ErrorCode::kMalformed, "event is not a JSON object");
  auto kind_it = root.FindMember("kind");
  if (kind_it == root.MemberEnd()) return make_error(ErrorCode::kMalformed, "missing field 'kind'");
  if (!kind_it->value.IsString()) return type_error("kind", "string");
  std::string_view kind_str(kind_it->value.GetString(), kind_it->value.GetStringLength());
  Kind kind;
  if (!kind_from_name(kind_str, &kind))
    return make_error(ErrorCode::kMalformed, "unknown event kind '" + std::string(kind_str) + "'");
  Event event;
  Status s = read_members(root, "", event);
  if (!s) return s.error();
  if (root.FindMember("time_ns") == root.MemberEnd())
    return make_error(ErrorCode::kMalformed, "missing field 'time_ns'");
  event.body = make_body(kind);
  auto data_it = root.FindMember("data");
  if (data_it != root.MemberEnd()) {
    s = read_body(data_it->value, event.body);
    if (!s) return s.error();
  }
  return event;
}

// The reference decoder: a DOM parse, then a lookup of every declared field.
// The fast reader below falls back to it for anything unusual, so it decides
// every error message and every odd case (member order, duplicate members).
Result<Event> parse_dom(std::string_view line, rapidjson::MemoryPoolAllocator<>& values,
                        rapidjson::MemoryPoolAllocator<>& stack) {
  values.Clear();
  stack.Clear();
  using Doc = rapidjson::GenericDocument<rapidjson::UTF8<>, rapidjson::MemoryPoolAllocator<>,
                                         rapidjson::MemoryPoolAllocator<>>;
  Doc doc(&values, 1024, &stack);
  // Iterative parsing: nesting depth in hostile input cannot exhaust the stack.
  constexpr unsigned kFlags = rapidjson::kParseValidateEncodingFlag | rapidjson::kParseIterativeFlag;
  doc.Parse<kFlags>(line.data(), line.size());
  if (doc.HasParseError()) {
    return make_error(ErrorCode::kMalformed,
                      std::string("invalid JSON at byte ") + std::to_string(doc.GetErrorOffset()) +
                          ": " + rapidjson::GetParseError_En(doc.GetParseError()));
  }
  return read_event(doc);
}

// ---- fast decoding: SAX straight into an Event -------------------------------
//
// A RapidJSON SAX handler fills the Event while the line is parsed, with no
// DOM in between. Each record type gets a table built from its visit_fields
// (member names, typed setters), so nothing here names a field either.
//
// The fast path only ever accepts what the reference decoder accepts, with
// the same result; whenever it meets anything it does not handle itself (a
// type error, a duplicate member, `data` before `kind`, a syntax error) it
// gives up and the line goes through parse_dom, which produces the result
// or error message. Unknown members, and anything nested in them, are
// skipped.

struct Frame;

// Type-erased operations on one record type. Field indexes are visit order.
struct RecordOps {
  static constexpr int kMaxFields = 60;
  std::array<std::string_view, kMaxFields> names{};
  int count = 0;
  // Each returns false when the JSON value has the wrong type for the field.
  bool (*number)(void* record, int field, uint64_t u, bool negative) = nullptr;
  bool (*boolean)(void* record, int field, bool b) = nullptr;
  bool (*string)(void* record, int field, const char* s, std::size_t n) = nullptr;
  bool (*start_object)(void* record, int field, Frame& out) = nullptr;
  bool (*start_array)(void* record, int field, Frame& out) = nullptr;
  // Resets every field whose bit is not set in `seen` to its default.
  void (*finish)(void* record, uint64_t seen) = nullptr;

  // Index of the member called `key`, -1 if unknown. `hint` is tried first:
  // members normally come in declaration order.
  int find(const char* key, std::size_t n, int hint) const {
    if (hint >= 0 && hint < count && names[hint].size() == n &&
        std::memcmp(names[hint].data(), key, n) == 0)
      return hint;
    for (int i = 0; i < count; ++i)
      if (names[i].size() == n && std::memcmp(names[i].data(), key, n) == 0) return i;
    return -1;
  }
};

// Operations on a list of records (FileList).
struct ListOps {
  // The element at `n` (reused when the list already has one, else appended).
  void* (*element)(void* list, std::size_t n) = nullptr;
  void (*truncate)(void* list, std::size_t n) = nullptr;
  const RecordOps* element_ops = nullptr;
};

struct Frame {
  enum Type : uint8_t { kRecord, kStrings, kCounts, kRecords };
  Type type = kRecord;
  int field = -1;      // kRecord: field of the member being read, -1 if unknown
  uint64_t seen = 0;   // kRecord: fields read so far
  void* target = nullptr;
  const RecordOps* ops = nullptr;  // kRecord
  const ListOps* list = nullptr;   // kRecords
  std::size_t n = 0;               // lists and counts: elements read so far
};

// Calls f(field) for the field at index i of T.
template <class T, class F>
void with_field(int i, F&& f) {
  int k = 0;
  T::visit_fields([&](auto field) {
    if (k++ == i) f(field);
  });
}

template <class V>
void reset_value(V& v) {
  if constexpr (requires { v.clear(); }) {
    v.clear();
  } else if constexpr (Record<V>) {
    V::visit_fields([&](auto field) { reset_value(v.*(field.member)); });
  } else {
    v = V{};
  }
}

template <class T>
const RecordOps& ops_of();
template <class T>
const ListOps& list_ops_of();

template <class T>
struct RecordOpsImpl {
  static bool number(void* record, int i, uint64_t u, bool negative) {
    bool ok = false;
    with_field<T>(i, [&](auto field) {
      auto& v = static_cast<T*>(record)->*(field.member);
      using V = std::decay_t<decltype(v)>;
      if constexpr (std::is_same_v<V, uint64_t>) {
        if (!negative) {
          v = u;
          ok = true;
        }
      } else if constexpr (std::is_same_v<V, int64_t>) {
        if (negative || u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
          v = static_cast<int64_t>(u);
          ok = true;
        }
      }
    });
    return ok;
  }
  static bool boolean(void* record, int i, bool b) {
    bool ok = false;
    with_field<T>(i, [&](auto field) {
      auto& v = static_cast<T*>(record)->*(field.member);
      if constexpr (std::is_same_v<std::decay_t<decltype(v)>, bool>) {
        v = b;
        ok = true;
      }
    });
    return ok;
  }
  static bool string(void* record, int i, const char* s, std::size_t n) {
    bool ok = false;
    with_field<T>(i, [&](auto field) {
      auto& v = static_cast<T*>(record)->*(field.member);
      if constexpr (std::is_same_v<std::decay_t<decltype(v)>, std::string>) {
        v.assign(s, n);
        ok = true;
      }
    });
    return ok;
  }
  static bool start_object(void* record, int i, Frame& out) {
    bool ok = false;
    with_field<T>(i, [&](auto field) {
      auto& v = static_cast<T*>(record)->*(field.member);
      using V = std::decay_t<decltype(v)>;
      if constexpr (std::is_same_v<V, Counts>) {
        out = Frame{Frame::kCounts, -1, 0, &v, nullptr, nullptr, 0};
        ok = true;
      } else if constexpr (Record<V>) {
        out = Frame{Frame::kRecord, -1, 0, &v, &ops_of<V>(), nullptr, 0};
        ok = true;
      }
    });
    return ok;
  }
  static bool start_array(void* record, int i, Frame& out) {
    bool ok = false;
    with_field<T>(i, [&](auto field) {
      auto& v = static_cast<T*>(record)->*(field.member);
      using V = std::decay_t<decltype(v)>;
      if constexpr (std::is_same_v<V, StringList>) {
        out = Frame{Frame::kStrings, -1, 0, &v, nullptr, nullptr, 0};
        ok = true;
      } else if constexpr (requires { typename V::value_type; } && !std::is_same_v<V, std::string>) {
        if constexpr (Record<typename V::value_type>) {
          out = Frame{Frame::kRecords, -1, 0, &v, nullptr, &list_ops_of<typename V::value_type>(), 0};
          ok = true;
        }
      }
    });
    return ok;
  }
  static void finish(void* record, uint64_t seen) {
    T& r = *static_cast<T*>(record);
    uint64_t bit = 1;
    T::visit_fields([&](auto field) {
      if (!(seen & bit)) reset_value(r.*(field.member));
      bit <<= 1;
    });
  }
};

template <class T>
const RecordOps& ops_of() {
  static const RecordOps ops = [] {
    RecordOps o;
    T::visit_fields([&](auto field) {
      if (o.count == RecordOps::kMaxFields) std::abort();  // see kMaxFields
      o.names[o.count++] = field.name;
    });
    o.number = &RecordOpsImpl<T>::number;
    o.boolean = &RecordOpsImpl<T>::boolean;
    o.string = &RecordOpsImpl<T>::string;
    o.start_object = &RecordOpsImpl<T>::start_object;
    o.start_array = &RecordOpsImpl<T>::start_array;
    o.finish = &RecordOpsImpl<T>::finish;
    return o;
  }();
  return ops;
}

template <class T>
const ListOps& list_ops_of() {
  static const ListOps ops{
      [](void* list, std::size_t n) -> void* {
        auto& v = *static_cast<std::vector<T>*>(list);
        if (n < v.size()) return &v[n];
        return &v.emplace_back();
      },
      [](void* list, std::size_t n) { static_cast<std::vector<T>*>(list)->resize(n); },
      &ops_of<T>()};
  return ops;
}

// Per kind (in kKinds order, which is Body's alternative order): the body
// record's operations and access to it inside a Body.
struct BodyOps {
  const RecordOps* ops;
  void* (*get)(Body& body);
};

template <std::size_t... I>
std::array<BodyOps, kKinds.size()> make_body_ops(std::index_sequence<I...>) {
  return {BodyOps{&ops_of<std::variant_alternative_t<I, Body>>(),
                  [](Body& b) -> void* { return &std::get<I>(b); }}...};
}

const std::array<BodyOps, kKinds.size()>& body_ops() {
  static const auto ops = make_body_ops(std::make_index_sequence<kKinds.size()>{});
  return ops;
}

int envelope_field(std::string_view name) {
  const RecordOps& ops = ops_of<Event>();
  for (int i = 0; i < ops.count; ++i)
    if (ops.names[i] == name) return i;
  std::abort();  // the envelope declares it
}

// Kinds, bodies of other kinds kept for reuse, and the fixed envelope slots.
class EventSax {
 public:
  static constexpr int kMaxDepth = 8;  // root, data, a list, a record in it

  EventSax(Event& event, std::array<Body, kKinds.size()>& parked)
      : event_(event), parked_(parked), envelope_(ops_of<Event>()) {}

  bool done() const { return done_; }

  bool StartObject() {
    if (skip_) return ++skip_, true;
    if (depth_ == 0) return push(Frame{Frame::kRecord, -1, 0, &event_, &envelope_, nullptr, 0});
    Frame& f = top();
    if (f.type == Frame::kRecord) {
      if (f.field < 0) return skip_ = 1, true;
      if (depth_ == 1 && f.field >= envelope_.count) return f.field == data_slot() && start_data();
      Frame next;
      return f.ops->start_object(f.target, f.field, next) && push(next);
    }
    if (f.type == Frame::kRecords) {
      void* element = f.list->element(f.target, f.n++);
      return push(Frame{Frame::kRecord, -1, 0, element, f.list->element_ops, nullptr, 0});
    }
    return false;
  }

  bool EndObject(rapidjson::SizeType) {
    if (skip_) return --skip_, true;
    Frame& f = top();
    if (f.type == Frame::kCounts) {
      static_cast<Counts*>(f.target)->resize(f.n);
    } else if (depth_ == 1) {
      constexpr uint64_t one = 1;
      if (!(f.seen & (one << kind_slot())) || !(f.seen & (one << time_ns_slot()))) return false;
      if (!(f.seen & (one << data_slot())))
        body_ops()[kind_].ops->finish(body_ops()[kind_].get(event_.body), 0);
      envelope_.finish(&event_, f.seen);
      done_ = true;
    } else {
      f.ops->finish(f.target, f.seen);
    }
    --depth_;
    return true;
  }

  bool StartArray() {
    if (skip_) return ++skip_, true;
    if (depth_ == 0) return false;
    Frame& f = top();
    if (f.type != Frame::kRecord) return false;
    if (f.field < 0) return skip_ = 1, true;
    if (depth_ == 1 && f.field >= envelope_.count) return false;
    Frame next;
    return f.ops->start_array(f.target, f.field, next) && push(next);
  }

  bool EndArray(rapidjson::SizeType) {
    if (skip_) return --skip_, true;
    Frame& f = top();
    if (f.type == Frame::kStrings)
      static_cast<StringList*>(f.target)->resize(f.n);
    else
      f.list->truncate(f.target, f.n);
    --depth_;
    return true;
  }

  bool Key(const char* s, rapidjson::SizeType n, bool) {
    if (skip_) return true;
    Frame& f = top();
    if (f.type == Frame::kCounts) {
      auto& counts = *static_cast<Counts*>(f.target);
      if (f.n < counts.size())
        counts[f.n].first.assign(s, n);
      else
        counts.emplace_back(std::string(s, n), 0);
      return true;
    }
    int i = f.ops->find(s, n, f.field + 1);
    if (i < 0 && depth_ == 1) {
      if (n == 4 && std::memcmp(s, "kind", 4) == 0) i = kind_slot();
      else if (n == 4 && std::memcmp(s, "data", 4) == 0) i = data_slot();
    }
    if (i >= 0) {
      const uint64_t bit = uint64_t{1} << i;
      if (f.seen & bit) return false;  // duplicate member: the reference decides
      f.seen |= bit;
    }
    f.field = i;
    return true;
  }

  bool String(const char* s, rapidjson::SizeType n, bool) {
    if (skip_) return true;
    if (depth_ == 0) return false;
    Frame& f = top();
    if (f.type == Frame::kRecord) {
      if (f.field < 0) return true;
      if (depth_ == 1 && f.field >= envelope_.count) return f.field == kind_slot() && set_kind(s, n);
      return f.ops->string(f.target, f.field, s, n);
    }
    if (f.type == Frame::kStrings) {
      auto& list = *static_cast<StringList*>(f.target);
      if (f.n < list.size())
        list[f.n].assign(s, n);
      else
        list.emplace_back(s, n);
      ++f.n;
      return true;
    }
    return false;
  }

  bool Uint(unsigned u) { return number(u, false); }
  bool Uint64(uint64_t u) { return number(u, false); }
  bool Int(int i) { return number(static_cast<uint64_t>(static_cast<int64_t>(i)), i < 0); }
  bool Int64(int64_t i) { return number(static_cast<uint64_t>(i), i < 0); }
  bool Bool(bool b) {
    if (skip_) return true;
    if (depth_ == 0) return false;
    Frame& f = top();
    if (f.type != Frame::kRecord) return false;
    if (f.field < 0) return true;
    if (depth_ == 1 && f.field >= envelope_.count) return false;
    return f.ops->boolean(f.target, f.field, b);
  }
  bool Double(double) { return other_value(); }
  bool Null() { return other_value(); }
  bool RawNumber(const char*, rapidjson::SizeType, bool) { return other_value(); }

 private:
  int kind_slot() const { return envelope_.count; }
  int data_slot() const { return envelope_.count + 1; }
  static int time_ns_slot() {
    static const int slot = envelope_field("time_ns");
    return slot;
  }

  Frame& top() { return frames_[depth_ - 1]; }
  bool push(const Frame& f) {
    if (depth_ == kMaxDepth) return false;
    frames_[depth_++] = f;
    return true;
  }

  // A value no declared field takes (null, a fraction): fine only where it
  // is skipped.
  bool other_value() {
    if (skip_) return true;
    return depth_ > 0 && top().type == Frame::kRecord && top().field < 0;
  }

  bool number(uint64_t u, bool negative) {
    if (skip_) return true;
    if (depth_ == 0) return false;
    Frame& f = top();
    if (f.type == Frame::kRecord) {
      if (f.field < 0) return true;
      if (depth_ == 1 && f.field >= envelope_.count) return false;
      return f.ops->number(f.target, f.field, u, negative);
    }
    if (f.type == Frame::kCounts && !negative) {
      (*static_cast<Counts*>(f.target))[f.n++].second = u;
      return true;
    }
    return false;
  }

  bool set_kind(const char* s, std::size_t n) {
    const std::string_view name(s, n);
    std::size_t k = 0;
    while (k < kKinds.size() && kKinds[k].name != name) ++k;
    if (k == kKinds.size()) return false;
    kind_ = k;
    Body& body = event_.body;
    if (body.index() != k) {
      // Park the current body for its kind's next event and take this
      // kind's parked one: its strings keep their capacity.
      if (body.index() < parked_.size()) std::swap(body, parked_[body.index()]);
      std::swap(body, parked_[k]);
      if (body.index() != k) body = make_body(kKinds[k].kind);
    }
    return true;
  }

  bool start_data() {
    if (!(top().seen & (uint64_t{1} << kind_slot()))) return false;  // data before kind
    const BodyOps& b = body_ops()[kind_];
    return push(Frame{Frame::kRecord, -1, 0, b.get(event_.body), b.ops, nullptr, 0});
  }

  Event& event_;
  std::array<Body, kKinds.size()>& parked_;
  const RecordOps& envelope_;
  std::array<Frame, kMaxDepth> frames_{};
  int depth_ = 0;
  std::size_t skip_ = 0;  // > 0: inside an unknown member's value, its depth
  std::size_t kind_ = 0;
  bool done_ = false;
};

static_assert(RecordOps::kMaxFields + 2 <= 64, "seen bits must fit a uint64_t");

bool is_ascii(const char* p, std::size_t n) {
  uint64_t acc = 0;
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    acc |= w;
  }
  for (; i < n; ++i) acc |= static_cast<unsigned char>(p[i]);
  return (acc & 0x8080808080808080ull) == 0;
}

}  // namespace

// ---- JsonLineWriter -------------------------------------------------------------

struct JsonLineWriter::Impl {
  rapidjson::StringBuffer buffer;
  JsonWriter writer{buffer};
};

JsonLineWriter::JsonLineWriter() : impl_(std::make_unique<Impl>()) {}
JsonLineWriter::~JsonLineWriter() = default;

void JsonLineWriter::append(const Event& event) {
  impl_->writer.Reset(impl_->buffer);
  write_event(impl_->writer, event);
  impl_->buffer.Put('\n');
}
std::string_view JsonLineWriter::view() const {
  return {impl_->buffer.GetString(), impl_->buffer.GetSize()};
}
std::size_t JsonLineWriter::size() const { return impl_->buffer.GetSize(); }
void JsonLineWriter::clear() { impl_->buffer.Clear(); }

// ---- JsonLineReader -------------------------------------------------------------

struct JsonLineReader::Impl {
  // The reference decoder's arenas, cleared before every use so memory stays
  // bounded by the largest single line, not by the number of lines parsed.
  rapidjson::MemoryPoolAllocator<> values;
  rapidjson::MemoryPoolAllocator<> stack;
  // The fast path parses a NUL-terminated copy of the line in place. The
  // copy has slack after the NUL: the SSE2 scanners read whole aligned
  // 16-byte blocks, which then never leave the allocation.
  std::unique_ptr<char[]> line;
  std::size_t capacity = 0;
  rapidjson::GenericReader<rapidjson::UTF8<>, rapidjson::UTF8<>> reader;
  std::array<Body, kKinds.size()> parked;  // a body per kind, for reuse

  char* copy(std::string_view in) {
    const std::size_t need = in.size() + 32;
    if (need > capacity) {
      capacity = std::max(need, 2 * capacity);
      line = std::make_unique<char[]>(capacity);  // zeroed: no uninitialised reads
    }
    std::memcpy(line.get(), in.data(), in.size());
    line[in.size()] = '\0';
    return line.get();
  }
};

JsonLineReader::JsonLineReader() : impl_(std::make_unique<Impl>()) {}
JsonLineReader::~JsonLineReader() = default;

Status JsonLineReader::parse_into(std::string_view line, Event& out) {
  Impl& m = *impl_;
  EventSax sax(out, m.parked);
  rapidjson::InsituStringStream in(m.copy(line));
  // Iterative parsing: nesting depth in hostile input cannot exhaust the
  // stack. Encoding validation only matters for bytes >= 0x80: a line of
  // pure ASCII is valid UTF-8, and there both modes read it identically.
  constexpr unsigned kFlags = rapidjson::kParseInsituFlag | rapidjson::kParseIterativeFlag;
  const bool ok =
      is_ascii(line.data(), line.size())
          ? !m.reader.Parse<kFlags>(in, sax).IsError()
          : !m.reader.Parse<kFlags | rapidjson::kParseValidateEncodingFlag>(in, sax).IsError();
  if (ok && sax.done()) return Ok{};
  // Anything the fast path does not take (errors included) is decided by
  // the reference decoder.
  auto event = parse_dom(line, m.values, m.stack);
  if (!event) return event.error();
  out = std::move(*event);
  return Ok{};
}

Result<Event> JsonLineReader::parse(std::string_view line) {
  Event event;
  Status s = parse_into(line, event);
  if (!s) return s.error();
  return event;
}

std::string to_json(const Event& event) {
  JsonLineWriter w;
  w.append(event);
  std::string_view v = w.view();
  return std::string(v.substr(0, v.size() - 1));
}

Result<Event> from_json(std::string_view line) {
  JsonLineReader reader;
  return reader.parse(line);
}

}  // namespace bt::events

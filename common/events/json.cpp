#include "common/events/json.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <type_traits>

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
  // The arena is cleared before every parse so memory stays bounded by the
  // largest single line, not by the number of lines parsed.
  rapidjson::MemoryPoolAllocator<> values;
  rapidjson::MemoryPoolAllocator<> stack;
};

JsonLineReader::JsonLineReader() : impl_(std::make_unique<Impl>()) {}
JsonLineReader::~JsonLineReader() = default;

Result<Event> JsonLineReader::parse(std::string_view line) {
  impl_->values.Clear();
  impl_->stack.Clear();
  using Doc = rapidjson::GenericDocument<rapidjson::UTF8<>, rapidjson::MemoryPoolAllocator<>,
                                         rapidjson::MemoryPoolAllocator<>>;
  Doc doc(&impl_->values, 1024, &impl_->stack);
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

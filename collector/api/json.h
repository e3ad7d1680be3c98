// The JSON the read API answers with. RapidJSON's Writer escapes every
// string it writes; done() then passes the text through
// text::json_printable, so bytes that are not UTF-8 (an argv element, a
// path, a DNS name are whatever the build made them) become U+FFFD and
// the answer is valid JSON whatever was recorded.
#pragma once

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace bt::collector::api {

class JsonOut {
 public:
  JsonOut& object() {
    w_.StartObject();
    return *this;
  }
  JsonOut& end_object() {
    w_.EndObject();
    return *this;
  }
  JsonOut& array() {
    w_.StartArray();
    return *this;
  }
  JsonOut& end_array() {
    w_.EndArray();
    return *this;
  }
  JsonOut& key(std::string_view k) {
    w_.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
    return *this;
  }
  JsonOut& str(std::string_view v) {
    w_.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
    return *this;
  }
  JsonOut& i64(int64_t v) {
    w_.Int64(v);
    return *this;
  }
  JsonOut& u64(uint64_t v) {
    w_.Uint64(v);
    return *this;
  }
  JsonOut& boolean(bool v) {
    w_.Bool(v);
    return *this;
  }
  JsonOut& null() {
    w_.Null();
    return *this;
  }
  // A whole JSON value that one of our writers made (an event's buildtrail
  // JSON, an alert's object).
  JsonOut& raw(std::string_view json) {
    w_.RawValue(json.data(), json.size(), rapidjson::kObjectType);
    return *this;
  }
  // The string, or null when it is empty.
  JsonOut& str_or_null(std::string_view v) { return v.empty() ? null() : str(v); }

  // The answer: one JSON value and a newline.
  std::string done() const;

 private:
  rapidjson::StringBuffer buf_;
  rapidjson::Writer<rapidjson::StringBuffer> w_{buf_};
};

}  // namespace bt::collector::api

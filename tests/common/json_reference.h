// What the event JSON codec is held to, shared by tests/common/event_test.cpp,
// the differential fuzzer (tests/fuzz/fuzz_event_json_diff.cpp) and its seed
// corpus (tests/fuzz/gen_corpus.cpp):
//  * reference_json: an event encoded by RapidJSON's Writer, driven by the
//    same visit_fields declarations. The hand-written encoder in
//    common/events/json.cpp claims to write these bytes exactly (for strings
//    of valid UTF-8; it replaces invalid bytes, the Writer would not).
//  * stale_event: an event with every field set, to reuse as the target of a
//    decode, so a field the reader forgets to overwrite or reset shows.
//  * kTrickyLines: lines around the edge of the fast reader's shape, each
//    with whether the fast reader takes it and whether RapidJSON's DOM does.
#pragma once

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

#include "common/events/event.h"

namespace bt::testing {

namespace reference_detail {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

inline void put(Writer& w, uint64_t v) { w.Uint64(v); }
inline void put(Writer& w, int64_t v) { w.Int64(v); }
inline void put(Writer& w, bool v) { w.Bool(v); }
inline void put(Writer& w, const std::string& s) { w.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); }
inline void put(Writer& w, const events::Counts& counts) {
  w.StartObject();
  for (const auto& [name, n] : counts) {
    w.Key(name.data(), static_cast<rapidjson::SizeType>(name.size()));
    w.Uint64(n);
  }
  w.EndObject();
}
template <class T>
requires T::kIsRecord void put(Writer& w, const T& record);
template <class T>
void put(Writer& w, const std::vector<T>& list) {
  w.StartArray();
  for (const auto& item : list) put(w, item);
  w.EndArray();
}

// Members with a value; empty strings and lists, and a Stdio not
// recorded, are left out.
template <class T>
void put_members(Writer& w, const T& record) {
  T::visit_fields([&](auto field) {
    const auto& value = record.*(field.member);
    if constexpr (requires { value.empty(); }) {
      if (value.empty()) return;
    }
    if constexpr (std::is_same_v<std::decay_t<decltype(value)>, events::Stdio>) {
      if (value == events::Stdio{}) return;
    }
    w.Key(field.name.data(), static_cast<rapidjson::SizeType>(field.name.size()));
    put(w, value);
  });
}

template <class T>
requires T::kIsRecord void put(Writer& w, const T& record) {
  w.StartObject();
  put_members(w, record);
  w.EndObject();
}

}  // namespace reference_detail

// The line RapidJSON's Writer makes of `event` (no newline).
inline std::string reference_json(const events::Event& event) {
  using namespace reference_detail;
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("kind");
  put(w, std::string(events::kind_name(event.kind())));
  put_members(w, event);
  w.Key("data");
  std::visit(
      [&](const auto& body) {
        if constexpr (std::is_same_v<std::decay_t<decltype(body)>, std::monostate>) {
          w.StartObject();
          w.EndObject();
        } else {
          put(w, body);
        }
      },
      event.body);
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

// An event of `kind` with every field of the envelope and the body set to a
// non-default value, lists and counts three long.
inline events::Event stale_event(events::Kind kind) {
  events::Event e;
  e.body = events::make_body(kind);
  auto fill = [](auto& record) {
    auto fill_impl = [](auto& self, auto& rec) -> void {
      std::decay_t<decltype(rec)>::visit_fields([&](auto field) {
        auto& v = rec.*(field.member);
        using V = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<V, std::string>) {
          v = "stale";
        } else if constexpr (std::is_same_v<V, uint64_t>) {
          v = 7;
        } else if constexpr (std::is_same_v<V, int64_t>) {
          v = -7;
        } else if constexpr (std::is_same_v<V, bool>) {
          v = true;
        } else if constexpr (std::is_same_v<V, events::Counts>) {
          v = {{"a", 1}, {"b", 2}, {"c", 3}};
        } else if constexpr (requires {
                               v.resize(3);
                               v[0];
                             }) {  // StringList, FileList
          v.resize(3);
          for (auto& item : v) {
            if constexpr (std::is_same_v<std::decay_t<decltype(item)>, std::string>)
              item = "stale";
            else
              self(self, item);
          }
        } else {
          self(self, v);  // a record
        }
      });
    };
    fill_impl(fill_impl, record);
  };
  fill(e);
  std::visit(
      [&](auto& body) {
        if constexpr (!std::is_same_v<std::decay_t<decltype(body)>, std::monostate>) fill(body);
      },
      e.body);
  return e;
}

struct TrickyLine {
  std::string_view what;
  std::string_view line;
  bool fast_takes;   // the fast reader reads it (else JsonLineReader asks the DOM)
  bool dom_accepts;  // RapidJSON's DOM decode gives an event (else an error)
};

using namespace std::string_view_literals;

// The fast reader declines every \u escape, a number RapidJSON would make a
// double, a duplicate declared member, `data` before `kind` and anything after
// the object; all of these are still read, or refused, by the DOM.
inline constexpr TrickyLine kTrickyLines[] = {
    {"short escapes", R"({"kind":"loss","time_ns":1,"host":"a\"b\\c\/d\b\f\n\r\te"})", true, true},
    {"UTF-8 of 2, 3 and 4 bytes", "{\"kind\":\"loss\",\"time_ns\":1,\"host\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x94\x91\"}",
     true, true},
    {"DEL and the top of Unicode", "{\"kind\":\"loss\",\"time_ns\":1,\"host\":\"\x7f\xf4\x8f\xbf\xbf\"}", true, true},
    {"a \\u escape", R"({"kind":"loss","time_ns":1,"host":"caf\u00e9"})", false, true},
    {"a control character, as the encoder escapes it", R"({"kind":"loss","time_ns":1,"host":"a\u0001b"})", false, true},
    {"an escaped NUL", R"({"kind":"loss","time_ns":1,"host":"a\u0000b"})", false, true},
    {"a surrogate pair", R"({"kind":"loss","time_ns":1,"host":"\ud83d\udd11"})", false, true},
    {"a lone low surrogate", R"({"kind":"loss","time_ns":1,"host":"\udc00"})", false, false},
    {"a lone high surrogate", R"({"kind":"loss","time_ns":1,"host":"\ud800x"})", false, false},
    {"an encoded surrogate", "{\"kind\":\"loss\",\"time_ns\":1,\"host\":\"\xed\xa0\x80\"}", false, false},
    {"an overlong encoding", "{\"kind\":\"loss\",\"time_ns\":1,\"host\":\"\xc0\xaf\"}", false, false},
    {"past U+10FFFF", "{\"kind\":\"loss\",\"time_ns\":1,\"host\":\"\xf4\x90\x80\x80\"}", false, false},
    {"a raw control character", "{\"kind\":\"loss\",\"time_ns\":1,\"host\":\"a\tb\"}", false, false},
    {"an escaped key", R"({"kind":"loss","time_ns":1,"ho\u0073t":"h"})", false, true},
    {"the largest uint64", R"({"kind":"loss","time_ns":18446744073709551615})", true, true},
    {"past uint64", R"({"kind":"loss","time_ns":18446744073709551616})", false, false},
    {"21 digits", R"({"kind":"loss","time_ns":100000000000000000000})", false, false},
    {"the smallest int64", R"({"kind":"process_exit","time_ns":1,"data":{"exit_code":-9223372036854775808}})", true,
     true},
    {"below int64", R"({"kind":"process_exit","time_ns":1,"data":{"exit_code":-9223372036854775809}})", false, false},
    {"past int64 in an int64 field", R"({"kind":"process_exit","time_ns":1,"data":{"signal":9223372036854775808}})",
     false, false},
    {"negative zero", R"({"kind":"loss","time_ns":-0,"data":{"first_ns":-0}})", true, true},
    {"a negative unsigned", R"({"kind":"loss","time_ns":-1})", false, false},
    {"an exponent", R"({"kind":"loss","time_ns":1e3})", false, false},
    {"a fraction", R"({"kind":"loss","time_ns":1.0})", false, false},
    {"a leading zero", R"({"kind":"loss","time_ns":01})", false, false},
    {"a duplicate member: the DOM takes the first", R"({"kind":"loss","time_ns":1,"host":"a","host":"b"})", false,
     true},
    {"a duplicate kind", R"({"kind":"loss","time_ns":1,"kind":"agent_stop"})", false, true},
    {"a duplicate member in a record", R"({"kind":"loss","time_ns":1,"process":{"pid":1,"pid":2}})", false, true},
    {"duplicate count names are all kept", R"({"kind":"loss","time_ns":1,"data":{"counts":{"a":1,"a":2}}})", true,
     true},
    {"unknown members of every type",
     R"({"kind":"loss","x":{"a":[1,-2,true,false,null,"s\n",{},[]]},"time_ns":1,"build":{"y":[[]]},"data":{"z":"q","counts":{}}})",
     true, true},
    {"an unknown member with a fraction", R"({"kind":"loss","time_ns":1,"x":1.5})", false, true},
    {"an unknown member with a \\u escape", R"({"kind":"loss","time_ns":1,"x":"\u0041"})", false, true},
    {"members of another kind", R"({"kind":"agent_stop","time_ns":1,"data":{"counts":{"a":1},"reason":"exit"}})", true,
     true},
    {"whitespace everywhere",
     " \t{ \"kind\" : \"loss\" ,\r\n\"time_ns\" :\t7 , \"data\" : { \"counts\" : { \"a\" : 1 } } }\n ", true, true},
    {"members in reverse order", R"({"data":{"last_ns":3},"time_ns":2,"kind":"loss"})", false, true},
    {"time_ns first", R"({"time_ns":2,"kind":"loss","data":{}})", true, true},
    {"no data", R"({"kind":"build_end","time_ns":2})", true, true},
    {"data of the wrong type", R"({"kind":"loss","time_ns":1,"data":[]})", false, false},
    {"null for a string", R"({"kind":"loss","time_ns":1,"host":null})", false, false},
    {"no time_ns", R"({"kind":"loss"})", false, false},
    {"an unknown kind", R"({"kind":"loss_2","time_ns":1})", false, false},
    {"a trailing comma", R"({"kind":"loss","time_ns":1,})", false, false},
    {"bytes after the object", R"({"kind":"loss","time_ns":1} x)", false, false},
    {"two objects", R"({"kind":"loss","time_ns":1}{"kind":"loss","time_ns":1})", false, false},
    // RapidJSON reads a NUL byte outside a string as the end of its input,
    // and skips a UTF-8 byte order mark.
    {"a NUL after the object", "{\"kind\":\"loss\",\"time_ns\":1}\0x"sv, false, true},
    {"a NUL in a string", "{\"kind\":\"loss\",\"time_ns\":1,\"host\":\"a\0\"}"sv, false, false},
    {"a byte order mark", "\xef\xbb\xbf{\"kind\":\"loss\",\"time_ns\":1}", false, true},
};

}  // namespace bt::testing

#include "common/events/json.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <type_traits>
#include <utility>
#include <variant>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "common/events/json_detail.h"

namespace bt::events {

namespace {

template <class T>
concept Record = T::kIsRecord;

#if defined(__SSE2__)
// Bit i set when byte i of `v` is one a JSON string cannot hold as is: '"',
// '\\' or a control character (< 0x20). These are the bytes the encoder
// escapes.
[[gnu::always_inline]] inline unsigned special_bytes(__m128i v) {
  const __m128i hit =
      _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
                   _mm_cmpeq_epi8(_mm_max_epu8(v, _mm_set1_epi8(0x1F)), _mm_set1_epi8(0x1F)));  // unsigned <= 0x1F
  return static_cast<unsigned>(_mm_movemask_epi8(hit));
}
#endif

// ---- encoding -----------------------------------------------------------------
//
// A direct writer into one growing buffer. Its output is byte for byte what
// RapidJSON's Writer produced before it (same escapes: \" \\ \b \f \n \r \t
// and \u00XX with upper-case hex for other control characters; '/', DEL and
// bytes >= 0x80 as they are; integers in plain decimal), without the
// Writer's per-character loop on short strings and its nesting bookkeeping.

std::size_t utf8_sequence(const char* p, const char* end);

// Strings are written as valid UTF-8 whatever the kernel handed us: a byte
// that does not start a valid sequence (a Latin-1 file name, a truncated
// argv) becomes U+FFFD, so one odd path can never make a reader refuse the
// whole batch.
constexpr char kReplacement[] = "\xEF\xBF\xBD";

class JsonOut {
 public:
  std::string_view view() const { return {buf_.data(), size_}; }
  std::size_t size() const { return size_; }
  void clear() { size_ = 0; }
  void truncate(std::size_t size) { size_ = std::min(size_, size); }

  [[gnu::always_inline]] void put(char c) {
    *room(1) = c;
    ++size_;
  }
  // `"name":`, after a ',' unless `first`. Inlined: names are constants.
  [[gnu::always_inline]] void key(std::string_view name, bool& first) {
    char* p = room(name.size() + 4);
    if (!first) *p++ = ',';
    first = false;
    *p++ = '"';
    std::memcpy(p, name.data(), name.size());
    p += name.size();
    *p++ = '"';
    *p++ = ':';
    size_ = static_cast<std::size_t>(p - buf_.data());
  }
  void string(std::string_view s) {
    // Worst case every byte is \u00XX; 16 more for copy_plain's whole blocks.
    char* p = room(2 + 6 * s.size() + 16);
    *p++ = '"';
    const char* in = s.data();
    const char* const end = in + s.size();
    for (;;) {
      const char* q = in;
      p = copy_plain(q, end, p);
      if (q == end) break;
      const auto c = static_cast<unsigned char>(*q);
      if (c >= 0x80) {
        const std::size_t n = utf8_sequence(q, end);
        if (n) {
          std::memcpy(p, q, n);
          p += n;
          in = q + n;
        } else {
          std::memcpy(p, kReplacement, 3);
          p += 3;
          in = q + 1;
        }
        continue;
      }
      *p++ = '\\';
      switch (c) {
        case '"':
          *p++ = '"';
          break;
        case '\\':
          *p++ = '\\';
          break;
        case '\b':
          *p++ = 'b';
          break;
        case '\f':
          *p++ = 'f';
          break;
        case '\n':
          *p++ = 'n';
          break;
        case '\r':
          *p++ = 'r';
          break;
        case '\t':
          *p++ = 't';
          break;
        default:
          *p++ = 'u';
          *p++ = '0';
          *p++ = '0';
          *p++ = "0123456789ABCDEF"[c >> 4];
          *p++ = "0123456789ABCDEF"[c & 15];
      }
      in = q + 1;
    }
    *p++ = '"';
    size_ = static_cast<std::size_t>(p - buf_.data());
  }
  template <class Int>
  void integer(Int v) {
    char* p = room(24);
    size_ = static_cast<std::size_t>(std::to_chars(p, p + 24, v).ptr - buf_.data());
  }

 private:
  // Copies bytes from `in` to `out` up to the first one scan_string stops
  // at (or `end`); advances `in` to it and returns the new `out`. Writes
  // whole 16-byte blocks, so `out` needs 16 bytes of slack.
  static char* copy_plain(const char*& in, const char* end, char* out) {
#if defined(__SSE2__)
    while (end - in >= 16) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out), v);
      if (const unsigned mask = special_bytes(v) | static_cast<unsigned>(_mm_movemask_epi8(v))) {
        const int k = __builtin_ctz(mask);
        in += k;
        return out + k;
      }
      in += 16;
      out += 16;
    }
#endif
    while (in != end && *in != '"' && *in != '\\' && static_cast<unsigned char>(*in) >= 0x20 &&
           static_cast<unsigned char>(*in) < 0x80)
      *out++ = *in++;
    return out;
  }

  // Room for n more bytes at the end; returns where they go.
  [[gnu::always_inline]] char* room(std::size_t n) {
    if (buf_.size() - size_ < n) grow(n);
    return buf_.data() + size_;
  }
  [[gnu::noinline]] void grow(std::size_t n) { buf_.resize(std::max(2 * buf_.size(), size_ + n + 4096)); }

  std::string buf_;  // size() is the capacity in use; size_ the bytes written
  std::size_t size_ = 0;
};

bool is_empty(const std::string& s) { return s.empty(); }
template <class T>
bool is_empty(const std::vector<T>& v) {
  return v.empty();
}
template <class T>
bool is_empty(const T&) {
  return false;
}
// Not recorded (a capture that does not look at descriptors): left out.
bool is_empty(const Stdio& s) { return s == Stdio{}; }

void write_value(JsonOut& w, uint64_t v) { w.integer(v); }
void write_value(JsonOut& w, int64_t v) { w.integer(v); }
[[maybe_unused]] void write_value(JsonOut& w, bool v) {
  for (const char c : std::string_view(v ? "true" : "false")) w.put(c);
}
void write_value(JsonOut& w, const std::string& v) { w.string(v); }
void write_value(JsonOut& w, const Counts& counts) {
  w.put('{');
  bool first = true;
  for (const auto& [name, n] : counts) {
    if (!first) w.put(',');
    first = false;
    w.string(name);
    w.put(':');
    w.integer(n);
  }
  w.put('}');
}
template <Record T>
void write_value(JsonOut& w, const T& record);
template <class T>
void write_value(JsonOut& w, const std::vector<T>& list) {
  w.put('[');
  bool first = true;
  for (const auto& item : list) {
    if (!first) w.put(',');
    first = false;
    write_value(w, item);
  }
  w.put(']');
}

template <class T>
void write_members(JsonOut& w, const T& record, bool& first) {
  T::visit_fields([&](auto field) {
    const auto& value = record.*(field.member);
    if (is_empty(value)) return;
    w.key(field.name, first);
    write_value(w, value);
  });
}

template <Record T>
void write_value(JsonOut& w, const T& record) {
  w.put('{');
  bool first = true;
  write_members(w, record, first);
  w.put('}');
}

void write_event(JsonOut& w, const Event& event) {
  w.put('{');
  bool first = true;
  w.key("kind", first);
  w.string(kind_name(event.kind()));
  write_members(w, event, first);
  w.key("data", first);
  std::visit(
      [&](const auto& body) {
        if constexpr (std::is_same_v<std::decay_t<decltype(body)>, std::monostate>) {
          w.put('{');
          w.put('}');
        } else {
          write_value(w, body);
        }
      },
      event.body);
  w.put('}');
}

// ---- decoding -----------------------------------------------------------------

using JsonValue = rapidjson::Value;

Error type_error(std::string_view field, const char* expected) {
  return make_error(ErrorCode::kMalformed, "field '" + std::string(field) + "': expected " + expected);
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
// RapidJSON validates raw bytes, but a lone low surrogate escape ("\udc00")
// decodes to bytes that are not UTF-8 (ED B0 80). Only escapes can produce
// them, and only as 0xED sequences, so the check is cheap.
bool decoded_utf8_ok(const char* s, std::size_t n) {
  if (!std::memchr(s, 0xED, n)) return true;
  for (const char* p = s; p != s + n;) {
    if (static_cast<unsigned char>(*p) < 0x80) {
      ++p;
      continue;
    }
    const std::size_t len = utf8_sequence(p, s + n);
    if (len == 0) return false;
    p += len;
  }
  return true;
}

Status read_value(const JsonValue& v, std::string_view field, std::string& out) {
  if (!v.IsString()) return type_error(field, "string");
  if (!decoded_utf8_ok(v.GetString(), v.GetStringLength()))
    return type_error(field, "string of Unicode scalar values (lone surrogate escape)");
  out.assign(v.GetString(), v.GetStringLength());
  return Ok{};
}
Status read_value(const JsonValue& v, std::string_view field, Counts& out) {
  if (!v.IsObject()) return type_error(field, "object of counts");
  out.clear();
  out.reserve(v.MemberCount());
  for (const auto& m : v.GetObject()) {
    if (!m.value.IsUint64()) return type_error(field, "unsigned integer counts");
    if (!decoded_utf8_ok(m.name.GetString(), m.name.GetStringLength()))
      return type_error(field, "count names of Unicode scalar values (lone surrogate escape)");
    out.emplace_back(std::string(m.name.GetString(), m.name.GetStringLength()), m.value.GetUint64());
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
  using Doc =
      rapidjson::GenericDocument<rapidjson::UTF8<>, rapidjson::MemoryPoolAllocator<>, rapidjson::MemoryPoolAllocator<>>;
  Doc doc(&values, 1024, &stack);
  // Iterative parsing: nesting depth in hostile input cannot exhaust the stack.
  constexpr unsigned kFlags = rapidjson::kParseValidateEncodingFlag | rapidjson::kParseIterativeFlag;
  doc.Parse<kFlags>(line.data(), line.size());
  if (doc.HasParseError()) {
    return make_error(ErrorCode::kMalformed, std::string("invalid JSON at byte ") +
                                                 std::to_string(doc.GetErrorOffset()) + ": " +
                                                 rapidjson::GetParseError_En(doc.GetParseError()));
  }
  return read_event(doc);
}

// ---- fast decoding: a strict scanner straight into an Event ---------------
//
// The reference decoder above builds a DOM and then looks every declared
// field up, several times the cost of reading the line. The fast reader
// walks the line once and stores each member directly into the Event,
// directed by the same visit_fields declarations (per record type a table of
// member names with a typed reader per member), so nothing here names a
// field either. It reuses the strings and lists already in the Event.
//
// It reads a strict subset of JSON: everything our writer produces except
// the \u00XX escapes it writes for control characters other than \b \f \n
// \r \t (rare in build events), plus whitespace, members in any order, and
// unknown members of any JSON type (skipped, nested objects and arrays
// included, up to kMaxSkipDepth deep).
// Strings are checked as RapidJSON's kParseValidateEncodingFlag checks them
// (each non-ASCII sequence must be valid UTF-8). It gives up -- and the line
// goes through parse_dom, which then decides the result or the error
// message -- on anything else: syntax errors, invalid UTF-8, \u escapes,
// escaped keys, numbers with a fraction or exponent or outside 64 bits
// (RapidJSON would make them doubles), a value of the wrong type, a
// duplicate member (the DOM lookup takes the first), `data` before `kind`,
// a missing `kind` or `time_ns`, an unknown kind, bytes after the object.
// So it only accepts lines parse_dom accepts, with the same result, and
// every error is parse_dom's own: tests/fuzz/fuzz_event_json_diff.cpp checks
// this on every input, through detail::decode_fast and decode_dom
// (json_detail.h). Its recursion is bounded by the schema's nesting plus
// kMaxSkipDepth; deeper input goes to the iterative DOM parse.

// Length of the valid UTF-8 sequence (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF -- what RapidJSON's validation
// accepts) that starts with the non-ASCII byte at p, or 0 if there is none
// before `end`.
std::size_t utf8_sequence(const char* p, const char* end) {
  const auto* s = reinterpret_cast<const unsigned char*>(p);
  const unsigned char c = s[0];
  std::size_t len;
  unsigned char lo = 0x80, hi = 0xBF;  // range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0)
      lo = 0xA0;  // overlong
    else if (c == 0xED)
      hi = 0x9F;  // surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0)
      lo = 0x90;  // overlong
    else if (c == 0xF4)
      hi = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (static_cast<std::size_t>(end - p) < len || s[1] < lo || s[1] > hi) return 0;
  for (std::size_t k = 2; k < len; ++k)
    if ((s[k] & 0xC0) != 0x80) return 0;
  return len;
}

// First byte in [p, end) that is not plain printable ASCII inside a JSON
// string: '"', '\\', a control character or a byte >= 0x80; `end` if none.
[[gnu::always_inline]] inline const char* scan_string(const char* p, const char* end) {
#if defined(__SSE2__)
  while (end - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const unsigned mask = special_bytes(v) | static_cast<unsigned>(_mm_movemask_epi8(v));
    if (mask != 0) return p + __builtin_ctz(mask);
    p += 16;
  }
#endif
  while (p != end && *p != '"' && *p != '\\' && static_cast<unsigned char>(*p) >= 0x20 &&
         static_cast<unsigned char>(*p) < 0x80)
    ++p;
  return p;
}

// Resets a value to its default, keeping string and list capacity.
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

class FastReader;

// One member of a record type, built from its visit_fields entry: the JSON
// name, the member pointer (stored as bytes, typed again by the functions
// made for it) and a reader and a resetter for the member's type.
struct Slot {
  std::string_view name;
  bool (*read)(FastReader& r, void* record, const Slot& slot) = nullptr;
  void (*reset)(void* record, const Slot& slot) = nullptr;
  alignas(8) unsigned char member[sizeof(std::size_t)]{};

  template <class T, class V>
  V T::*member_pointer() const {
    V T::*m;
    std::memcpy(&m, member, sizeof m);
    return m;
  }
};

// The members of one record type, in visit order.
struct RecordTable {
  static constexpr int kMax = 62;  // a record's seen-bits fit one uint64_t
  std::array<Slot, kMax> slots{};
  int count = 0;

  // Index of the member named `key`, -1 if none. `hint` is tried first:
  // members normally come in declaration order.
  int find(const char* key, std::size_t n, int hint) const {
    if (hint < count && same(slots[hint].name, key, n)) return hint;
    for (int i = 0; i < count; ++i)
      if (same(slots[i].name, key, n)) return i;
    return -1;
  }
  [[gnu::always_inline]] static bool same(std::string_view name, const char* key, std::size_t n) {
    if (name.size() != n) return false;
    const char* a = name.data();
    // Two overlapping words cover 8..16 bytes (4..8 below that), with loads
    // that stay inside both strings.
    if (n >= 8 && n <= 16)
      return load<uint64_t>(a) == load<uint64_t>(key) && load<uint64_t>(a + n - 8) == load<uint64_t>(key + n - 8);
    if (n >= 4 && n < 8)
      return load<uint32_t>(a) == load<uint32_t>(key) && load<uint32_t>(a + n - 4) == load<uint32_t>(key + n - 4);
    if (n < 4) {
      for (std::size_t i = 0; i < n; ++i)
        if (a[i] != key[i]) return false;
      return true;
    }
    return std::memcmp(a, key, n) == 0;
  }
  template <class W>
  static W load(const char* p) {
    W w;
    std::memcpy(&w, p, sizeof w);
    return w;
  }
  // Resets every member whose bit is not set in `seen`.
  void reset_unseen(void* record, uint64_t seen) const {
    for (int i = 0; i < count; ++i)
      if (!(seen & (uint64_t{1} << i))) slots[i].reset(record, slots[i]);
  }
};

class FastReader {
 public:
  FastReader(std::string_view line, std::array<Body, kKinds.size()>& parked)
      : p_(line.data()), end_(line.data() + line.size()), parked_(parked) {}

  // Reads the whole line into `out`; false means "ask parse_dom".
  bool event(Event& out) {
    skip_ws();
    if (!consume('{')) return false;
    const RecordTable& envelope = table<Event>();
    const int kind_slot = envelope.count, data_slot = envelope.count + 1;
    uint64_t seen = 0;
    int hint = kind_slot;
    std::size_t kind = 0;
    const bool ok = members([&] {
      int i;
      if (hint == kind_slot && key_is("kind")) {
        i = kind_slot;
        if (!colon()) return false;
      } else if (hint == data_slot && key_is("data")) {
        i = data_slot;
        if (!colon()) return false;
      } else if (hint < envelope.count && key_is(envelope.slots[hint].name)) {
        i = hint;
        if (!colon()) return false;
      } else {
        const char* k;
        std::size_t n;
        if (!key(k, n)) return false;
        i = envelope.find(k, n, envelope.count);
        if (i < 0) {
          if (RecordTable::same("kind", k, n))
            i = kind_slot;
          else if (RecordTable::same("data", k, n))
            i = data_slot;
          else
            return skip_value(0);
        }
      }
      const uint64_t bit = uint64_t{1} << i;
      if (seen & bit) return false;  // duplicate member
      seen |= bit;
      // Next expected, in the order write_event uses: kind, the envelope
      // fields, data.
      hint = i == kind_slot ? 0 : i + 1 == envelope.count ? data_slot : i + 1;
      if (i == kind_slot) return read_kind(out.body, kind);
      if (i == data_slot) {
        if (!(seen & (uint64_t{1} << kind_slot))) return false;  // data before kind
        return read_data(out.body, kind);
      }
      return envelope.slots[i].read(*this, &out, envelope.slots[i]);
    });
    if (!ok) return false;
    skip_ws();
    if (p_ != end_) return false;  // trailing bytes
    // `kind` and `time_ns` are required (parse_dom names them when missing).
    static const uint64_t required = [&] {
      const int time_ns = envelope.find("time_ns", 7, 0);
      if (time_ns < 0) std::abort();  // the envelope declares it
      return uint64_t{1} << kind_slot | uint64_t{1} << time_ns;
    }();
    if ((seen & required) != required) return false;
    if (!(seen & (uint64_t{1} << data_slot))) std::visit([](auto& body) { reset_value(body); }, out.body);
    envelope.reset_unseen(&out, seen);
    return true;
  }

 private:
  static constexpr int kMaxSkipDepth = 64;

  [[gnu::always_inline]] void skip_ws() {
    while (p_ != end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }
  [[gnu::always_inline]] bool consume(char c) {
    if (p_ == end_ || *p_ != c) return false;
    ++p_;
    return true;
  }

  // Object members after the '{': on_member() reads each key (from after
  // its opening quote) and value.
  template <class OnMember>
  bool members(OnMember&& on_member) {
    skip_ws();
    if (consume('}')) return true;
    for (;;) {
      skip_ws();
      if (!consume('"') || !on_member()) return false;
      skip_ws();
      if (consume(',')) continue;
      return consume('}');
    }
  }

  // A key from after its opening quote, then the ':'. Keys with escapes are
  // left to parse_dom.
  bool key(const char*& k, std::size_t& n) {
    const char* q = scan_string(p_, end_);
    while (q != end_ && static_cast<unsigned char>(*q) >= 0x80) {  // UTF-8
      const std::size_t len = utf8_sequence(q, end_);
      if (len == 0) return false;
      q = scan_string(q + len, end_);
    }
    if (q == end_ || *q != '"') return false;
    k = p_;
    n = static_cast<std::size_t>(q - p_);
    p_ = q + 1;
    return colon();
  }
  // True (and past it and the ':') if the key from p_ on is exactly `name`.
  [[gnu::always_inline]] bool key_is(std::string_view name) {
    if (static_cast<std::size_t>(end_ - p_) <= name.size() || p_[name.size()] != '"' ||
        !RecordTable::same(name, p_, name.size()))
      return false;
    p_ += name.size() + 1;
    return true;
  }
  [[gnu::always_inline]] bool colon() {
    skip_ws();
    if (!consume(':')) return false;
    skip_ws();
    return true;
  }

  // The slot of the next member of a record with table `t`: `hint` (the
  // member after the previous one) is tried first. -1: not a member.
  [[gnu::always_inline]] int member_key(const RecordTable& t, int hint, bool& ok) {
    if (hint < t.count && key_is(t.slots[hint].name)) return ok = colon(), hint;
    const char* k;
    std::size_t n;
    ok = key(k, n);
    return ok ? t.find(k, n, t.count) : -1;
  }

  // Array elements after the '[': on_element() reads each.
  template <class OnElement>
  bool elements(OnElement&& on_element) {
    skip_ws();
    if (consume(']')) return true;
    for (;;) {
      skip_ws();
      if (!on_element()) return false;
      skip_ws();
      if (consume(',')) continue;
      return consume(']');
    }
  }

  // A string's content after its opening quote, into `out`.
  bool string(std::string& out) {
    const char* q = scan_string(p_, end_);
    if (q != end_ && *q == '"') {  // the common case: plain ASCII
      assign(out, p_, static_cast<std::size_t>(q - p_));
      p_ = q + 1;
      return true;
    }
    out.clear();
    const char* run = p_;  // start of the bytes not yet copied to `out`
    for (;;) {
      if (q == end_) return false;  // unterminated
      const auto c = static_cast<unsigned char>(*q);
      if (c == '"') {
        out.append(run, static_cast<std::size_t>(q - run));
        p_ = q + 1;
        return true;
      }
      if (c >= 0x80) {  // UTF-8, validated as RapidJSON does
        const std::size_t n = utf8_sequence(q, end_);
        if (n == 0) return false;
        q = scan_string(q + n, end_);
        continue;
      }
      if (c != '\\' || end_ - q < 2) return false;  // a control character
      out.append(run, static_cast<std::size_t>(q - run));
      char e;
      switch (q[1]) {
        case '"':
          e = '"';
          break;
        case '\\':
          e = '\\';
          break;
        case '/':
          e = '/';
          break;
        case 'b':
          e = '\b';
          break;
        case 'f':
          e = '\f';
          break;
        case 'n':
          e = '\n';
          break;
        case 'r':
          e = '\r';
          break;
        case 't':
          e = '\t';
          break;
        default:
          return false;  // \u escapes (and invalid ones): parse_dom
      }
      out.push_back(e);
      run = q + 2;
      q = scan_string(run, end_);
    }
  }

  // out = [p, p + n), without std::string's general replace path when the
  // string already has the capacity (the usual case for a reused event).
  [[gnu::always_inline]] static void assign(std::string& out, const char* p, std::size_t n) {
    if (n > out.capacity() || n > 16) {
      out.assign(p, n);
      return;
    }
    out.resize(n);
    char* d = out.data();
    if (n >= 8) {  // two overlapping words
      uint64_t a, b;
      std::memcpy(&a, p, 8);
      std::memcpy(&b, p + n - 8, 8);
      std::memcpy(d, &a, 8);
      std::memcpy(d + n - 8, &b, 8);
    } else if (n >= 4) {
      uint32_t a, b;
      std::memcpy(&a, p, 4);
      std::memcpy(&b, p + n - 4, 4);
      std::memcpy(d, &a, 4);
      std::memcpy(d + n - 4, &b, 4);
    } else {
      for (std::size_t i = 0; i < n; ++i) d[i] = p[i];
    }
  }

  // SWAR on eight characters loaded little-endian (first character lowest):
  // whether all are digits, and their value.
  static bool eight_digits(uint64_t w) {
    return ((w & 0xF0F0F0F0F0F0F0F0ull) | (((w + 0x0606060606060606ull) & 0xF0F0F0F0F0F0F0F0ull) >> 4)) ==
           0x3333333333333333ull;
  }
  static uint64_t eight_digit_value(uint64_t w) {
    w -= 0x3030303030303030ull;
    w = (w * 10) + (w >> 8);  // pairs of digits
    return (((w & 0x000000FF000000FFull) * (100 + (1000000ull << 32))) +
            (((w >> 16) & 0x000000FF000000FFull) * (1 + (10000ull << 32)))) >>
           32;
  }

  // An integer: magnitude and sign. Fractions, exponents and values that
  // RapidJSON would turn into a double are left to parse_dom.
  bool integer(uint64_t& magnitude, bool& negative) {
    negative = consume('-');
    if (p_ == end_) return false;
    uint64_t v = 0;
    if (*p_ == '0') {
      ++p_;
    } else if (*p_ >= '1' && *p_ <= '9') {
      // Up to 19 digits cannot overflow; a 20th is checked.
      const char* const first = p_;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
      while (end_ - p_ >= 8 && p_ - first <= 8) {  // eight digits at a time, twice at most
        uint64_t w;
        std::memcpy(&w, p_, 8);
        if (!eight_digits(w)) break;
        v = v * 100000000 + eight_digit_value(w);
        p_ += 8;
      }
#endif
      while (p_ != end_ && *p_ >= '0' && *p_ <= '9' && p_ - first < 19) v = v * 10 + static_cast<unsigned>(*p_++ - '0');
      if (p_ != end_ && *p_ >= '0' && *p_ <= '9') {
        const unsigned d = static_cast<unsigned>(*p_++ - '0');
        if (v > (std::numeric_limits<uint64_t>::max() - d) / 10) return false;
        v = v * 10 + d;
        if (p_ != end_ && *p_ >= '0' && *p_ <= '9') return false;  // 21 digits and more
      }
    } else {
      return false;
    }
    if (p_ != end_ && (*p_ == '.' || *p_ == 'e' || *p_ == 'E')) return false;
    if (negative && v > (uint64_t{1} << 63)) return false;
    if (v == 0) negative = false;  // -0 reads as 0 (RapidJSON: Int(0))
    magnitude = v;
    return true;
  }

  bool literal(std::string_view word) {
    if (static_cast<std::size_t>(end_ - p_) < word.size() || std::memcmp(p_, word.data(), word.size()) != 0)
      return false;
    p_ += word.size();
    return true;
  }

  // ---- typed values ----
  bool value(uint64_t& out) {
    uint64_t v;
    bool negative;
    if (!integer(v, negative) || negative) return false;
    out = v;
    return true;
  }
  bool value(int64_t& out) {
    uint64_t v;
    bool negative;
    if (!integer(v, negative)) return false;
    if (negative) {
      out = static_cast<int64_t>(0 - v);  // v <= 2^63
    } else {
      if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
      out = static_cast<int64_t>(v);
    }
    return true;
  }
  [[maybe_unused]] bool value(bool& out) {
    if (literal("true")) return out = true, true;
    if (literal("false")) return out = false, true;
    return false;
  }
  bool value(std::string& out) { return consume('"') && string(out); }
  bool value(Counts& out) {
    if (!consume('{')) return false;
    std::size_t n = 0;
    const bool ok = members([&] {
      const char* k;
      std::size_t len;
      if (!key(k, len)) return false;
      if (n == out.size()) out.emplace_back();
      auto& [name, count] = out[n++];
      name.assign(k, len);
      return value(count);
    });
    out.resize(n);
    return ok;
  }
  // Arrays (StringList, FileList); Counts, also a vector, has its own
  // non-template overload above, which wins.
  template <class T>
  bool value(std::vector<T>& out) {
    if (!consume('[')) return false;
    std::size_t n = 0;
    const bool ok = elements([&] {
      if (n == out.size()) out.emplace_back();
      return value(out[n++]);
    });
    out.resize(n);
    return ok;
  }
  template <Record T>
  bool value(T& out) {
    if (!consume('{')) return false;
    const RecordTable& t = table<T>();
    uint64_t seen = 0;
    int hint = 0;
    const bool ok = members([&] {
      bool key_ok;
      const int i = member_key(t, hint, key_ok);
      if (!key_ok) return false;
      if (i < 0) return skip_value(0);
      const uint64_t bit = uint64_t{1} << i;
      if (seen & bit) return false;  // duplicate member
      seen |= bit;
      hint = i + 1;
      return t.slots[i].read(*this, &out, t.slots[i]);
    });
    if (ok) t.reset_unseen(&out, seen);
    return ok;
  }

  // The member table of T, built once from T::visit_fields.
  template <class T>
  static const RecordTable& table() {
    static const RecordTable t = [] {
      RecordTable t;
      T::visit_fields([&](auto field) {
        using V = std::decay_t<decltype(std::declval<T&>().*(field.member))>;
        if (t.count == RecordTable::kMax) std::abort();  // a record with > 62 members
        Slot& slot = t.slots[t.count++];
        slot.name = field.name;
        slot.read = [](FastReader& r, void* record, const Slot& self) {
          return r.value(static_cast<T*>(record)->*self.member_pointer<T, V>());
        };
        slot.reset = [](void* record, const Slot& self) {
          reset_value(static_cast<T*>(record)->*self.member_pointer<T, V>());
        };
        static_assert(sizeof(field.member) == sizeof(slot.member));
        std::memcpy(slot.member, &field.member, sizeof slot.member);
      });
      return t;
    }();
    return t;
  }

  // Any JSON value, checked and dropped (an unknown member's).
  bool skip_value(int depth) {
    if (p_ == end_) return false;
    switch (*p_) {
      case '"': {
        ++p_;
        return string(scratch_);
      }
      case '{':
        if (depth == kMaxSkipDepth) return false;
        ++p_;
        return members([&] {
          const char* k;
          std::size_t n;
          return key(k, n) && skip_value(depth + 1);
        });
      case '[':
        if (depth == kMaxSkipDepth) return false;
        ++p_;
        return elements([&] { return skip_value(depth + 1); });
      case 't':
        return literal("true");
      case 'f':
        return literal("false");
      case 'n':
        return literal("null");
      default: {
        uint64_t v;
        bool negative;
        return integer(v, negative);
      }
    }
  }

  // The kind name; makes `body` hold that kind's record, reusing the one
  // parked from the kind's previous event so its strings keep capacity.
  bool read_kind(Body& body, std::size_t& kind) {
    if (!consume('"')) return false;
    const char* q = scan_string(p_, end_);
    if (q == end_ || *q != '"') return false;
    const std::string_view name(p_, static_cast<std::size_t>(q - p_));
    p_ = q + 1;
    std::size_t k = 0;
    while (k < kKinds.size() && !RecordTable::same(kKinds[k].name, name.data(), name.size())) ++k;
    if (k == kKinds.size()) return false;
    kind = k;
    if (body.index() != k) {
      if (body.index() < parked_.size()) std::swap(body, parked_[body.index()]);
      std::swap(body, parked_[k]);
      if (body.index() != k) body = make_body(kKinds[k].kind);
    }
    return true;
  }

  template <std::size_t I>
  static bool read_body(FastReader& r, Body& body) {
    return r.value(std::get<I>(body));
  }
  template <std::size_t... I>
  static constexpr std::array<bool (*)(FastReader&, Body&), sizeof...(I)> body_readers(std::index_sequence<I...>) {
    return {&read_body<I>...};
  }
  // Reads `data` into the body of kind index `kind` (kKinds order, which is
  // Body's alternative order).
  bool read_data(Body& body, std::size_t kind) {
    static constexpr auto readers = body_readers(std::make_index_sequence<kKinds.size()>{});
    return readers[kind](*this, body);
  }

  const char* p_;
  const char* end_;
  std::array<Body, kKinds.size()>& parked_;
  std::string scratch_;
};

}  // namespace

// ---- JsonLineWriter -------------------------------------------------------------

struct JsonLineWriter::Impl {
  JsonOut out;
};

JsonLineWriter::JsonLineWriter() : impl_(std::make_unique<Impl>()) {}
JsonLineWriter::~JsonLineWriter() = default;

void JsonLineWriter::append(const Event& event) {
  write_event(impl_->out, event);
  impl_->out.put('\n');
}
std::string_view JsonLineWriter::view() const { return impl_->out.view(); }
std::size_t JsonLineWriter::size() const { return impl_->out.size(); }
void JsonLineWriter::clear() { impl_->out.clear(); }
void JsonLineWriter::truncate(std::size_t size) { impl_->out.truncate(size); }

// ---- JsonLineReader -------------------------------------------------------------

struct JsonLineReader::Impl {
  // The reference decoder's arenas, cleared before every use so memory stays
  // bounded by the largest single line, not by the number of lines parsed.
  rapidjson::MemoryPoolAllocator<> values;
  rapidjson::MemoryPoolAllocator<> stack;
  std::array<Body, kKinds.size()> parked;  // a body per kind, for reuse
};

JsonLineReader::JsonLineReader() : impl_(std::make_unique<Impl>()) {}
JsonLineReader::~JsonLineReader() = default;

Status JsonLineReader::parse_into(std::string_view line, Event& out) {
  if (FastReader(line, impl_->parked).event(out)) return Ok{};
  // Whatever the fast reader does not take, errors included, is decided by
  // the reference decoder.
  auto event = parse_dom(line, impl_->values, impl_->stack);
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

// ---- the decoders alone (json_detail.h) ---------------------------------------

namespace detail {

bool decode_fast(std::string_view line, Event& out) {
  std::array<Body, kKinds.size()> parked;
  return FastReader(line, parked).event(out);
}

Result<Event> decode_dom(std::string_view line) {
  rapidjson::MemoryPoolAllocator<> values, stack;
  return parse_dom(line, values, stack);
}

}  // namespace detail

}  // namespace bt::events

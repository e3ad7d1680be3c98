// JSON encoding of events, derived from events.def through the field
// visitors. One event is one JSON object on one line:
//   {"kind":"process_exec","time_ns":...,"host":...,"agent_id":...,
//    "build":{...},"process":{...},"data":{...kind fields...}}
// Empty strings and empty lists are omitted; a reader treats a missing field
// as empty or zero. Unknown members are ignored (fields are append-only, so
// an old reader keeps working on newer events); unknown kinds are errors.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/events/event.h"
#include "common/result.h"

namespace bt::events {

// Appends events as JSON lines into one reused buffer (no DOM, no per-event
// allocation once the buffer has grown).
class JsonLineWriter {
 public:
  JsonLineWriter();
  ~JsonLineWriter();
  JsonLineWriter(const JsonLineWriter&) = delete;
  JsonLineWriter& operator=(const JsonLineWriter&) = delete;

  void append(const Event& event);
  std::string_view view() const;
  std::size_t size() const;
  void clear();
  // Drops what was appended after the first `size` bytes (a line that must
  // not be kept).
  void truncate(std::size_t size);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Parses single JSON lines into events, reusing its buffers.
class JsonLineReader {
 public:
  JsonLineReader();
  ~JsonLineReader();
  JsonLineReader(const JsonLineReader&) = delete;
  JsonLineReader& operator=(const JsonLineReader&) = delete;

  // `line` holds one JSON object (no newline needed). Invalid UTF-8, syntax
  // errors, wrong field types and unknown kinds are errors naming the field
  // or byte offset.
  Result<Event> parse(std::string_view line);

  // Same as parse(), but fills `out` in place, so a caller that parses many
  // lines into one Event reuses the capacity of its strings and lists (the
  // reader also keeps the body of each kind for reuse). Every field of `out`
  // is overwritten: on success it equals what parse() returns. `out` may be
  // in any state, including moved-from; after an error its content is
  // unspecified.
  Status parse_into(std::string_view line, Event& out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::string to_json(const Event& event);
Result<Event> from_json(std::string_view line);

}  // namespace bt::events

// A JSON record built by path, for the formats that nest what buildtrail
// keeps flat (OCSF's actor.process.pid, ECS's process.parent.pid). The
// mappings say where each field goes as a dotted path; the tree makes the
// objects on the way. Written by RapidJSON's Writer, so every string is
// escaped, then through text::json_printable as the other JSON the
// collector prints.
#pragma once

#include <rapidjson/document.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "collector/store/store.h"
#include "common/events/event.h"

namespace bt::collector::format::detail {

// One JSON object (or array) of a Tree being filled. Cheap to copy: it
// points into the Tree, which must outlive it. It stays valid until a
// member is added to the object (or an element to the array) that holds
// it: RapidJSON moves members when their array grows, so fill a node
// before adding its siblings.
class Node {
 public:
  using Alloc = rapidjson::Document::AllocatorType;
  Node(rapidjson::Value* value, Alloc* alloc) : value_(value), alloc_(alloc) {}

  // Each setter replaces what `path` held ("a.b.c": objects a and b are
  // made when missing).
  void str(std::string_view path, std::string_view value);
  void int64(std::string_view path, int64_t value);
  void uint64(std::string_view path, uint64_t value);
  void boolean(std::string_view path, bool value);
  // Only when there is something to say: an empty string is left out, as
  // buildtrail's own JSON leaves it out.
  void str_if(std::string_view path, std::string_view value) {
    if (!value.empty()) str(path, value);
  }

  Node object(std::string_view path);
  // An array at `path` (made when missing); add() appends to it.
  Node array(std::string_view path);
  void add(std::string_view value);
  Node add_object();

  // A deep copy of the members of `from` (an object) into the object at
  // `path`, but those named in `except`; nothing when none is left.
  void copy_members(std::string_view path, const rapidjson::Value& from,
                    const std::vector<std::string_view>& except = {});

 private:
  rapidjson::Value& slot(std::string_view path);
  rapidjson::Value* value_;
  Alloc* alloc_;
};

// An alert's evidence at `path` of `at`: one {agent_id, seq, line} per
// event (its signed batch and line); nothing when there is none.
void evidence(Node at, std::string_view path, const std::vector<store::Evidence>& evidence);

class Tree {
 public:
  Tree() { doc_.SetObject(); }
  Node root() { return Node(&doc_, &doc_.GetAllocator()); }
  // One JSON object, no newline.
  std::string json() const;

 private:
  rapidjson::Document doc_;
};

// An event in buildtrail's own JSON (docs/events.md), parsed: the formats
// take the fields they have no place for from its "build" and "data"
// objects, so a field appended to events.def is exported without a change
// here.
class Source {
 public:
  explicit Source(const events::Event& e);
  // The member `name` of the event's object; an empty object when absent.
  const rapidjson::Value& member(std::string_view name) const;

 private:
  rapidjson::Document doc_;
  rapidjson::Value empty_{rapidjson::kObjectType};
};

// The last component of a path ("/usr/bin/curl" -> "curl"); the path when
// it has no slash.
std::string_view base_name(std::string_view path);
// argv as one line, the arguments joined by single spaces (already redacted
// by the agent).
std::string command_line(const std::vector<std::string>& argv);
// True when `text` is an IPv4 or IPv6 address as inet_pton reads it.
bool is_ip(const std::string& text);

}  // namespace bt::collector::format::detail

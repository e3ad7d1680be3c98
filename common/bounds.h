// How long the identity strings an agent reports may be, once they reach
// the collector's index and its listings. An agent holding a valid key can
// write any string into its inventory and into the envelope of every event
// (a 2 MB host name made every `agents list` line 2 MB): each such field has
// a bound here, with the reason for its value, published in
// docs/collector-api.md (inventory) and docs/collector-store.md (events).
//
// Two policies, by what the string is:
// - The enrollment inventory is a claim the agent makes once, unsigned by
//   any batch: a field over its bound refuses the enrollment (400 naming the
//   field). The agent cuts its own inventory to these bounds before it
//   enrolls, so an honest agent is never refused.
// - Event fields are evidence inside a signed batch: the batch is kept
//   whole and verifiable, and only what the collector indexes and shows is
//   cut, with a marker (cut()), and flagged by an `oversized` finding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/events/event.h"
#include "common/markdown.h"

namespace bt::bounds {

// ---- enrollment inventory: refused when longer ----------------------------------

struct InventoryField {
  std::string_view name;  // member of the request's "inventory" object
  std::size_t max_bytes;
  std::string_view why;
};

inline constexpr InventoryField kInventory[] = {
    {"hostname", 253, "a DNS name is at most 253 characters (RFC 1035); Linux host names at most 64"},
    {"os", 256, "os-release PRETTY_NAME, a product name and version"},
    {"kernel", 64, "uname -r: struct utsname holds at most 64 characters of release"},
    {"agent_version", 64, "a version string"},
    {"ci", 64, "the name of a CI system"},
};

// The bound of an inventory field; 0 for a name not in kInventory.
constexpr std::size_t inventory_max(std::string_view name) {
  for (const auto& f : kInventory)
    if (f.name == name) return f.max_bytes;
  return 0;
}

// ---- event fields: indexed and shown cut --------------------------------------

enum class Redaction { kText, kUrl };  // which common/redact function the field takes

struct EventField {
  std::string_view name;  // as docs/events.md writes it: host, build.id, process.exe, net_connect.daddr ...
  std::size_t max_bytes;  // of the cut value, marker included
  Redaction redaction;
  std::string_view why;
  // The field in `event`, or nullptr when the event's kind has none.
  std::string* (*get)(events::Event& event);
};

// Every event field the collector indexes or shows from its index.
std::span<const EventField> event_fields();

// `value` cut to at most `max_bytes` (at least kMinCutBytes): a prefix that
// ends on a UTF-8 boundary, then "...[cut from N bytes, sha256 H]" where H
// is the first 16 hex digits of the SHA-256 of the whole value, so two long
// values that share their beginning stay two values (builds are keyed by
// their id). A value within the bound is returned as it is.
inline constexpr std::size_t kMinCutBytes = 128;
std::string cut(std::string_view value, std::size_t max_bytes);

// Cuts every field of `event` over its bound, each first redacted as the
// collector redacts it for the index, so a secret that straddles the cut is
// not kept in part and the hash names no secret. Returns the fields cut:
// bit i for event_fields()[i] (0 for almost every event).
uint32_t bound_event(events::Event& event);

// The tables above as the docs show them (common/markdown.h): the part
// "inventory-bounds" of docs/collector-api.md and "event-bounds" of
// docs/collector-store.md.
std::vector<markdown::Part> api_reference_parts();
std::vector<markdown::Part> store_reference_parts();

}  // namespace bt::bounds

// Bounds of identity fields; see bounds.h.
#include "common/bounds.h"

#include <algorithm>
#include <array>
#include <variant>

#include "common/crypto/keys.h"
#include "common/redact/redact.h"
#include "common/text.h"

namespace bt::bounds {

namespace {

using events::Event;

template <class Body, std::string Body::*member>
std::string* body_field(Event& e) {
  auto* b = std::get_if<Body>(&e.body);
  return b ? &(b->*member) : nullptr;
}

// Values a legitimate agent reports stay far below these; each bound is the
// limit of the thing the field names (a DNS name, a path, a URL), or a
// generous multiple of real values where the thing has none.
constexpr std::array<EventField, 21> kEventFields = {{
    {"host", 253, Redaction::kText, "a DNS name is at most 253 characters (RFC 1035)",
     [](Event& e) { return &e.host; }},
    {"build.ci", 128, Redaction::kText, "the name of a CI system", [](Event& e) { return &e.build.ci; }},
    {"build.job", 1024, Redaction::kText,
     "job paths with their folders (Jenkins folder/job, GitLab group/project:job) are a few hundred characters",
     [](Event& e) { return &e.build.job; }},
    {"build.id", 1024, Redaction::kText, "a build tag is a job name and a number",
     [](Event& e) { return &e.build.id; }},
    {"build.number", 128, Redaction::kText, "a build number", [](Event& e) { return &e.build.number; }},
    {"build.url", 2048, Redaction::kUrl, "the longest URL every browser and proxy handles",
     [](Event& e) { return &e.build.url; }},
    {"build.repository", 2048, Redaction::kUrl, "a URL, as build.url", [](Event& e) { return &e.build.repository; }},
    {"build.commit", 128, Redaction::kText, "a commit id is 40 (SHA-1) or 64 (SHA-256) hex digits",
     [](Event& e) { return &e.build.commit; }},
    {"build.runner", 256, Redaction::kText, "a runner, agent or node name", [](Event& e) { return &e.build.runner; }},
    {"build.branch", 1024, Redaction::kText, "a branch or tag name (hosts cap them at a few hundred bytes)",
     [](Event& e) { return &e.build.branch; }},
    {"process.key", 128, Redaction::kText, "`<pid>-<start time>` is at most 41 characters",
     [](Event& e) { return &e.process.key; }},
    {"process.exe", 4096, Redaction::kText, "PATH_MAX: Linux refuses longer paths",
     [](Event& e) { return &e.process.exe; }},
    {"net_connect.daddr", 128, Redaction::kText, "an IPv6 address is at most 45 characters",
     body_field<events::NetConnect, &events::NetConnect::daddr>},
    {"dns_query.name", 1024, Redaction::kText,
     "a DNS name is at most 253 characters, four times that with odd bytes written as \\DDD",
     body_field<events::DnsQuery, &events::DnsQuery::name>},
    {"secret_access.path", 4096, Redaction::kText, "PATH_MAX, as process.exe",
     body_field<events::SecretAccess, &events::SecretAccess::path>},
    {"artifact_upload.destination", 2048, Redaction::kUrl, "a URL, as build.url",
     body_field<events::ArtifactUpload, &events::ArtifactUpload::destination>},
    {"process.parent_key", 128, Redaction::kText, "as process.key", [](Event& e) { return &e.process.parent_key; }},
    {"net_connect.dns_name", 1024, Redaction::kText, "as dns_query.name",
     body_field<events::NetConnect, &events::NetConnect::dns_name>},
    {"secret_access.dest_name", 1024, Redaction::kText, "as dns_query.name",
     body_field<events::SecretAccess, &events::SecretAccess::dest_name>},
    {"build_start.mode", 128, Redaction::kText, "wrap, daemon or unmonitored",
     body_field<events::BuildStart, &events::BuildStart::mode>},
    {"agent_start.mode", 128, Redaction::kText, "run or daemon",
     body_field<events::AgentStart, &events::AgentStart::mode>},
}};

static_assert(kEventFields.size() <= 32, "bound_event() reports cut fields as bits of a uint32_t");
static_assert(std::all_of(kEventFields.begin(), kEventFields.end(),
                          [](const EventField& f) { return f.max_bytes >= kMinCutBytes; }),
              "every bound leaves room for the marker");
static_assert(std::all_of(std::begin(kInventory), std::end(kInventory),
                          [](const InventoryField& f) { return f.max_bytes > 0; }));

}  // namespace

std::span<const EventField> event_fields() { return kEventFields; }

std::string cut(std::string_view value, std::size_t max_bytes) {
  if (value.size() <= max_bytes) return std::string(value);
  const std::string marker = "...[cut from " + std::to_string(value.size()) + " bytes, sha256 " +
                             crypto::to_hex(crypto::sha256(crypto::as_bytes(value))).substr(0, 16) + "]";
  const std::size_t room = std::max(max_bytes, kMinCutBytes) - marker.size();
  return std::string(text::prefix_bytes(value, room)) + marker;
}

uint32_t bound_event(Event& event) {
  uint32_t cut_fields = 0;
  for (std::size_t i = 0; i < kEventFields.size(); ++i) {
    const EventField& f = kEventFields[i];
    std::string* value = f.get(event);
    if (!value || value->size() <= f.max_bytes) continue;
    const std::string redacted = f.redaction == Redaction::kUrl ? redact::url(*value) : redact::text(*value);
    *value = cut(redacted, f.max_bytes);
    cut_fields |= uint32_t{1} << i;
  }
  return cut_fields;
}

std::vector<markdown::Part> api_reference_parts() {
  std::string rows = "| field | at most (bytes) | why |\n| --- | --- | --- |\n";
  for (const auto& f : kInventory)
    rows += "| `" + std::string(f.name) + "` | " + std::to_string(f.max_bytes) + " | " + std::string(f.why) + " |\n";
  return {{"inventory-bounds", rows}};
}

std::vector<markdown::Part> store_reference_parts() {
  std::string rows = "| field | at most (bytes) | why |\n| --- | --- | --- |\n";
  for (const auto& f : kEventFields)
    rows += "| `" + std::string(f.name) + "` | " + std::to_string(f.max_bytes) + " | " + std::string(f.why) + " |\n";
  return {{"event-bounds", rows}};
}

}  // namespace bt::bounds

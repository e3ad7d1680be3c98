#include "common/events/schema_doc.h"

#include <rapidjson/prettywriter.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>

#include "common/batch/batch.h"
#include "common/events/examples.h"
#include "common/events/json.h"

namespace bt::events {

namespace {

template <class T> constexpr const char* type_label();
template <> constexpr const char* type_label<uint64_t>() { return "uint64"; }
template <> constexpr const char* type_label<int64_t>() { return "int64"; }
template <> constexpr const char* type_label<std::string>() { return "string"; }
template <> constexpr const char* type_label<StringList>() { return "array of string"; }
template <> constexpr const char* type_label<Counts>() { return "object: name → uint64"; }
template <> constexpr const char* type_label<FileList>() { return "array of [FileDigest](#filedigest)"; }
template <> constexpr const char* type_label<Build>() { return "[Build](#build)"; }
template <> constexpr const char* type_label<Process>() { return "[Process](#process)"; }

template <class T>
std::string field_table() {
  std::string out = "| field | type | meaning |\n| --- | --- | --- |\n";
  T::visit_fields([&](auto field) {
    using V = std::decay_t<decltype(std::declval<T>().*(field.member))>;
    out += "| `" + std::string(field.name) + "` | " + type_label<V>() + " | " +
           std::string(field.doc) + " |\n";
  });
  return out;
}

std::string pretty(const Event& e) {
  rapidjson::Document doc;
  const std::string line = to_json(e);
  doc.Parse(line.c_str());
  rapidjson::StringBuffer buf;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buf);
  w.SetIndent(' ', 2);
  doc.Accept(w);
  return buf.GetString();
}

}  // namespace

std::string events_markdown() {
  std::string md =
      "# Events\n\n"
      "<!-- Generated from common/events/events.def by `make docs`; do not edit by hand. -->\n\n"
      "Every event buildtrail records is one JSON object on one line (JSON Lines, UTF-8).\n"
      "Batches carry these lines, `buildtrail-collector export` prints them and `query\n"
      "--format jsonl` too. This page is generated from `common/events/events.def`, the\n"
      "single declaration of the model; schema version " +
      std::to_string(batch::kSchemaVersion) +
      ".\n\n"
      "Rules a reader can rely on:\n\n"
      "- `kind` names the event; the kind-specific fields are under `data`.\n"
      "- Empty strings and empty arrays are omitted; a missing field means empty or zero.\n"
      "- Fields are only ever added. A change of meaning or type is a new kind.\n"
      "  Readers ignore members they do not know.\n"
      "- Times are nanoseconds since the Unix epoch, UTC.\n"
      "- Secret values never appear: argv, URLs and headers are redacted before an event\n"
      "  leaves the capture layer; a redaction reads `[REDACTED:<kind of secret>]`.\n\n"
      "## Envelope\n\nEvery event has these members besides `kind` and `data`.\n\n" +
      field_table<Event>() + "\n### Build\n\n" + field_table<Build>() + "\n### Process\n\n" +
      field_table<Process>() + "\n### FileDigest\n\n" + field_table<FileDigest>() +
      "\n## Kinds\n\n| id | kind | what it records |\n| --- | --- | --- |\n";
  for (const auto& info : kKinds)
    md += "| " + std::to_string(static_cast<int>(info.kind)) + " | [`" + std::string(info.name) +
          "`](#" + std::string(info.name) + ") | " + std::string(info.doc) + " |\n";
#define BT_KIND_SECTION(id, name, Struct, doc)                                         \
  md += "\n### " #name "\n\n" doc ".\n\n`data` fields:\n\n" + field_table<Struct>() + \
        "\nExample:\n\n```json\n" + pretty(example_event(Kind::name)) + "\n```\n";
  BT_EVENT_KINDS(BT_KIND_SECTION)
#undef BT_KIND_SECTION
  return md;
}

}  // namespace bt::events

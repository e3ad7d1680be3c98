#include "common/events/schema_doc.h"

#include <rapidjson/document.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include "common/batch/batch.h"
#include "common/events/examples.h"
#include "common/events/json.h"

namespace bt::events {

namespace {

template <class T>
constexpr const char* type_label();
template <>
constexpr const char* type_label<uint64_t>() {
  return "uint64";
}
template <>
constexpr const char* type_label<int64_t>() {
  return "int64";
}
template <>
constexpr const char* type_label<std::string>() {
  return "string";
}
template <>
constexpr const char* type_label<StringList>() {
  return "array of string";
}
template <>
constexpr const char* type_label<Counts>() {
  return "object: name → uint64";
}
template <>
constexpr const char* type_label<FileList>() {
  return "array of [FileDigest](#filedigest)";
}
template <>
constexpr const char* type_label<Build>() {
  return "[Build](#build)";
}
template <>
constexpr const char* type_label<Process>() {
  return "[Process](#process)";
}
template <>
constexpr const char* type_label<Stdio>() {
  return "[Stdio](#stdio)";
}

template <class T>
std::string field_table() {
  std::string out = "| field | type | meaning |\n| --- | --- | --- |\n";
  T::visit_fields([&](auto field) {
    using V = std::decay_t<decltype(std::declval<T>().*(field.member))>;
    out += "| `" + std::string(field.name) + "` | " + type_label<V>() + " | " + std::string(field.doc) + " |\n";
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

std::vector<markdown::Part> reference_parts() {
  std::string kinds = "| id | kind | what it records |\n| --- | --- | --- |\n";
  for (const auto& info : kKinds)
    kinds += "| " + std::to_string(static_cast<int>(info.kind)) + " | [`" + std::string(info.name) + "`](#" +
             std::string(info.name) + ") | " + std::string(info.doc) + " |\n";
  std::string sections;
#define BT_KIND_SECTION(id, name, Struct, doc)                                                                \
  sections += std::string(sections.empty() ? "" : "\n") + "### " #name "\n\n" doc ".\n\n`data` fields:\n\n" + \
              field_table<Struct>() + "\nExample:\n\n```json\n" + pretty(example_event(Kind::name)) + "\n```\n";
  BT_EVENT_KINDS(BT_KIND_SECTION)
#undef BT_KIND_SECTION
  return {{"schema-version", "Schema version " + std::to_string(batch::kSchemaVersion) + ".\n"},
          {"envelope", field_table<Event>()},
          {"build", field_table<Build>()},
          {"process", field_table<Process>()},
          {"filedigest", field_table<FileDigest>()},
          {"stdio", field_table<Stdio>()},
          {"kinds", kinds},
          {"kind-sections", sections}};
}

}  // namespace bt::events

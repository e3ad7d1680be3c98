// Alerts as the commands print them; see alert.h.
#include "collector/view/alert.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "collector/view/text.h"
#include "collector/view/time.h"

namespace bt::collector::view {

namespace {

std::string joined(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : sep) + i;
  return out;
}

std::string place(const store::Evidence& e) {
  return e.agent_id + " seq " + std::to_string(e.seq) + " line " + std::to_string(e.line);
}

}  // namespace

std::vector<std::string> alert_columns() {
  return {"ID", "RAISED", "SEVERITY", "RULE", "BUILD", "AGENT", "STATUS", "TITLE"};
}

std::vector<std::string> alert_row(const store::Alert& a) {
  return {std::to_string(a.id),
          format_rfc3339(a.raised_ns),
          a.severity,
          a.rule_id,
          a.build_ref ? std::to_string(*a.build_ref) : "-",
          a.agent_id,
          a.acked_ns ? "acked" : "open",
          truncate(a.title, 100)};
}

std::string alert_block(const store::Alert& a) {
  std::string out;
  auto line = [&](const char* name, const std::string& value) {
    out += std::string(name) + ": " + printable(value) + "\n";
  };
  line("alert", std::to_string(a.id));
  line("rule", a.rule_id);
  line("title", a.title);
  line("severity", a.severity);
  line("tags", joined(a.tags, " "));
  line("agent", a.agent_id);
  line("build",
       a.build_ref ? std::to_string(*a.build_ref) + " (query --build " + std::to_string(*a.build_ref) + ")" : "-");
  line("time", format_rfc3339_ms(a.time_ns));
  line("raised", format_rfc3339_ms(a.raised_ns));
  line("detail", a.detail);
  line("status", a.acked_ns
                     ? "acknowledged " + format_rfc3339(a.acked_ns) + (a.ack_note.empty() ? "" : ": " + a.ack_note)
                     : "open");
  for (const auto& e : a.evidence) line("evidence", place(e));
  return out;
}

std::string alert_json(const store::Alert& a) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  auto str = [&](const char* name, const std::string& v) {
    w.Key(name);
    w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
  };
  w.StartObject();
  w.Key("id");
  w.Int64(a.id);
  str("rule_id", a.rule_id);
  str("title", a.title);
  str("severity", a.severity);
  w.Key("tags");
  w.StartArray();
  for (const auto& t : a.tags) w.String(t.data(), static_cast<rapidjson::SizeType>(t.size()));
  w.EndArray();
  str("agent_id", a.agent_id);
  w.Key("build");
  if (a.build_ref)
    w.Int64(*a.build_ref);
  else
    w.Null();
  w.Key("time_ns");
  w.Uint64(a.time_ns);
  w.Key("raised_ns");
  w.Uint64(a.raised_ns);
  str("detail", a.detail);
  w.Key("acked_ns");
  w.Uint64(a.acked_ns);
  str("ack_note", a.ack_note);
  w.Key("evidence");
  w.StartArray();
  for (const auto& e : a.evidence) {
    w.StartObject();
    str("agent_id", e.agent_id);
    w.Key("seq");
    w.Uint64(e.seq);
    w.Key("line");
    w.Uint(e.line);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return text::json_printable(std::string(buf.GetString(), buf.GetSize()));
}

}  // namespace bt::collector::view

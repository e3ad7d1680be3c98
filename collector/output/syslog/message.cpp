// RFC 5424 messages; see message.h.
#include "collector/output/syslog/message.h"

#include <ctime>

#include "common/text.h"

namespace bt::collector::output::syslog {

namespace {

// A header field: PRINTUSASCII, 1..max, else "-" (the NILVALUE).
std::string header_field(std::string_view value, std::size_t max) {
  if (value.empty()) return "-";
  std::string out(value.substr(0, max));
  for (auto& c : out)
    if (static_cast<unsigned char>(c) < 33 || static_cast<unsigned char>(c) > 126) c = '_';
  return out;
}

void param(std::string& sd, std::string_view name, std::string_view value) {
  if (value.empty()) return;
  sd += ' ';
  sd += name;
  sd += "=\"";
  sd += param_value(value);
  sd += '"';
}

std::string structured_data(const Header& header, const Record& r) {
  std::string sd = "[" + header.sd_id;
  param(sd, "kind", r.kind());
  param(sd, "id", r.id);
  if (r.event) {
    const events::Event& e = *r.event;
    param(sd, "agent", e.agent_id);
    param(sd, "ci", e.build.ci);
    param(sd, "repository", e.build.repository);
    param(sd, "job", e.build.job);
    param(sd, "build", e.build.id);
  }
  if (r.alert) {
    param(sd, "agent", r.alert->agent_id);
    param(sd, "rule", r.alert->rule_id);
    param(sd, "severity", r.alert->severity);
  }
  return sd + "]";
}

}  // namespace

std::string param_value(std::string_view value) {
  const std::string shown = text::printable(value);
  std::string out;
  out.reserve(shown.size());
  for (char c : shown) {
    if (c == '"' || c == '\\' || c == ']') out += '\\';
    out += c;
  }
  return out;
}

std::string timestamp(uint64_t time_ns) {
  if (time_ns == 0) return "-";
  const std::time_t seconds = static_cast<std::time_t>(time_ns / 1000000000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[96];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%06uZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<unsigned>(time_ns % 1000000000 / 1000));
  return text;
}

std::string message(const Header& header, const Record& record) {
  const int pri = header.facility * 8 + record.severity();
  const std::string host = record.event ? header_field(record.host(), 255) : header_field(header.collector_host, 255);
  std::string m = "<" + std::to_string(pri) + ">1 " + timestamp(record.time_ns()) + " " + host + " " +
                  header_field(header.app_name, 48) + " - " + header_field(record.kind(), 32) + " " +
                  structured_data(header, record) + " ";
  m += record.text;
  return m;
}

void append_octet_counted(std::string& out, const std::string& message) {
  out += std::to_string(message.size());
  out += ' ';
  out += message;
}

}  // namespace bt::collector::output::syslog

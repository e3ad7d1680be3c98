// RFC 5424 messages; see message.h.
#include "collector/output/syslog/message.h"

#include <ctime>

#include "common/text.h"

namespace bt::collector::output::syslog {

namespace {

// A header field: PRINTUSASCII, 1..max, else "-" (the NILVALUE).
void append_header_field(std::string& out, std::string_view value, std::size_t max) {
  if (value.empty()) {
    out += '-';
    return;
  }
  for (char c : value.substr(0, max))
    out += static_cast<unsigned char>(c) < 33 || static_cast<unsigned char>(c) > 126 ? '_' : c;
}

// Whether `value` goes into an SD-PARAM as it is: printable ASCII with
// nothing to escape, as ids, names and most paths are.
bool plain_param(std::string_view value) {
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f || c == '"' || c == '\\' || c == ']') return false;
  }
  return true;
}

void param(std::string& sd, std::string_view name, std::string_view value) {
  if (value.empty()) return;
  sd += ' ';
  sd += name;
  sd += "=\"";
  if (plain_param(value))
    sd += value;
  else
    sd += param_value(value);
  sd += '"';
}

void append_structured_data(std::string& sd, const Header& header, const Record& r) {
  sd += '[';
  sd += header.sd_id;
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
  sd += ']';
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
  // Records come in time order mostly: the date and time of the last
  // second seen are kept (per thread, as each output has its own).
  thread_local std::time_t last_seconds = -1;
  thread_local char last_prefix[64];
  if (seconds != last_seconds) {
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    std::snprintf(last_prefix, sizeof last_prefix, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    last_seconds = seconds;
  }
  char micros[] = ".000000Z";
  for (uint64_t us = time_ns % 1000000000 / 1000, i = 6; i >= 1; --i, us /= 10)
    micros[i] = static_cast<char>('0' + us % 10);
  return std::string(last_prefix) + micros;
}

std::string message(const Header& header, const Record& record) {
  std::string m;
  m.reserve(256 + record.text.size());
  m += '<';
  m += std::to_string(header.facility * 8 + record.severity());
  m += ">1 ";
  m += timestamp(record.time_ns());
  m += ' ';
  append_header_field(m, record.event ? record.host() : std::string_view(header.collector_host), 255);
  m += ' ';
  append_header_field(m, header.app_name, 48);
  m += " - ";
  append_header_field(m, record.kind(), 32);
  m += ' ';
  append_structured_data(m, header, record);
  m += ' ';
  m += record.text;
  return m;
}

void append_octet_counted(std::string& out, const std::string& message) {
  out += std::to_string(message.size());
  out += ' ';
  out += message;
}

}  // namespace bt::collector::output::syslog

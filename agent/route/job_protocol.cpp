#include "agent/route/job_protocol.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>

namespace bt::agent::job {

namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void put(Writer& w, std::string_view key, std::string_view value) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

Error bad(const std::string& what) { return make_error(ErrorCode::kMalformed, "job request: " + what); }

bool printable(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x20 && c != 0x7f; });
}

Result<rapidjson::Document> parse_object(std::string_view line, const char* what) {
  if (line.size() > kMaxRequestBytes)
    return make_error(ErrorCode::kTooLarge,
                      std::string(what) + ": more than " + std::to_string(kMaxRequestBytes) + " bytes");
  rapidjson::Document d;
  d.Parse(line.data(), line.size());
  if (d.HasParseError() || !d.IsObject())
    return make_error(ErrorCode::kMalformed, std::string(what) + ": not a JSON object");
  return d;
}

}  // namespace

std::string to_json(const Request& r) {
  rapidjson::StringBuffer out;
  Writer w(out);
  w.StartObject();
  put(w, "op", r.op == Op::kBegin ? "begin" : "end");
  if (!r.id.empty()) put(w, "id", r.id);
  if (r.status) {
    w.Key("status");
    w.Int64(*r.status);
  }
  w.Key("env");
  w.StartObject();
  for (const auto& [name, value] : r.env) put(w, name, value);
  w.EndObject();
  w.EndObject();
  return std::string(out.GetString(), out.GetSize());
}

Result<Request> parse_request(std::string_view line) {
  auto d = parse_object(line, "job request");
  if (!d) return d.error();
  const rapidjson::Value& root = *d;  // const: one iterator type on both sides of ==
  Request r;
  const auto op = root.FindMember("op");
  if (op == root.MemberEnd() || !op->value.IsString()) return bad("\"op\" must be \"begin\" or \"end\"");
  const std::string_view op_text(op->value.GetString(), op->value.GetStringLength());
  if (op_text == "begin")
    r.op = Op::kBegin;
  else if (op_text == "end")
    r.op = Op::kEnd;
  else
    return bad("\"op\" must be \"begin\" or \"end\"");
  if (const auto id = root.FindMember("id"); id != root.MemberEnd()) {
    if (!id->value.IsString()) return bad("\"id\" must be a string");
    r.id.assign(id->value.GetString(), id->value.GetStringLength());
    if (r.id.size() > kMaxIdBytes || !printable(r.id))
      return bad("\"id\" must be printable, at most " + std::to_string(kMaxIdBytes) + " bytes");
  }
  if (const auto st = root.FindMember("status"); st != root.MemberEnd()) {
    if (!st->value.IsInt64() || st->value.GetInt64() < 0 || st->value.GetInt64() > 255)
      return bad("\"status\" must be an exit status, 0 to 255");
    r.status = st->value.GetInt64();
  }
  if (const auto env = root.FindMember("env"); env != root.MemberEnd()) {
    if (!env->value.IsObject()) return bad("\"env\" must be an object of strings");
    attribution::Environment all;
    for (const auto& m : env->value.GetObject()) {
      if (!m.value.IsString()) return bad("\"env\" must be an object of strings");
      all[std::string(m.name.GetString(), m.name.GetStringLength())].assign(m.value.GetString(),
                                                                            m.value.GetStringLength());
    }
    r.env = attribution::identity_only(all);
  }
  return r;
}

std::string to_json(const Reply& r) {
  rapidjson::StringBuffer out;
  Writer w(out);
  w.StartObject();
  w.Key("ok");
  w.Bool(r.ok);
  put(w, "message", r.message);
  w.EndObject();
  return std::string(out.GetString(), out.GetSize());
}

Result<Reply> parse_reply(std::string_view line) {
  auto d = parse_object(line, "daemon reply");
  if (!d) return d.error();
  const rapidjson::Value& root = *d;
  const auto ok = root.FindMember("ok");
  const auto message = root.FindMember("message");
  if (ok == root.MemberEnd() || !ok->value.IsBool() || message == root.MemberEnd() || !message->value.IsString())
    return make_error(ErrorCode::kMalformed, "daemon reply: needs \"ok\" and \"message\"");
  Reply r;
  r.ok = ok->value.GetBool();
  r.message.assign(message->value.GetString(), message->value.GetStringLength());
  std::replace_if(
      r.message.begin(), r.message.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
  return r;
}

}  // namespace bt::agent::job

#include "collector/api/request.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <charconv>

#include "collector/api/cursor.h"
#include "collector/view/time.h"
#include "common/text.h"

namespace bt::collector::api {

Response error_response(int status, std::string_view message) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  const std::string line = text::printable(message);  // one line: a newline in it is \n
  w.StartObject();
  w.Key("error");
  w.String(line.data(), static_cast<rapidjson::SizeType>(line.size()));
  w.EndObject();
  Response r;
  r.status = status;
  r.body = text::json_printable(std::string_view(buf.GetString(), buf.GetSize())) + "\n";
  return r;
}

Response json_response(std::string body) {
  Response r;
  r.body = std::move(body);
  return r;
}

Response store_unavailable(const Error& e) {
  Response r = error_response(503, "cannot read the store now; retry later");
  r.retry_after_s = 1;
  r.log = "api: " + e.message;
  return r;
}

Response readback_failed(const Error& e) {
  Response r = error_response(500, "cannot read the events back from the archive: " + e.message);
  r.log = "api: " + e.message;
  return r;
}

Status Params::only(std::initializer_list<std::string_view> known) const {
  for (std::size_t i = 0; i < query_.size(); ++i) {
    const std::string& name = query_[i].first;
    bool ok = false;
    for (auto k : known) ok = ok || name == k;
    if (!ok) return make_error(ErrorCode::kInvalidArgument, "unknown parameter '" + name + "'");
    for (std::size_t j = 0; j < i; ++j)
      if (query_[j].first == name)
        return make_error(ErrorCode::kInvalidArgument, "parameter '" + name + "' given twice");
  }
  return Ok{};
}

std::optional<std::string_view> Params::get(std::string_view name) const {
  for (const auto& [k, v] : query_)
    if (k == name) return std::string_view(v);
  return std::nullopt;
}

Result<std::optional<int64_t>> Params::integer(std::string_view name, int64_t min, int64_t max) const {
  const auto text = get(name);
  if (!text) return std::optional<int64_t>();
  int64_t v = 0;
  const auto [p, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
  if (ec != std::errc() || p != text->data() + text->size() || v < min || v > max)
    return make_error(ErrorCode::kInvalidArgument, std::string(name) + " is an integer from " + std::to_string(min) +
                                                       " to " + std::to_string(max) + ", not '" + std::string(*text) +
                                                       "'");
  return std::optional(v);
}

Result<std::size_t> Params::page_limit(std::size_t fallback, std::size_t max) const {
  auto n = integer("limit", 1, static_cast<int64_t>(max));
  if (!n) return n.error();
  return *n ? static_cast<std::size_t>(**n) : fallback;
}

Result<std::optional<uint64_t>> Params::time(std::string_view name, uint64_t now_ns) const {
  const auto text = get(name);
  if (!text) return std::optional<uint64_t>();
  auto ns = view::parse_since(*text, now_ns);
  if (!ns) return make_error(ErrorCode::kInvalidArgument, std::string(name) + ": " + ns.error().message);
  return std::optional(*ns);
}

Result<std::optional<bool>> Params::flag(std::string_view name) const {
  const auto text = get(name);
  if (!text) return std::optional<bool>();
  if (*text != "1" && *text != "0") return make_error(ErrorCode::kInvalidArgument, std::string(name) + " is 1 or 0");
  return std::optional(*text == "1");
}

Result<std::pair<uint64_t, uint64_t>> Params::window(uint64_t now_ns) const {
  auto since = time("since", now_ns);
  if (!since) return since.error();
  auto until = time("until", now_ns);
  if (!until) return until.error();
  return std::pair(since->value_or(0), until->value_or(UINT64_MAX));
}

Result<std::optional<std::vector<int64_t>>> Params::after(std::size_t parts) const {
  const auto text = get("after");
  if (!text) return std::optional<std::vector<int64_t>>();
  auto c = parse_cursor(*text, parts);
  if (!c) return c.error();
  return std::optional(std::move(*c));
}

Result<std::string> Params::after_text() const {
  const auto text = get("after");
  if (!text) return std::string();
  return parse_text_cursor(*text);
}

}  // namespace bt::collector::api

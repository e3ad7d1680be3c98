// Receivers' answers; see answers.h.
#include "collector/output/answers.h"

#include <google/protobuf/util/json_util.h>
#include <rapidjson/document.h>

#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"

namespace bt::collector::output {

namespace {
bool parse_object(std::string_view body, rapidjson::Document* d) {
  d->Parse(body.data(), body.size());
  return !d->HasParseError() && d->IsObject();
}
}  // namespace

HecAnswer parse_hec_answer(std::string_view body) {
  HecAnswer a;
  rapidjson::Document d;
  if (!parse_object(body, &d)) return a;
  a.parsed = true;
  if (d.HasMember("code") && d["code"].IsInt()) a.code = d["code"].GetInt();
  if (d.HasMember("text") && d["text"].IsString()) a.text.assign(d["text"].GetString(), d["text"].GetStringLength());
  if (d.HasMember("ackId") && d["ackId"].IsUint64()) {
    a.has_ack = true;
    a.ack_id = d["ackId"].GetUint64();
  }
  return a;
}

bool hec_acked(std::string_view body, uint64_t ack_id) {
  rapidjson::Document d;
  if (!parse_object(body, &d) || !d.HasMember("acks") || !d["acks"].IsObject()) return false;
  const rapidjson::Value& acks = d["acks"];
  const std::string key = std::to_string(ack_id);
  if (!acks.HasMember(key.c_str())) return false;
  const rapidjson::Value& v = acks[key.c_str()];
  return v.IsBool() && v.GetBool();
}

OtlpAnswer parse_otlp_answer(std::string_view body, bool json) {
  namespace pb = opentelemetry::proto::collector::logs::v1;
  OtlpAnswer a;
  if (body.empty()) return a;
  pb::ExportLogsServiceResponse response;
  bool parsed;
  if (json) {
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = true;
    parsed = google::protobuf::util::JsonStringToMessage(std::string(body), &response, options).ok();
  } else {
    parsed = response.ParseFromArray(body.data(), static_cast<int>(body.size()));
  }
  if (!parsed || !response.has_partial_success()) return a;
  a.rejected = response.partial_success().rejected_log_records();
  a.message = response.partial_success().error_message();
  return a;
}

}  // namespace bt::collector::output

// DSSE envelopes; see dsse.h.
#include "collector/evidence/dsse.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <sodium.h>

#include "common/batch/batch.h"

namespace bt::collector::evidence {

namespace {

std::string base64(std::string_view bytes) { return crypto::to_base64(crypto::as_bytes(bytes)); }

// DSSE lets the producer pick the standard or the URL-safe alphabet, with
// or without padding; the first variant that decodes the whole text wins.
Result<std::string> unbase64(std::string_view text, const char* what) {
  std::string out(text.size() / 4 * 3 + 3, '\0');
  for (int variant : {sodium_base64_VARIANT_ORIGINAL, sodium_base64_VARIANT_ORIGINAL_NO_PADDING,
                      sodium_base64_VARIANT_URLSAFE, sodium_base64_VARIANT_URLSAFE_NO_PADDING}) {
    std::size_t len = 0;
    const char* end = nullptr;
    if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(), text.size(), nullptr,
                          &len, &end, variant) == 0 &&
        end == text.data() + text.size()) {
      out.resize(len);
      return out;
    }
  }
  return make_error(ErrorCode::kMalformed, std::string("envelope: ") + what + " is not base64");
}

std::string_view string_of(const rapidjson::Value& v) { return {v.GetString(), v.GetStringLength()}; }

const rapidjson::Value* member(const rapidjson::Value& object, const char* name) {
  auto it = object.FindMember(name);
  return it == object.MemberEnd() ? nullptr : &it->value;
}

Result<EnvelopeSignature> parse_signature(const rapidjson::Value& v) {
  if (!v.IsObject()) return make_error(ErrorCode::kMalformed, "envelope: a signature is not an object");
  const auto* sig = member(v, "sig");
  if (!sig || !sig->IsString()) return make_error(ErrorCode::kMalformed, "envelope: a signature has no \"sig\" string");
  const auto* keyid = member(v, "keyid");
  if (keyid && !keyid->IsString()) return make_error(ErrorCode::kMalformed, "envelope: a \"keyid\" is not a string");
  auto raw = unbase64(string_of(*sig), "a \"sig\"");
  if (!raw) return raw.error();
  return EnvelopeSignature{keyid ? std::string(string_of(*keyid)) : std::string(), std::move(*raw)};
}

}  // namespace

std::string pae(std::string_view type, std::string_view body) {
  std::string out;
  out.reserve(32 + type.size() + body.size());
  out.append("DSSEv1 ").append(std::to_string(type.size())).append(" ").append(type);
  out.append(" ").append(std::to_string(body.size())).append(" ").append(body);
  return out;
}

std::string to_json(const Envelope& e) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  const std::string payload = base64(e.payload);
  w.StartObject();
  w.Key("payloadType");
  w.String(e.payload_type.data(), static_cast<rapidjson::SizeType>(e.payload_type.size()));
  w.Key("payload");
  w.String(payload.data(), static_cast<rapidjson::SizeType>(payload.size()));
  w.Key("signatures");
  w.StartArray();
  for (const auto& s : e.signatures) {
    const std::string sig = base64(s.sig);
    w.StartObject();
    w.Key("keyid");
    w.String(s.keyid.data(), static_cast<rapidjson::SizeType>(s.keyid.size()));
    w.Key("sig");
    w.String(sig.data(), static_cast<rapidjson::SizeType>(sig.size()));
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

Result<Envelope> parse_envelope(std::string_view json) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) return make_error(ErrorCode::kMalformed, "envelope: not a JSON object");
  const auto* type = member(doc, "payloadType");
  const auto* payload = member(doc, "payload");
  const auto* signatures = member(doc, "signatures");
  if (!type || !type->IsString() || !payload || !payload->IsString() || !signatures || !signatures->IsArray())
    return make_error(ErrorCode::kMalformed,
                      "envelope: needs \"payloadType\" and \"payload\" strings and a \"signatures\" array");
  Envelope e;
  e.payload_type = string_of(*type);
  auto raw = unbase64(string_of(*payload), "\"payload\"");
  if (!raw) return raw.error();
  e.payload = std::move(*raw);
  for (const auto& s : signatures->GetArray()) {
    auto sig = parse_signature(s);
    if (!sig) return sig.error();
    e.signatures.push_back(std::move(*sig));
  }
  if (e.signatures.empty()) return make_error(ErrorCode::kMalformed, "envelope: no signature");
  return e;
}

Envelope sign(std::string_view type, std::string payload, const crypto::KeyPair& key) {
  Envelope e;
  e.payload_type = type;
  e.payload = std::move(payload);
  const crypto::Signature sig = crypto::sign(key, crypto::as_bytes(pae(e.payload_type, e.payload)));
  e.signatures.push_back({crypto::to_hex(crypto::key_id(key.public_key)),
                          std::string(reinterpret_cast<const char*>(sig.data()), sig.size())});
  return e;
}

bool verify(const Envelope& e, const crypto::PublicKey& key) {
  const std::string keyid = crypto::to_hex(crypto::key_id(key));
  const std::string message = pae(e.payload_type, e.payload);
  for (const auto& s : e.signatures) {
    if ((!s.keyid.empty() && s.keyid != keyid) || s.sig.size() != std::tuple_size_v<crypto::Signature>) continue;
    crypto::Signature sig{};
    std::copy(s.sig.begin(), s.sig.end(), sig.begin());
    if (crypto::verify(key, crypto::as_bytes(message), sig)) return true;
  }
  return false;
}

Result<Envelope> from_batch(std::span<const uint8_t> batch) {
  auto header = batch::parse_header(batch);
  if (!header) return header.error();
  const std::size_t body = batch.size() - batch::kSignatureSize;
  Envelope e;
  e.payload_type = batch::kPayloadType;
  e.payload.assign(reinterpret_cast<const char*>(batch.data()), body);
  e.signatures.push_back({crypto::to_hex(header->key_id),
                          std::string(reinterpret_cast<const char*>(batch.data() + body), batch::kSignatureSize)});
  return e;
}

Result<std::string> to_batch(const Envelope& e) {
  if (e.payload_type != batch::kPayloadType)
    return make_error(ErrorCode::kMalformed, "envelope: payloadType is not " + std::string(batch::kPayloadType));
  if (e.signatures.size() != 1 || e.signatures[0].sig.size() != batch::kSignatureSize)
    return make_error(ErrorCode::kMalformed, "envelope: a batch has exactly one signature of 64 bytes");
  return e.payload + e.signatures[0].sig;
}

}  // namespace bt::collector::evidence

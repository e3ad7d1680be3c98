#include "agent/capture/dns/dns.h"

#include <arpa/inet.h>

namespace bt::agent::dns {

namespace {

constexpr std::size_t kHeader = 12;
constexpr int kMaxPointers = 16;  // compression jumps per name: loops are cut here

class Reader {
 public:
  explicit Reader(std::span<const uint8_t> b) : b_(b) {}
  bool u16(std::size_t at, uint16_t* v) const {
    if (at + 2 > b_.size()) return false;
    *v = static_cast<uint16_t>(b_[at] << 8 | b_[at + 1]);
    return true;
  }
  // Reads a possibly compressed name at `*at`; advances `*at` past it.
  bool name(std::size_t* at, std::string* out) const {
    out->clear();
    std::size_t pos = *at;
    bool jumped = false;
    for (int jumps = 0;;) {
      if (pos >= b_.size()) return false;
      const uint8_t len = b_[pos];
      if ((len & 0xC0) == 0xC0) {
        if (pos + 1 >= b_.size() || ++jumps > kMaxPointers) return false;
        if (!jumped) *at = pos + 2;
        jumped = true;
        pos = static_cast<std::size_t>((len & 0x3F) << 8 | b_[pos + 1]);
        continue;
      }
      if (len & 0xC0) return false;  // reserved label types
      if (len == 0) {
        if (!jumped) *at = pos + 1;
        return true;
      }
      if (pos + 1 + len > b_.size() || out->size() + len + 1 > 255) return false;
      if (!out->empty()) out->push_back('.');
      for (std::size_t i = 0; i < len; ++i) {
        char c = static_cast<char>(b_[pos + 1 + i]);
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        out->push_back(c);
      }
      pos += 1 + len;
    }
  }
  std::span<const uint8_t> bytes() const { return b_; }

 private:
  std::span<const uint8_t> b_;
};

const char* rcode_name(int rcode) {
  static const char* const names[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"};
  return rcode >= 0 && rcode < 6 ? names[rcode] : nullptr;
}

// The printable form of one answer's data, or empty for types not kept.
std::string rdata_text(const Reader& r, uint16_t type, std::size_t at, uint16_t len) {
  const auto b = r.bytes();
  char buf[INET6_ADDRSTRLEN] = {0};
  if (type == 1 && len == 4) return ::inet_ntop(AF_INET, b.data() + at, buf, sizeof buf) ? buf : "";
  if (type == 28 && len == 16) return ::inet_ntop(AF_INET6, b.data() + at, buf, sizeof buf) ? buf : "";
  std::string name;
  std::size_t pos = at;
  if (type == 5 || type == 12 || type == 2) return r.name(&pos, &name) ? name : "";
  if (type == 15 && len > 2) {
    pos = at + 2;
    return r.name(&pos, &name) ? name : "";
  }
  return {};
}

}  // namespace

std::string type_name(uint16_t type) {
  switch (type) {
    case 1:
      return "A";
    case 2:
      return "NS";
    case 5:
      return "CNAME";
    case 6:
      return "SOA";
    case 12:
      return "PTR";
    case 15:
      return "MX";
    case 16:
      return "TXT";
    case 28:
      return "AAAA";
    case 33:
      return "SRV";
    case 64:
      return "SVCB";
    case 65:
      return "HTTPS";
    default:
      return "TYPE" + std::to_string(type);
  }
}

std::optional<Message> parse(std::span<const uint8_t> bytes) {
  Reader r(bytes);
  uint16_t id, flags, qd, an;
  if (!r.u16(0, &id) || !r.u16(2, &flags) || !r.u16(4, &qd) || !r.u16(6, &an)) return std::nullopt;
  if (qd == 0 || (flags >> 11 & 0xF) != 0) return std::nullopt;  // a standard query needs a question
  Message m;
  m.id = id;
  m.response = flags & 0x8000;
  std::size_t at = kHeader;
  uint16_t qtype, qclass;
  if (!r.name(&at, &m.name) || !r.u16(at, &qtype) || !r.u16(at + 2, &qclass)) return std::nullopt;
  at += 4;
  m.qtype = type_name(qtype);
  if (!m.response) return m;
  const char* rc = rcode_name(flags & 0xF);
  m.rcode = rc ? rc : "RCODE" + std::to_string(flags & 0xF);
  for (uint16_t q = 1; q < qd; ++q) {  // further questions: skipped
    std::string skip;
    if (!r.name(&at, &skip)) return m;
    at += 4;
  }
  for (uint16_t i = 0; i < an && m.answers.size() < 64; ++i) {
    std::string owner;
    uint16_t type, cls, len, ttl_hi, ttl_lo;
    if (!r.name(&at, &owner) || !r.u16(at, &type) || !r.u16(at + 2, &cls) || !r.u16(at + 4, &ttl_hi) ||
        !r.u16(at + 6, &ttl_lo) || !r.u16(at + 8, &len))
      break;
    at += 10;
    if (at + len > bytes.size()) break;
    std::string text = rdata_text(r, type, at, len);
    if (!text.empty()) {
      if (type == 1 || type == 28) m.addresses.push_back(text);
      m.answers.push_back(std::move(text));
    }
    at += len;
  }
  return m;
}

}  // namespace bt::agent::dns

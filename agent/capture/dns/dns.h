// DNS messages as a build's resolver sends and receives them (RFC 1035):
// enough to name the question and read the answers' addresses and names.
// Input is untrusted bytes from a traced process: every read is bounds
// checked and compression loops are cut.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace bt::agent::dns {

struct Message {
  uint16_t id = 0;
  bool response = false;
  std::string rcode;                   // NOERROR, NXDOMAIN, ... (responses)
  std::string name;                    // the first question, lowercase, without the trailing dot
  std::string qtype;                   // A, AAAA, CNAME, ... or TYPE<n>
  std::vector<std::string> answers;    // A/AAAA addresses, CNAME/PTR/NS/MX names, TXT text
  std::vector<std::string> addresses;  // the A/AAAA answers only
};

// Parses a DNS message (UDP payload); nullopt when it is not one.
std::optional<Message> parse(std::span<const uint8_t> bytes);

std::string type_name(uint16_t type);

}  // namespace bt::agent::dns

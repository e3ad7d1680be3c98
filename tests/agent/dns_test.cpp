#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "agent/capture/dns/dns.h"

using namespace bt::agent;

namespace {

std::vector<uint8_t> name(const std::string& n) {
  std::vector<uint8_t> out;
  std::size_t pos = 0;
  while (pos <= n.size()) {
    std::size_t dot = n.find('.', pos);
    if (dot == std::string::npos) dot = n.size();
    out.push_back(static_cast<uint8_t>(dot - pos));
    out.insert(out.end(), n.begin() + static_cast<long>(pos), n.begin() + static_cast<long>(dot));
    pos = dot + 1;
  }
  out.push_back(0);
  return out;
}

std::vector<uint8_t> header(uint16_t id, uint16_t flags, uint16_t qd, uint16_t an) {
  return {static_cast<uint8_t>(id >> 8),
          static_cast<uint8_t>(id),
          static_cast<uint8_t>(flags >> 8),
          static_cast<uint8_t>(flags),
          0,
          static_cast<uint8_t>(qd),
          0,
          static_cast<uint8_t>(an),
          0,
          0,
          0,
          0};
}

void append(std::vector<uint8_t>& to, const std::vector<uint8_t>& what) {
  to.insert(to.end(), what.begin(), what.end());
}

}  // namespace

TEST_CASE("a question and a compressed answer with CNAME and AAAA") {
  auto q = header(0x1234, 0x0100, 1, 0);
  append(q, name("Pypi.ORG"));
  append(q, {0, 28, 0, 1});
  auto m = dns::parse(q);
  REQUIRE(m);
  CHECK_FALSE(m->response);
  CHECK(m->id == 0x1234);
  CHECK(m->name == "pypi.org");
  CHECK(m->qtype == "AAAA");

  auto r = header(0x1234, 0x8180, 1, 2);
  append(r, name("www.pypi.org"));
  append(r, {0, 28, 0, 1});
  append(r, {0xC0, 0x0C, 0, 5, 0, 1, 0, 0, 0, 60, 0, 2, 0xC0, 0x10});  // CNAME -> pypi.org
  append(r, {0xC0, 0x10, 0, 28, 0, 1, 0, 0, 0, 60, 0, 16, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
  m = dns::parse(r);
  REQUIRE(m);
  CHECK(m->response);
  CHECK(m->rcode == "NOERROR");
  CHECK(m->answers == std::vector<std::string>{"pypi.org", "2001:db8::1"});
  CHECK(m->addresses == std::vector<std::string>{"2001:db8::1"});
}

TEST_CASE("NXDOMAIN, unknown types and bad input") {
  auto r = header(1, 0x8183, 1, 0);
  append(r, name("nope.example.test"));
  append(r, {0, 99, 0, 1});
  auto m = dns::parse(r);
  REQUIRE(m);
  CHECK(m->rcode == "NXDOMAIN");
  CHECK(m->qtype == "TYPE99");

  // A name pointing at itself: the loop is cut, nothing is returned.
  auto loop = header(2, 0x8180, 1, 0);
  append(loop, {0xC0, 0x0C, 0, 1, 0, 1});
  CHECK_FALSE(dns::parse(loop));
  // Truncated anywhere: never read past the end.
  auto q = header(3, 0x0100, 1, 0);
  append(q, name("a.example.test"));
  append(q, {0, 1, 0, 1});
  for (std::size_t n = 0; n < q.size(); ++n) CHECK_FALSE(dns::parse(std::span(q.data(), n)));
  // Not a standard query (opcode 2) or no question.
  CHECK_FALSE(dns::parse(header(4, 0x1000, 1, 0)));
  CHECK_FALSE(dns::parse(header(5, 0x0100, 0, 0)));
}

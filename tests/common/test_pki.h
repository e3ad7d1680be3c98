// A throwaway PKI made with the openssl CLI for TLS tests: a CA, a server
// certificate for 127.0.0.1 (and one that expired a day before it began),
// a client certificate from the same CA, another CA, and a client
// certificate from that other CA. Fake keys, made per test.
#pragma once

#include <doctest/doctest.h>

#include <string>

#include "common/fs.h"
#include "tests/common/test_util.h"

namespace bt::testing {

struct TestPki {
  std::string dir = make_temp_dir("pki");
  TestPki() {
    const std::string script = "set -e; cd " + dir + R"(
mk() { openssl ecparam -name prime256v1 -genkey -noout -out $1.key; }
mk ca; openssl req -x509 -new -key ca.key -subj /CN=bt-test-ca -days 2 -out ca.pem
mk other; openssl req -x509 -new -key other.key -subj /CN=bt-other-ca -days 2 -out other.pem
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > server.ext
printf 'extendedKeyUsage=clientAuth\n' > client.ext
mk server; openssl req -new -key server.key -subj /CN=127.0.0.1 -out server.csr
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile server.ext -out server.pem
mk client; openssl req -new -key client.key -subj /CN=agent -out client.csr
openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile client.ext -out client.pem
mk expired; openssl req -new -key expired.key -subj /CN=127.0.0.1 -out expired.csr
openssl x509 -req -in expired.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days -1 -extfile server.ext -out expired.pem
mk rogue; openssl req -new -key rogue.key -subj /CN=rogue -out rogue.csr
openssl x509 -req -in rogue.csr -CA other.pem -CAkey other.key -CAcreateserial -days 2 -extfile client.ext -out rogue.pem
)";
    REQUIRE(fs::write_new_file(dir + "/make.sh", script, 0600).ok());
    auto r = run_command("bash " + dir + "/make.sh");
    REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  }
  std::string f(const char* name) const { return dir + "/" + name; }
};

}  // namespace bt::testing

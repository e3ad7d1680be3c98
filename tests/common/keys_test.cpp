#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "common/crypto/keys.h"
#include "common/fs.h"
#include "tests/common/test_util.h"

using namespace bt;

namespace {
std::string temp_dir() {
  char tmpl[] = "/tmp/bt-keys-XXXXXX";
  return ::mkdtemp(tmpl);
}
}  // namespace

TEST_CASE("PEM keys round-trip and sign/verify") {
  auto kp = crypto::generate_key_pair().value();
  auto pub = crypto::parse_public_key_pem(crypto::public_key_pem(kp.public_key));
  REQUIRE(pub.ok());
  CHECK(*pub == kp.public_key);
  auto priv = crypto::parse_private_key_pem(crypto::private_key_pem(kp));
  REQUIRE(priv.ok());
  CHECK(priv->public_key == kp.public_key);
  const std::string msg = "hello";
  auto sig = crypto::sign(*priv, crypto::as_bytes(msg));
  CHECK(crypto::verify(kp.public_key, crypto::as_bytes(msg), sig));
  sig[0] ^= 1;
  CHECK_FALSE(crypto::verify(kp.public_key, crypto::as_bytes(msg), sig));
}

TEST_CASE("malformed PEM is refused with a reason") {
  CHECK(crypto::parse_public_key_pem("nothing").error().message.find("BEGIN PUBLIC KEY") != std::string::npos);
  CHECK(crypto::parse_public_key_pem("-----BEGIN PUBLIC KEY-----\n!!!\n-----END PUBLIC KEY-----\n")
            .error()
            .message.find("base64") != std::string::npos);
  CHECK(crypto::parse_public_key_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
            .error()
            .message.find("not an Ed25519") != std::string::npos);
}

TEST_CASE("write_key_pair writes 0600 private key and refuses to overwrite") {
  const std::string dir = temp_dir() + "/keys";
  auto kp = crypto::generate_key_pair().value();
  REQUIRE(crypto::write_key_pair(dir, kp).ok());
  struct stat st {};
  REQUIRE(::stat((dir + "/agent.key").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  auto loaded = crypto::load_private_key(dir + "/agent.key");
  REQUIRE(loaded.ok());
  CHECK(loaded->public_key == kp.public_key);
  CHECK(crypto::load_public_key(dir + "/agent.pub").value() == kp.public_key);
  auto again = crypto::write_key_pair(dir, crypto::generate_key_pair().value());
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == ErrorCode::kExists);
  CHECK(crypto::load_public_key(dir + "/agent.pub").value() == kp.public_key);
}

TEST_CASE("key ids are the first 8 bytes of SHA-256 of the raw key") {
  auto kp = testing::test_key();
  auto d = crypto::sha256(kp.public_key);
  auto id = crypto::key_id(kp.public_key);
  CHECK(std::equal(id.begin(), id.end(), d.begin()));
  // SHA-256 known answer ("abc", FIPS 180-2).
  CHECK(crypto::to_hex(crypto::sha256(crypto::as_bytes("abc"))) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

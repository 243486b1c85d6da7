#include "common/kafka/sasl.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status/status_macros.h"

namespace kgw::kafka {
namespace {

// Kafka's SCRAM accepts at least this many iterations (RFC 7677 suggests 4096).
constexpr int kMinScramIterations = 4096;

class Plain : public SaslMechanism {
 public:
  explicit Plain(SaslCredentials c) : c_(std::move(c)) {}
  absl::StatusOr<std::string> Start() override {
    // [authzid] NUL authcid NUL passwd (RFC 4616), no authorization identity.
    return absl::StrCat(absl::string_view("\0", 1), c_.username, absl::string_view("\0", 1),
                        c_.password);
  }
  absl::StatusOr<std::optional<std::string>> Next(absl::string_view) override {
    return std::nullopt;
  }

 private:
  SaslCredentials c_;
};

class Scram : public SaslMechanism {
 public:
  Scram(SaslCredentials c, const EVP_MD* digest, std::string nonce)
      : c_(std::move(c)), digest_(digest), client_nonce_(std::move(nonce)) {}

  absl::StatusOr<std::string> Start() override {
    client_first_bare_ = absl::StrCat("n=", EscapeName(c_.username), ",r=", client_nonce_);
    step_ = 1;
    return absl::StrCat("n,,", client_first_bare_);  // no channel binding, no authzid
  }

  absl::StatusOr<std::optional<std::string>> Next(absl::string_view server) override {
    if (step_ == 1) {
      step_ = 2;
      return ClientFinal(server);
    }
    if (step_ == 2) {
      step_ = 3;
      KGW_RETURN_IF_ERROR(VerifyServerFinal(server));
      return std::nullopt;
    }
    return absl::FailedPreconditionError("SCRAM exchange already complete");
  }

 private:
  static std::string EscapeName(absl::string_view name) {
    std::string out;
    for (char ch : name) {
      if (ch == '=') {
        out += "=3D";
      } else if (ch == ',') {
        out += "=2C";
      } else {
        out += ch;
      }
    }
    return out;
  }

  std::string Hmac(absl::string_view key, absl::string_view data) const {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(digest_, key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
    return std::string(reinterpret_cast<char*>(out), len);
  }

  std::string Hash(absl::string_view data) const {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(data.data(), data.size(), out, &len, digest_, nullptr);
    return std::string(reinterpret_cast<char*>(out), len);
  }

  absl::StatusOr<std::optional<std::string>> ClientFinal(absl::string_view server_first) {
    std::string nonce;
    std::string salt;
    int iterations = 0;
    for (absl::string_view attr : absl::StrSplit(server_first, ',')) {
      if (absl::ConsumePrefix(&attr, "r=")) {
        nonce = std::string(attr);
      } else if (absl::ConsumePrefix(&attr, "s=")) {
        if (!absl::Base64Unescape(attr, &salt)) {
          return absl::InvalidArgumentError("SCRAM server-first-message: bad salt");
        }
      } else if (absl::ConsumePrefix(&attr, "i=")) {
        if (!absl::SimpleAtoi(attr, &iterations)) iterations = 0;
      } else if (absl::ConsumePrefix(&attr, "e=")) {
        return absl::PermissionDeniedError(absl::StrCat("SCRAM: server error ", attr));
      }
    }
    if (!absl::StartsWith(nonce, client_nonce_) || nonce.size() == client_nonce_.size()) {
      return absl::PermissionDeniedError("SCRAM server-first-message: nonce does not extend ours");
    }
    if (salt.empty() || iterations < kMinScramIterations) {
      return absl::InvalidArgumentError(absl::StrCat(
          "SCRAM server-first-message: need a salt and at least ", kMinScramIterations,
          " iterations, got ", iterations));
    }
    salted_password_.resize(EVP_MD_size(digest_));
    PKCS5_PBKDF2_HMAC(c_.password.data(), static_cast<int>(c_.password.size()),
                      reinterpret_cast<const unsigned char*>(salt.data()),
                      static_cast<int>(salt.size()), iterations, digest_,
                      static_cast<int>(salted_password_.size()),
                      reinterpret_cast<unsigned char*>(salted_password_.data()));
    const std::string without_proof = absl::StrCat("c=biws,r=", nonce);  // biws = base64("n,,")
    auth_message_ = absl::StrCat(client_first_bare_, ",", server_first, ",", without_proof);
    const std::string client_key = Hmac(salted_password_, "Client Key");
    const std::string signature = Hmac(Hash(client_key), auth_message_);
    std::string proof = client_key;
    for (size_t i = 0; i < proof.size(); ++i) proof[i] ^= signature[i];
    return absl::StrCat(without_proof, ",p=", absl::Base64Escape(proof));
  }

  absl::Status VerifyServerFinal(absl::string_view server_final) {
    absl::string_view attr = server_final;
    if (absl::ConsumePrefix(&attr, "e=")) {
      return absl::PermissionDeniedError(absl::StrCat("SCRAM: server error ", attr));
    }
    std::string signature;
    if (!absl::ConsumePrefix(&attr, "v=") || !absl::Base64Unescape(attr, &signature)) {
      return absl::InvalidArgumentError("SCRAM server-final-message: no verifier");
    }
    if (signature != Hmac(Hmac(salted_password_, "Server Key"), auth_message_)) {
      return absl::PermissionDeniedError("SCRAM: the server's signature does not verify");
    }
    return absl::OkStatus();
  }

  SaslCredentials c_;
  const EVP_MD* digest_;
  std::string client_nonce_;
  std::string client_first_bare_;
  std::string salted_password_;
  std::string auth_message_;
  int step_ = 0;
};

const EVP_MD* ScramDigest(absl::string_view mechanism) {
  if (mechanism == "SCRAM-SHA-256") return EVP_sha256();
  if (mechanism == "SCRAM-SHA-512") return EVP_sha512();
  return nullptr;
}

std::string RandomNonce() {
  unsigned char bytes[24];
  RAND_bytes(bytes, sizeof(bytes));
  // Printable and free of ',' as SCRAM requires.
  return absl::WebSafeBase64Escape(
      absl::string_view(reinterpret_cast<const char*>(bytes), sizeof(bytes)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<SaslMechanism>> NewSaslMechanism(const SaslCredentials& c) {
  if (c.mechanism == "PLAIN") return std::make_unique<Plain>(c);
  if (const EVP_MD* digest = ScramDigest(c.mechanism)) {
    return std::make_unique<Scram>(c, digest, RandomNonce());
  }
  return absl::InvalidArgumentError(absl::StrCat("unsupported SASL mechanism ", c.mechanism));
}

std::unique_ptr<SaslMechanism> NewScramForTest(const SaslCredentials& c, std::string nonce) {
  return std::make_unique<Scram>(c, ScramDigest(c.mechanism), std::move(nonce));
}

}  // namespace kgw::kafka

#include "common/audit/audit_event.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace kgw::audit {
namespace {

constexpr char kHex[] = "0123456789abcdef";
constexpr absl::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Length of the well-formed UTF-8 sequence starting at s[i], or 0 with
// `*subpart` set to the length of its maximal invalid subpart (at least 1),
// following the Unicode standard's table of well-formed byte sequences.
size_t Utf8SequenceLength(absl::string_view s, size_t i, size_t* subpart) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char lead = byte(i);
  size_t len = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    len = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    len = 3;
    if (lead == 0xE0) lo = 0xA0;  // no overlong forms
    if (lead == 0xED) hi = 0x9F;  // no surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    len = 4;
    if (lead == 0xF0) lo = 0x90;  // no overlong forms
    if (lead == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    *subpart = 1;  // a continuation byte, C0, C1 or F5..FF
    return 0;
  }
  size_t n = 1;
  for (; n < len && i + n < s.size(); ++n) {
    const unsigned char b = byte(i + n);
    if (n == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) break;
  }
  if (n == len) return len;
  *subpart = n;
  return 0;
}

void AppendQuoted(std::string& out, absl::string_view s) {
  out.push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c == '"' || c == '\\') {
        out.push_back('\\');
        out.push_back(static_cast<char>(c));
      } else if (c < 0x20 || c == 0x7F) {
        out.append("\\u00");
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0xF]);
      } else {
        out.push_back(static_cast<char>(c));
      }
      ++i;
      continue;
    }
    size_t subpart = 0;
    if (const size_t len = Utf8SequenceLength(s, i, &subpart); len > 0) {
      out.append(s.data() + i, len);
      i += len;
    } else {
      out.append(kReplacement.data(), kReplacement.size());
      i += subpart;
    }
  }
  out.push_back('"');
}

// Builds one compact JSON object, keys in the order they are added.
class JsonObject {
 public:
  JsonObject& String(absl::string_view key, absl::string_view value) {
    Key(key);
    AppendQuoted(out_, value);
    return *this;
  }
  JsonObject& StringIfNotEmpty(absl::string_view key, absl::string_view value) {
    return value.empty() ? *this : String(key, value);
  }
  JsonObject& Int(absl::string_view key, int64_t value) {
    Key(key);
    absl::StrAppend(&out_, value);
    return *this;
  }
  JsonObject& Uint(absl::string_view key, uint64_t value) {
    Key(key);
    absl::StrAppend(&out_, value);
    return *this;
  }
  JsonObject& Bool(absl::string_view key, bool value) {
    Key(key);
    out_.append(value ? "true" : "false");
    return *this;
  }
  std::string Finish() && {
    out_.push_back('}');
    return std::move(out_);
  }

 private:
  void Key(absl::string_view key) {
    if (out_.size() > 1) out_.push_back(',');
    AppendQuoted(out_, key);
    out_.push_back(':');
  }

  std::string out_ = "{";
};

struct TypeNames {
  absl::string_view type;
  absl::string_view event;  // empty for AUTHENTICATION
};

TypeNames NamesOf(EventType type) {
  switch (type) {
    case EventType::kConnectionOpen:
      return {"CONNECTION", "OPEN"};
    case EventType::kConnectionClose:
      return {"CONNECTION", "CLOSE"};
    case EventType::kAuthentication:
      return {"AUTHENTICATION", ""};
  }
  return {"UNKNOWN", ""};  // a value cast from an integer outside the enum
}

}  // namespace

std::string JsonQuote(absl::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  AppendQuoted(out, s);
  return out;
}

std::string ToJsonLine(const AuditEvent& e) {
  const TypeNames names = NamesOf(e.type);
  JsonObject json;
  json.String("type", names.type)
      .StringIfNotEmpty("event", names.event)
      .String("time", absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", e.time, absl::UTCTimeZone()))
      .String("nodeId", e.node_id)
      .Int("listenerPort", e.listener_port)
      .Int("brokerId", e.broker_id)
      .String("clientAddress", e.client_address)
      .StringIfNotEmpty("proxySourceAddress", e.proxy_source_address)
      .StringIfNotEmpty("proxyDestinationAddress", e.proxy_destination_address)
      .StringIfNotEmpty("tlsVersion", e.tls_version)
      .StringIfNotEmpty("sni", e.sni)
      .StringIfNotEmpty("clientCertificateSubject", e.client_certificate_subject)
      .StringIfNotEmpty("saslMechanism", e.sasl_mechanism);
  switch (e.type) {
    case EventType::kConnectionOpen:
      break;
    case EventType::kConnectionClose:
      json.Uint("bytesFromClient", e.bytes_from_client)
          .Uint("bytesToClient", e.bytes_to_client)
          .Int("durationMs", absl::ToInt64Milliseconds(e.duration))
          .String("closeReason", e.close_reason);
      break;
    case EventType::kAuthentication:
      json.StringIfNotEmpty("principal", e.principal)
          .Bool("success", e.success)
          .Int("errorCode", e.error_code)
          .StringIfNotEmpty("errorMessage", e.error_message);
      break;
  }
  return std::move(json).Finish();
}

}  // namespace kgw::audit

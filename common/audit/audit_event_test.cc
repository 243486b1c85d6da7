#include "common/audit/audit_event.h"

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kgw::audit {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;

// ---- A small strict JSON reader for flat objects, written for the tests ----

// Appends code point `cp` as UTF-8.
void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// True when `s` is well-formed UTF-8: decodes each sequence to its code
// point and checks it is the shortest form, not a surrogate and <= U+10FFFF.
bool IsValidUtf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    int extra = 0;
    uint32_t cp = 0;
    if (b < 0x80) {
      cp = b;
    } else if ((b & 0xE0) == 0xC0) {
      extra = 1;
      cp = b & 0x1F;
    } else if ((b & 0xF0) == 0xE0) {
      extra = 2;
      cp = b & 0x0F;
    } else if ((b & 0xF8) == 0xF0) {
      extra = 3;
      cp = b & 0x07;
    } else {
      return false;
    }
    if (i + extra >= s.size() && extra > 0) return false;  // truncated
    for (int k = 1; k <= extra; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += extra + 1;
  }
  return true;
}

struct JsonValue {
  enum Kind { kString, kNumber, kBool } kind;
  std::string text;  // decoded string, number literal, "true"/"false"
  bool operator==(const JsonValue&) const = default;
};

JsonValue Str(std::string s) { return {JsonValue::kString, std::move(s)}; }
JsonValue Num(int64_t n) { return {JsonValue::kNumber, absl::StrCat(n)}; }
JsonValue Bool(bool b) { return {JsonValue::kBool, b ? "true" : "false"}; }

void PrintTo(const JsonValue& v, std::ostream* os) {
  *os << (v.kind == JsonValue::kString   ? "string "
          : v.kind == JsonValue::kNumber ? "number "
                                         : "bool ")
      << v.text;
}

class Reader {
 public:
  explicit Reader(std::string s) : s_(std::move(s)) {}

  // The object's members in order; nullopt (with `error()`) when `s` is not
  // exactly one flat JSON object of strings, integers and booleans.
  std::optional<std::vector<std::pair<std::string, JsonValue>>> Object() {
    std::vector<std::pair<std::string, JsonValue>> members;
    if (!IsValidUtf8(s_)) return Failed("not UTF-8");
    if (!Eat('{')) return Failed("no {");
    if (!Eat('}')) {
      for (;;) {
        std::string key;
        if (!String(key)) return std::nullopt;
        if (!Eat(':')) return Failed("no :");
        JsonValue v;
        if (!Value(v)) return std::nullopt;
        members.emplace_back(std::move(key), std::move(v));
        if (Eat(',')) continue;
        if (Eat('}')) break;
        return Failed("no , or }");
      }
    }
    if (pos_ != s_.size()) return Failed("trailing bytes");
    return members;
  }

  const std::string& error() const { return error_; }

 private:
  bool Fail(absl::string_view what) {
    error_ = absl::StrCat(what, " at ", pos_);
    return false;
  }
  std::nullopt_t Failed(absl::string_view what) {
    Fail(what);
    return std::nullopt;
  }
  bool Eat(char c) {
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool Hex4(uint32_t& out) {
    if (pos_ + 4 > s_.size()) return false;
    out = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = s_[pos_++];
      out <<= 4;
      if (c >= '0' && c <= '9') {
        out |= c - '0';
      } else if (c >= 'a' && c <= 'f') {
        out |= c - 'a' + 10;
      } else if (c >= 'A' && c <= 'F') {
        out |= c - 'A' + 10;
      } else {
        return false;
      }
    }
    return true;
  }
  bool String(std::string& out) {
    if (!Eat('"')) return Fail("no string");
    while (pos_ < s_.size()) {
      const char c = s_[pos_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return Fail("raw control character");
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (pos_ >= s_.size()) break;
      const char e = s_[pos_++];
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out.push_back(e);
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'u': {
          uint32_t cp = 0;
          if (!Hex4(cp)) return Fail("bad \\u");
          if (cp >= 0xD800 && cp <= 0xDFFF) return Fail("surrogate escape");
          AppendUtf8(out, cp);
          break;
        }
        default:
          return Fail("bad escape");
      }
    }
    return Fail("unterminated string");
  }
  bool Value(JsonValue& v) {
    if (pos_ >= s_.size()) return Fail("no value");
    const char c = s_[pos_];
    if (c == '"') {
      v.kind = JsonValue::kString;
      return String(v.text);
    }
    for (const char* word : {"true", "false"}) {
      if (s_.compare(pos_, std::strlen(word), word) == 0) {
        v.kind = JsonValue::kBool;
        v.text = word;
        pos_ += std::strlen(word);
        return true;
      }
    }
    v.kind = JsonValue::kNumber;
    const size_t start = pos_;
    Eat('-');
    const size_t digits = pos_;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
    if (pos_ == digits) return Fail("bad value");
    if (s_[digits] == '0' && pos_ - digits > 1) return Fail("leading zero");
    v.text = s_.substr(start, pos_ - start);
    return true;
  }

  const std::string s_;
  size_t pos_ = 0;
  std::string error_;
};

std::vector<std::pair<std::string, JsonValue>> Parse(const std::string& line) {
  Reader reader(line);
  auto members = reader.Object();
  EXPECT_TRUE(members.has_value()) << reader.error() << " in " << line;
  return members.value_or(std::vector<std::pair<std::string, JsonValue>>{});
}

// Decodes a string literal produced by JsonQuote.
std::string Unquote(const std::string& quoted) {
  const std::string line = absl::StrCat("{\"k\":", quoted, "}");
  auto members = Parse(line);
  if (members.size() != 1) return "<not a string>";
  EXPECT_EQ(members[0].second.kind, JsonValue::kString);
  return members[0].second.text;
}

absl::Time At(int y, int mo, int d, int h, int mi, int s,
              absl::Duration sub = absl::ZeroDuration()) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s), absl::UTCTimeZone()) + sub;
}

AuditEvent Base(EventType type) {
  AuditEvent e;
  e.type = type;
  e.time = At(2025, 3, 4, 5, 6, 7, absl::Milliseconds(89));
  e.node_id = "agent-1";
  e.listener_port = 9092;
  e.broker_id = 2;
  e.client_address = "10.0.0.7:51234";
  return e;
}

// ---- Shape of each event type ----

TEST(ToJsonLineTest, OpenEventWithoutDetailsHasOnlyTheAlwaysPresentKeys) {
  EXPECT_EQ(ToJsonLine(Base(EventType::kConnectionOpen)),
            R"({"type":"CONNECTION","event":"OPEN","time":"2025-03-04T05:06:07.089Z",)"
            R"("nodeId":"agent-1","listenerPort":9092,"brokerId":2,)"
            R"("clientAddress":"10.0.0.7:51234"})");
}

TEST(ToJsonLineTest, OpenEventCarriesProxyTlsAndSaslDetailsInOrder) {
  AuditEvent e = Base(EventType::kConnectionOpen);
  e.broker_id = -1;
  e.proxy_source_address = "203.0.113.9:40000";
  e.proxy_destination_address = "198.51.100.1:9092";
  e.tls_version = "TLSv1.3";
  e.sni = "b2.kafka.example.com";
  e.client_certificate_subject = "CN=client,O=Example\\, Inc.";
  e.sasl_mechanism = "PLAIN";
  EXPECT_EQ(ToJsonLine(e),
            R"({"type":"CONNECTION","event":"OPEN","time":"2025-03-04T05:06:07.089Z",)"
            R"("nodeId":"agent-1","listenerPort":9092,"brokerId":-1,)"
            R"("clientAddress":"10.0.0.7:51234","proxySourceAddress":"203.0.113.9:40000",)"
            R"("proxyDestinationAddress":"198.51.100.1:9092","tlsVersion":"TLSv1.3",)"
            R"("sni":"b2.kafka.example.com",)"
            R"("clientCertificateSubject":"CN=client,O=Example\\, Inc.",)"
            R"("saslMechanism":"PLAIN"})");
}

TEST(ToJsonLineTest, OpenEventIgnoresCloseAndAuthenticationFields) {
  AuditEvent e = Base(EventType::kConnectionOpen);
  e.bytes_from_client = 5;
  e.close_reason = "client closed";
  e.principal = "alice";
  e.success = true;
  EXPECT_EQ(ToJsonLine(e), ToJsonLine(Base(EventType::kConnectionOpen)));
}

TEST(ToJsonLineTest, CloseEventCarriesCountersDurationAndReason) {
  AuditEvent e = Base(EventType::kConnectionClose);
  e.bytes_from_client = std::numeric_limits<uint64_t>::max();
  e.bytes_to_client = 12345;
  e.duration = absl::Milliseconds(61002) + absl::Microseconds(999);
  e.close_reason = "idle timeout";
  e.principal = "ignored";
  EXPECT_EQ(ToJsonLine(e),
            R"({"type":"CONNECTION","event":"CLOSE","time":"2025-03-04T05:06:07.089Z",)"
            R"("nodeId":"agent-1","listenerPort":9092,"brokerId":2,)"
            R"("clientAddress":"10.0.0.7:51234","bytesFromClient":18446744073709551615,)"
            R"("bytesToClient":12345,"durationMs":61002,"closeReason":"idle timeout"})");
}

TEST(ToJsonLineTest, CloseEventKeepsAnEmptyCloseReason) {
  auto members = Parse(ToJsonLine(Base(EventType::kConnectionClose)));
  ASSERT_FALSE(members.empty());
  EXPECT_THAT(members.back(), Pair("closeReason", Str("")));
}

TEST(ToJsonLineTest, SuccessfulAuthenticationEvent) {
  AuditEvent e = Base(EventType::kAuthentication);
  e.tls_version = "TLSv1.2";
  e.sasl_mechanism = "SCRAM-SHA-512";
  e.principal = "alice";
  e.success = true;
  e.bytes_to_client = 99;  // not part of an authentication event
  EXPECT_EQ(ToJsonLine(e),
            R"({"type":"AUTHENTICATION","time":"2025-03-04T05:06:07.089Z",)"
            R"("nodeId":"agent-1","listenerPort":9092,"brokerId":2,)"
            R"("clientAddress":"10.0.0.7:51234","tlsVersion":"TLSv1.2",)"
            R"("saslMechanism":"SCRAM-SHA-512","principal":"alice","success":true,"errorCode":0})");
}

TEST(ToJsonLineTest, FailedAuthenticationEventCarriesTheKafkaError) {
  AuditEvent e = Base(EventType::kAuthentication);
  e.sasl_mechanism = "PLAIN";
  e.success = false;
  e.error_code = 58;
  e.error_message = "Authentication failed: Invalid username or password";
  auto members = Parse(ToJsonLine(e));
  std::vector<std::string> keys;
  for (const auto& [k, v] : members) keys.push_back(k);
  EXPECT_THAT(keys,
              ElementsAre("type", "time", "nodeId", "listenerPort", "brokerId", "clientAddress",
                          "saslMechanism", "success", "errorCode", "errorMessage"));
  ASSERT_EQ(members.size(), 10u);
  EXPECT_EQ(members[0].second, Str("AUTHENTICATION"));
  EXPECT_EQ(members[7].second, Bool(false));
  EXPECT_EQ(members[8].second, Num(58));
  EXPECT_EQ(members[9].second, Str("Authentication failed: Invalid username or password"));
}

TEST(ToJsonLineTest, NegativeErrorCodeAndPortsAreNumbers) {
  AuditEvent e = Base(EventType::kAuthentication);
  e.error_code = -1;
  e.listener_port = 65535;
  e.broker_id = std::numeric_limits<int32_t>::min();
  auto members = Parse(ToJsonLine(e));
  ASSERT_EQ(members.size(), 8u);
  EXPECT_EQ(members[3].second, Num(65535));
  EXPECT_EQ(members[4].second, Num(std::numeric_limits<int32_t>::min()));
  EXPECT_EQ(members[7].second, Num(-1));
}

TEST(ToJsonLineTest, UnknownEventTypeIsStillValidJson) {
  AuditEvent e = Base(static_cast<EventType>(42));
  auto members = Parse(ToJsonLine(e));
  ASSERT_FALSE(members.empty());
  EXPECT_THAT(members[0], Pair("type", Str("UNKNOWN")));
}

TEST(ToJsonLineTest, IsOneLine) {
  AuditEvent e = Base(EventType::kConnectionClose);
  e.close_reason = "bad input: line1\nline2\r\n";
  const std::string line = ToJsonLine(e);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_EQ(line.find('\r'), std::string::npos);
  auto members = Parse(line);
  ASSERT_FALSE(members.empty());
  EXPECT_THAT(members.back(), Pair("closeReason", Str("bad input: line1\nline2\r\n")));
}

// ---- Time ----

std::string TimeOf(absl::Time t) {
  AuditEvent e = Base(EventType::kConnectionOpen);
  e.time = t;
  for (const auto& [k, v] : Parse(ToJsonLine(e))) {
    if (k == "time") return v.text;
  }
  return "<none>";
}

TEST(ToJsonLineTest, TimeIsRfc3339InUtcWithMilliseconds) {
  EXPECT_EQ(TimeOf(absl::UnixEpoch()), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(TimeOf(At(2024, 2, 29, 23, 59, 59, absl::Milliseconds(7))), "2024-02-29T23:59:59.007Z");
  // Truncated, not rounded: the event happened in that millisecond.
  EXPECT_EQ(TimeOf(At(1999, 12, 31, 23, 59, 59, absl::Microseconds(999999))),
            "1999-12-31T23:59:59.999Z");
  // Whatever the zone the time was made in.
  const absl::Time in_berlin =
      absl::FromCivil(absl::CivilSecond(2025, 7, 1, 14, 0, 0), absl::FixedTimeZone(2 * 3600));
  EXPECT_EQ(TimeOf(in_berlin), "2025-07-01T12:00:00.000Z");
}

TEST(ToJsonLineTest, DurationIsWholeMilliseconds) {
  AuditEvent e = Base(EventType::kConnectionClose);
  e.duration = absl::Microseconds(1999);
  auto members = Parse(ToJsonLine(e));
  ASSERT_GE(members.size(), 3u);
  EXPECT_THAT(members[members.size() - 2], Pair("durationMs", Num(1)));
}

// ---- Escaping ----

TEST(JsonQuoteTest, EscapesQuotesAndBackslashes) {
  EXPECT_EQ(JsonQuote(""), R"("")");
  EXPECT_EQ(JsonQuote(R"(say "hi" \o/)"), R"("say \"hi\" \\o/")");
  EXPECT_EQ(JsonQuote("a/b"), R"("a/b")");
}

TEST(JsonQuoteTest, EscapesEveryControlCharacterAsUnicodeEscape) {
  for (int c = 0; c < 0x20; ++c) {
    const std::string in(1, static_cast<char>(c));
    char expected[16];
    std::snprintf(expected, sizeof(expected), "\"\\u%04x\"", c);
    EXPECT_EQ(JsonQuote(in), expected) << "byte " << c;
    EXPECT_EQ(Unquote(JsonQuote(in)), in) << "byte " << c;
  }
  EXPECT_EQ(JsonQuote("\x7F"), R"("\u007f")");
  EXPECT_EQ(JsonQuote(std::string("a\0b", 3)), R"("a\u0000b")");
  EXPECT_EQ(JsonQuote("tab\there\nnext"), R"("tab\u0009here\u000anext")");
}

TEST(JsonQuoteTest, CopiesValidUtf8) {
  const std::string text =
      "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF \xEF\xBF\xBD";
  EXPECT_EQ(JsonQuote(text), "\"" + text + "\"");
  // The edges of each sequence length.
  for (const std::string s : {"\xC2\x80", "\xDF\xBF", "\xE0\xA0\x80", "\xED\x9F\xBF",
                              "\xEE\x80\x80", "\xF0\x90\x80\x80", "\xF4\x8F\xBF\xBF"}) {
    EXPECT_EQ(JsonQuote(s), "\"" + s + "\"");
  }
}

constexpr char kFffd[] = "\xEF\xBF\xBD";

TEST(JsonQuoteTest, ReplacesInvalidUtf8WithReplacementCharacters) {
  const std::string r = kFffd;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"\x80", r},                          // stray continuation byte
      {"a\xBF!", "a" + r + "!"},            // stray continuation byte between ASCII
      {"\xC3\x28", r + "("},                // lead byte followed by ASCII
      {"\xC3", r},                          // truncated at the end
      {"\xE2\x82", r},                      // truncated 3-byte sequence: one subpart
      {"\xE2\x82(", r + "("},               // ... followed by ASCII
      {"\xF0\x9F\x98", r},                  // truncated 4-byte sequence
      {"\xC0\xAF", r + r},                  // overlong '/'
      {"\xC1\xBF", r + r},                  // overlong
      {"\xE0\x80\xAF", r + r + r},          // overlong 3-byte form
      {"\xF0\x80\x80\xAF", r + r + r + r},  // overlong 4-byte form
      {"\xED\xA0\x80", r + r + r},          // UTF-16 surrogate D800
      {"\xED\xBF\xBF", r + r + r},          // surrogate DFFF
      {"\xF4\x90\x80\x80", r + r + r + r},  // above U+10FFFF
      {"\xF5\x80\x80\x80", r + r + r + r},  // F5 never starts a sequence
      {"\xFE\xFF", r + r},
      {"\xE2\x28\xA1", r + "(" + r},
      {"ok\xF0\x9F\x98\x80\x80", "ok\xF0\x9F\x98\x80" + r},  // valid then stray
  };
  for (const auto& [in, out] : cases) {
    EXPECT_EQ(JsonQuote(in), "\"" + out + "\"") << "input bytes " << absl::CEscape(in);
  }
}

TEST(JsonQuoteTest, InvalidUtf8InsideEscapesStillEscapes) {
  EXPECT_EQ(JsonQuote("\"\xFF\\\n"), std::string("\"\\\"") + kFffd + "\\\\\\u000a\"");
}

// Any bytes in any field give one line of valid JSON whose strings decode to
// the input wherever the input was valid UTF-8.
TEST(ToJsonLineTest, RandomBytesAlwaysGiveValidJson) {
  std::mt19937 rng(20250304);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> length(0, 24);
  std::uniform_int_distribution<int> kind(0, 3);
  const auto random_string = [&] {
    std::string s;
    const int n = length(rng);
    for (int i = 0; i < n; ++i) {
      switch (kind(rng)) {
        case 0:  // any byte
          s.push_back(static_cast<char>(byte(rng)));
          break;
        case 1:  // printable ASCII and the characters that need escaping
          s.push_back("a\"\\/ \x01\x1F\x7F"[byte(rng) % 9]);
          break;
        default: {  // a valid sequence of 1 to 4 bytes
          uint32_t cp = std::uniform_int_distribution<uint32_t>(0, 0x10FFFF)(rng);
          if (cp >= 0xD800 && cp <= 0xDFFF) cp -= 0x800;  // not a surrogate
          AppendUtf8(s, cp);
          break;
        }
      }
    }
    return s;
  };
  for (int round = 0; round < 3000; ++round) {
    AuditEvent e = Base(static_cast<EventType>(round % 3));
    e.node_id = random_string();
    e.client_address = random_string();
    e.sni = random_string();
    e.client_certificate_subject = random_string();
    e.close_reason = random_string();
    e.principal = random_string();
    e.error_message = random_string();
    const std::string line = ToJsonLine(e);
    ASSERT_EQ(line.find('\n'), std::string::npos);
    Reader reader(line);
    auto members = reader.Object();
    ASSERT_TRUE(members.has_value()) << reader.error() << " in " << absl::CEscape(line);
    for (const auto& [key, value] : *members) {
      const std::string* in = key == "nodeId"                     ? &e.node_id
                              : key == "clientAddress"            ? &e.client_address
                              : key == "sni"                      ? &e.sni
                              : key == "clientCertificateSubject" ? &e.client_certificate_subject
                              : key == "closeReason"              ? &e.close_reason
                              : key == "principal"                ? &e.principal
                              : key == "errorMessage"             ? &e.error_message
                                                                  : nullptr;
      if (in == nullptr) continue;
      if (IsValidUtf8(*in)) {
        EXPECT_EQ(value.text, *in) << key;
      } else {
        EXPECT_NE(value.text.find(kFffd), std::string::npos) << key;
      }
    }
  }
}

TEST(JsonReaderTest, RejectsWhatIsNotJson) {
  // The checker itself must be able to fail.
  for (const std::string bad :
       {"", "{", R"({"a":1,})", R"({"a":"x)", "{\"a\":\"\x01\"}", R"({"a":01})", R"({"a":"\q"})",
        "{\"a\":\"\xC3\x28\"}", R"({"a":1} )", R"({"a":"\ud800"})"}) {
    Reader reader(bad);
    EXPECT_FALSE(reader.Object().has_value()) << bad;
  }
  Reader ok(R"({"a":"\u00e9\n","b":-3,"c":true})");
  auto members = ok.Object();
  ASSERT_TRUE(members.has_value()) << ok.error();
  EXPECT_THAT(*members,
              ElementsAre(Pair("a", Str("\xC3\xA9\n")), Pair("b", Num(-3)), Pair("c", Bool(true))));
  Reader empty("{}");
  auto none = empty.Object();
  ASSERT_TRUE(none.has_value());
  EXPECT_THAT(*none, IsEmpty());
}

}  // namespace
}  // namespace kgw::audit

#include "common/kafka/sasl.h"

#include <string>

#include "gtest/gtest.h"

namespace kgw::kafka {
namespace {

// The SCRAM-SHA-256 exchange of RFC 7677, section 3.
TEST(SaslTest, ScramSha256MatchesRfc7677) {
  auto scram = NewScramForTest({"SCRAM-SHA-256", "user", "pencil"}, "rOprNGfwEbeRWgbNEkqO");
  auto first = scram->Start();
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(*first, "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
  auto final_message = scram->Next(
      "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");
  ASSERT_TRUE(final_message.ok()) << final_message.status();
  ASSERT_TRUE(final_message->has_value());
  EXPECT_EQ(**final_message,
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
            "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
  auto done = scram->Next("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_FALSE(done->has_value());
}

TEST(SaslTest, ScramRejectsAForgedServerAndForeignNonces) {
  auto scram = NewScramForTest({"SCRAM-SHA-256", "user", "pencil"}, "rOprNGfwEbeRWgbNEkqO");
  ASSERT_TRUE(scram->Start().ok());
  ASSERT_TRUE(scram
                  ->Next("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                         "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
                  .ok());
  EXPECT_EQ(scram->Next("v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=").status().code(),
            absl::StatusCode::kPermissionDenied);

  auto other = NewScramForTest({"SCRAM-SHA-512", "user", "pencil"}, "abc");
  ASSERT_TRUE(other->Start().ok());
  EXPECT_FALSE(other->Next("r=xyz123,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096").ok());
  auto weak = NewScramForTest({"SCRAM-SHA-512", "user", "pencil"}, "abc");
  ASSERT_TRUE(weak->Start().ok());
  EXPECT_FALSE(weak->Next("r=abc123,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=10").ok());
}

TEST(SaslTest, PlainAndNamesAreEncoded) {
  auto plain = NewSaslMechanism({"PLAIN", "alice", "alice-secret"});
  ASSERT_TRUE(plain.ok());
  auto first = (*plain)->Start();
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(*first, std::string("\0alice\0alice-secret", 19));
  auto scram = NewScramForTest({"SCRAM-SHA-512", "a=b,c", "x"}, "n0");
  EXPECT_EQ(*scram->Start(), "n,,n=a=3Db=2Cc,r=n0");
  EXPECT_FALSE(NewSaslMechanism({"GSSAPI", "u", "p"}).ok());
}

}  // namespace
}  // namespace kgw::kafka

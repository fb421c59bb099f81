#include "auth/detail/successor_seal.h"

#include <gtest/gtest.h>

#include "fakes.h"

namespace bulwark::auth::detail {
namespace {

TEST(SuccessorSeal, OpensOnlyWithThePreviousToken) {
  testing::SequenceRandom random;
  const std::string sealed = sealSuccessor("previous-token", "successor-token", random);
  EXPECT_EQ(sealed.find("successor-token"), std::string::npos);
  EXPECT_EQ(openSuccessor("previous-token", sealed), "successor-token");
  EXPECT_FALSE(openSuccessor("previous-tokeN", sealed).has_value());
  std::string altered = sealed;
  altered.back() ^= 1;
  EXPECT_FALSE(openSuccessor("previous-token", altered).has_value());
  EXPECT_FALSE(openSuccessor("previous-token", "short").has_value());
}

}  // namespace
}  // namespace bulwark::auth::detail

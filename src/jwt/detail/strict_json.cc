#include "jwt/detail/strict_json.h"

#include "core/strict_json.h"

namespace bulwark::jwt::detail {
VerifyResult<boost::json::object> parseStrictObject(std::string_view text) {
  bool duplicate = false;
  auto object = core::parseStrictJsonObject(text, kStrictMaxDepth, &duplicate);
  if (!object) return duplicate ? VerifyError::kDuplicateMember : VerifyError::kBadJson;
  return std::move(*object);
}

VerifyResult<void> readStrictObject(std::string_view text, core::StrictJsonVisitor& visitor) {
  bool duplicate = false;
  if (!core::readStrictJsonObject(text, kStrictMaxDepth, visitor, &duplicate)) {
    return duplicate ? VerifyError::kDuplicateMember : VerifyError::kBadJson;
  }
  return {};
}

}  // namespace bulwark::jwt::detail

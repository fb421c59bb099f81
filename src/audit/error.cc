#include "audit/error.h"

#include <cstring>

namespace bulwark::audit {
namespace {

class Category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "bulwark.audit"; }
  std::string message(int value) const override {
    switch (static_cast<Errc>(value)) {
      case Errc::kBadFormat: return "bad format";
      case Errc::kLocked: return "audit trail in use by another process";
      case Errc::kUnknownKey: return "unknown audit key";
      case Errc::kKeyFilePermissions: return "audit key file permissions too open";
      case Errc::kBadKey: return "invalid audit key";
      case Errc::kNotRecorded: return "event not recorded";
      case Errc::kWriterFailed: return "audit writer failed";
      case Errc::kClosed: return "audit writer closed";
      case Errc::kTimeout: return "timed out";
      case Errc::kBadConfig: return "invalid audit configuration";
    }
    return "unknown audit error";
  }
};

}  // namespace

const boost::system::error_category& auditCategory() {
  static const Category category;
  return category;
}

Error systemError(int error, const std::string& what) {
  return Error{boost::system::error_code(error, boost::system::generic_category()),
               what + ": " + std::strerror(error)};
}

Error auditError(Errc errc, std::string message) {
  return Error{make_error_code(errc), std::move(message)};
}

}  // namespace bulwark::audit

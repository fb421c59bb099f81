#include "store/error.h"

#include <string>

namespace bulwark::store {
namespace {

class StoreCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "bulwark.store"; }
  std::string message(int value) const override {
    switch (static_cast<StoreError>(value)) {
      case StoreError::kNotFound:
        return "not found";
      case StoreError::kAlreadyExists:
        return "already exists";
      case StoreError::kInvalidArgument:
        return "invalid argument";
      case StoreError::kUnavailable:
        return "store unavailable";
      case StoreError::kCorrupt:
        return "stored data unreadable";
    }
    return "unknown store error";
  }
};

}  // namespace

const boost::system::error_category& storeCategory() {
  static const StoreCategory category;
  return category;
}

boost::system::error_code make_error_code(StoreError error) {
  return {static_cast<int>(error), storeCategory()};
}

}  // namespace bulwark::store

#include "store/revocation_store.h"

namespace bulwark::store {
namespace {

class MemoryRevocationStore final : public RevocationStore {
 public:
  Result<void> revoke(const Revocation& revocation) override {
    if (revocation.key.empty()) {
      return StoreError::kInvalidArgument;
    }
    set_.add(revocation);
    return {};
  }

  bool isRevoked(std::string_view jti, std::string_view sid, std::string_view user,
                 core::SystemTime issued_at) const override {
    return set_.isRevoked(jti, sid, user, issued_at);
  }

  Result<std::size_t> sync(core::SystemTime now) override {
    set_.purge(now);
    return std::size_t{0};
  }

  std::size_t size() const override { return set_.size(); }

 private:
  RevocationSet set_;
};

}  // namespace

RevocationStorePtr makeMemoryRevocationStore() { return std::make_shared<MemoryRevocationStore>(); }

}  // namespace bulwark::store

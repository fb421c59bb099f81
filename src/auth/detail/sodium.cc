#include "auth/detail/sodium.h"

#include <sodium.h>

#include <mutex>
#include <stdexcept>

namespace bulwark::auth::detail {

void ensureSodium() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (sodium_init() < 0) {
      throw std::runtime_error("libsodium failed to initialise");
    }
  });
}

}  // namespace bulwark::auth::detail

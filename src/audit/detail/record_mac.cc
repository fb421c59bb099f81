#include "audit/detail/record_mac.h"

#include <algorithm>
#include <array>

namespace bulwark::audit::detail {

crypto::Digest256 RecordMacKey::mac(const crypto::Digest256& prev, std::uint64_t seq,
                                    std::string_view bytes) const {
  std::array<char, 40> head;  // prev ‖ be64(seq): one update instead of two
  std::copy(prev.begin(), prev.end(), head.begin());
  for (int i = 7; i >= 0; --i) {
    head[32 + static_cast<std::size_t>(i)] = static_cast<char>(seq & 0xff);
    seq >>= 8;
  }
  return key_.mac({std::string_view(head.data(), head.size()), bytes});
}

}  // namespace bulwark::audit::detail

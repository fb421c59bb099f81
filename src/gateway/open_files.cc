#include "gateway/open_files.h"

#include <sys/resource.h>

#include <algorithm>

namespace bulwark::gateway {

OpenFileLimit raiseOpenFileLimit() {
  OpenFileLimit result;
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return result;
  result.soft = limit.rlim_cur;
  result.hard = limit.rlim_max;
  if (limit.rlim_cur >= limit.rlim_max) return result;
  // An unlimited hard limit is still capped by the kernel's fs.nr_open (1 Mi by default), and
  // setrlimit refuses more: fall back to that.
  rlim_t target = limit.rlim_max;
  rlimit raised{target, limit.rlim_max};
  if (::setrlimit(RLIMIT_NOFILE, &raised) != 0) {
    target = std::min<rlim_t>(limit.rlim_max, 1 << 20);
    raised.rlim_cur = target;
    if (target == limit.rlim_max || target <= limit.rlim_cur ||
        ::setrlimit(RLIMIT_NOFILE, &raised) != 0) {
      return result;
    }
  }
  result.soft = target;
  result.raised = true;
  return result;
}

std::uint64_t descriptorsNeeded(std::uint64_t max_connections) {
  return 2 * max_connections + 64;
}

}  // namespace bulwark::gateway

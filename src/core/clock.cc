#include "core/clock.h"

namespace bulwark::core {

Clock& realClock() {
  static RealClock clock;
  return clock;
}

}  // namespace bulwark::core

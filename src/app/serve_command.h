#pragma once
// `bulwark serve`: loads settings, wires the components and runs the gateway until SIGTERM/SIGINT.

#include "core/config.h"

namespace bulwark::app {

// Returns the process exit code: 0 after a clean shutdown, 1 on invalid configuration or a
// start-up failure (both reported on stderr naming the setting and the fix).
int runServe(const core::SettingSources& sources);

}  // namespace bulwark::app

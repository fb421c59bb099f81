// The shared store suites on the in-process backend.

#include "revocation_store_suite.h"
#include "session_store_suite.h"
#include "store_backends.h"
#include "user_store_suite.h"

namespace bulwark::store::testing {

INSTANTIATE_TYPED_TEST_SUITE_P(Memory, UserStoreSuite, MemoryBackend);
INSTANTIATE_TYPED_TEST_SUITE_P(Memory, SessionStoreSuite, MemoryBackend);
INSTANTIATE_TYPED_TEST_SUITE_P(Memory, SessionRaceSuite, MemoryBackend);
INSTANTIATE_TYPED_TEST_SUITE_P(Memory, RevocationStoreSuite, MemoryBackend);

}  // namespace bulwark::store::testing

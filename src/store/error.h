#pragma once
// Errors every store reports, whatever its backend (memory, SQLite, PostgreSQL, Redis), so callers
// decide what to do without knowing which one answered. Registered as a boost::system category
// ("bulwark.store"); stores return boost::system::result<T>.

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>
#include <type_traits>

namespace bulwark::store {

enum class StoreError {
  kNotFound = 1,     // no such user or session (or the token hash is unknown)
  kAlreadyExists,    // a unique key is taken: username, user id, session id or token hash
  kInvalidArgument,  // a value the store refuses: a username not in normal form, an empty id
  kUnavailable,      // backend busy past its timeout, I/O error, lost connection: retry later
  kCorrupt,          // stored data or a schema version this build cannot read
};

const boost::system::error_category& storeCategory();
boost::system::error_code make_error_code(StoreError error);

template <class T>
using Result = boost::system::result<T>;

}  // namespace bulwark::store

template <>
struct boost::system::is_error_code_enum<bulwark::store::StoreError> : std::true_type {};

#pragma once
// Error values of the audit component (STYLE habit 3): an `audit::Errc` registered as a
// boost::system error category, or an OS errno, plus a message for the operator. Messages name
// files and settings; they never contain key material.

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>
#include <string>
#include <system_error>
#include <type_traits>

namespace bulwark::audit {

enum class Errc {
  kBadFormat = 1,       // a record, key text or checkpoint that does not parse
  kLocked,              // another process writes this node's trail
  kUnknownKey,          // a kid (or epoch) no configured key covers
  kKeyFilePermissions,  // key file readable or writable by group/others
  kBadKey,              // key material too short or badly encoded
  kNotRecorded,         // the event was not accepted (queue full, writer closed)
  kWriterFailed,        // the writer stopped after an unrecoverable I/O error
  kClosed,              // the writer was closed before the event became durable
  kTimeout,             // a wait ran out
  kBadConfig,           // an invalid WriterConfig / FileStoreConfig
};

const boost::system::error_category& auditCategory();

inline boost::system::error_code make_error_code(Errc e) {
  return {static_cast<int>(e), auditCategory()};
}

// An error code and a one-line message for a person ("cannot open /x: Permission denied").
struct Error {
  boost::system::error_code code;
  std::string message;
};

// Returns an Error with the errno `error` as code and "<what>: <strerror>" as message.
Error systemError(int error, const std::string& what);
Error auditError(Errc errc, std::string message);

template <class T>
using Result = boost::system::result<T, Error>;

}  // namespace bulwark::audit

namespace boost::system {
template <>
struct is_error_code_enum<bulwark::audit::Errc> : std::true_type {};
}  // namespace boost::system

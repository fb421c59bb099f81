#pragma once
// Why an auth operation was refused, as values (STYLE habit 3): AuthError codes registered as a
// boost::system category ("bulwark.auth"), carried with a Retry-After in AuthFailure. The
// messages and the suggested HTTP mapping say nothing about which check failed beyond what the
// client may know: unknown user, wrong password and admin-locked account are all
// kInvalidCredentials (SPEC F2.6); the audit event has the real reason.

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>
#include <chrono>
#include <string_view>
#include <type_traits>

namespace bulwark::auth {

enum class AuthError {
  kInvalidCredentials = 1,  // login refused: unknown user, wrong password or locked account
  kLockedOut,               // too many failures for this account or client address: Retry-After
  kSignUpClosed,            // open sign-up is off
  kUsernameTaken,           // registration: the (normalised) name exists
  kInvalidUsername,         // not acceptable as a username (store::normalizeUsername)
  kInvalidPassword,         // shorter or longer than the policy allows
  kInvalidRole,             // not acceptable as a role (store::isValidRole)
  kInvalidGrant,            // refresh token unknown, expired, revoked or reused
  kNotFound,                // administration of an unknown user
  kBusy,                    // the worker pool is full: try again shortly (Retry-After)
  kUnavailable,             // a store or the token signer failed: try again later
};

const boost::system::error_category& authCategory();
boost::system::error_code make_error_code(AuthError error);

// A refusal. `retry_after` is set for kLockedOut (and may be for kBusy).
struct AuthFailure {
  AuthError error = AuthError::kUnavailable;
  std::chrono::seconds retry_after{0};
};

// Lets AuthResult<T>::value() throw boost::system::system_error(make_error_code(error)).
[[noreturn]] void throw_exception_from_error(const AuthFailure& failure,
                                             const boost::source_location& location);

template <class T>
using AuthResult = boost::system::result<T, AuthFailure>;

// Suggested HTTP status for `error` (SPEC "Interfaces"): 401 credentials/grant, 429 locked out,
// 403 sign-up closed, 409 name taken, 400 invalid input, 404 unknown user (admin only),
// 503 busy/unavailable.
unsigned httpStatus(AuthError error);
// Suggested `error` member of the JSON body: OAuth codes where they apply ("invalid_grant",
// "invalid_request", "access_denied", "temporarily_unavailable"), else a short snake_case word.
std::string_view errorCode(AuthError error);
// A short `error_description` safe to show any client.
std::string_view errorDescription(AuthError error);

}  // namespace bulwark::auth

template <>
struct boost::system::is_error_code_enum<bulwark::auth::AuthError> : std::true_type {};

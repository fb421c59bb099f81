#include "auth/error.h"

#include <boost/system/system_error.hpp>
#include <boost/throw_exception.hpp>
#include <string>

namespace bulwark::auth {
namespace {

class AuthCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "bulwark.auth"; }
  std::string message(int value) const override {
    return std::string(errorDescription(static_cast<AuthError>(value)));
  }
};

}  // namespace

const boost::system::error_category& authCategory() {
  static const AuthCategory category;
  return category;
}

boost::system::error_code make_error_code(AuthError error) {
  return {static_cast<int>(error), authCategory()};
}

void throw_exception_from_error(const AuthFailure& failure,
                                const boost::source_location& location) {
  boost::throw_exception(boost::system::system_error(make_error_code(failure.error)), location);
}

unsigned httpStatus(AuthError error) {
  switch (error) {
    case AuthError::kInvalidCredentials:
    case AuthError::kInvalidGrant:
      return 401;
    case AuthError::kLockedOut:
      return 429;
    case AuthError::kSignUpClosed:
      return 403;
    case AuthError::kUsernameTaken:
      return 409;
    case AuthError::kInvalidUsername:
    case AuthError::kInvalidPassword:
    case AuthError::kInvalidRole:
      return 400;
    case AuthError::kNotFound:
      return 404;
    case AuthError::kBusy:
    case AuthError::kUnavailable:
      return 503;
  }
  return 500;
}

std::string_view errorCode(AuthError error) {
  switch (error) {
    case AuthError::kInvalidCredentials:
    case AuthError::kInvalidGrant:
      return "invalid_grant";
    case AuthError::kLockedOut:
      return "too_many_attempts";
    case AuthError::kSignUpClosed:
      return "access_denied";
    case AuthError::kUsernameTaken:
      return "username_taken";
    case AuthError::kInvalidUsername:
    case AuthError::kInvalidPassword:
    case AuthError::kInvalidRole:
      return "invalid_request";
    case AuthError::kNotFound:
      return "not_found";
    case AuthError::kBusy:
    case AuthError::kUnavailable:
      return "temporarily_unavailable";
  }
  return "server_error";
}

std::string_view errorDescription(AuthError error) {
  switch (error) {
    case AuthError::kInvalidCredentials:
      return "invalid username or password";
    case AuthError::kLockedOut:
      return "too many failed attempts; try again later";
    case AuthError::kSignUpClosed:
      return "sign-up is closed";
    case AuthError::kUsernameTaken:
      return "username is taken";
    case AuthError::kInvalidUsername:
      return "username must be 1 to 64 letters, digits, '.', '_', '-' or '@', starting with a "
             "letter or digit";
    case AuthError::kInvalidPassword:
      return "password length is outside the allowed range";
    case AuthError::kInvalidRole:
      return "invalid role name";
    case AuthError::kInvalidGrant:
      return "refresh token is invalid, expired or revoked";
    case AuthError::kNotFound:
      return "no such user";
    case AuthError::kBusy:
      return "server busy; try again shortly";
    case AuthError::kUnavailable:
      return "service temporarily unavailable";
  }
  return "internal error";
}

}  // namespace bulwark::auth

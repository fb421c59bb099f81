#pragma once
// Reading and redacting the connection strings that carry secrets (database_url, redis_url), for
// validation, production-mode checks and printing. Nothing here logs or returns a password except
// ConnectionString::password, which callers only measure and never print.

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace bulwark::core::detail {

// A connection string split into the parts the checks need. Values are percent-decoded (URL form)
// or unquoted (key=value form).
struct ConnectionString {
  std::string scheme;  // "postgresql", "rediss"; empty in key=value form
  std::string user;
  std::optional<std::string> password;        // from user:password@, or a password parameter
  std::map<std::string, std::string> params;  // query parameters or key=value pairs
};

// Parses "scheme://[user[:password]@]host[:port][/path][?k=v&...]" or libpq's key=value form
// ("host=db user=x password='a b' sslmode=verify-full"). nullopt when it is neither.
std::optional<ConnectionString> parseConnectionString(std::string_view text);

// Returns why `password` is too weak for production ("has no password", "uses a well-known
// default password", ...), or nullopt when it is acceptable. Never includes the password.
std::optional<std::string> passwordWeakness(const std::optional<std::string>& password,
                                            std::string_view user);

// Shortest password accepted in production.
inline constexpr std::size_t kMinPasswordLength = 12;

}  // namespace bulwark::core::detail

// Connection strings are parsed by hand rather than with Boost.URL because libpq's key=value form
// is not a URL and because redaction must stay safe on malformed input: when the structure is in
// doubt, the whole value is redacted rather than guessed at.

#include "core/detail/config_secrets.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <vector>

#include "core/config.h"

namespace bulwark::core {
namespace {

constexpr std::string_view kRedacted = "<redacted>";
constexpr std::string_view kSchemeEnd = "://";

std::string lowered(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool isSecretKey(std::string_view key) {
  return lowered(key).find("password") != std::string::npos;
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && hexValue(text[i + 1]) >= 0 &&
        hexValue(text[i + 2]) >= 0) {
      out += static_cast<char>(hexValue(text[i + 1]) * 16 + hexValue(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// One key=value pair of libpq's conninfo form, with the byte range of its value in the input.
struct ConninfoPair {
  std::string key;
  std::string value;
  std::size_t value_begin = 0;
  std::size_t value_end = 0;
};

// Tokenises libpq's key=value form: keys, optional spaces around '=', values bare or in single
// quotes with backslash escapes. nullopt on anything else.
std::optional<std::vector<ConninfoPair>> parseConninfo(std::string_view text) {
  std::vector<ConninfoPair> pairs;
  std::size_t i = 0;
  const auto skipSpaces = [&] {
    while (i < text.size() && isSpace(text[i])) {
      ++i;
    }
  };
  skipSpaces();
  while (i < text.size()) {
    ConninfoPair pair;
    while (i < text.size() && !isSpace(text[i]) && text[i] != '=') {
      pair.key += text[i++];
    }
    skipSpaces();
    if (pair.key.empty() || i >= text.size() || text[i] != '=') {
      return std::nullopt;
    }
    ++i;
    skipSpaces();
    pair.value_begin = i;
    if (i < text.size() && text[i] == '\'') {
      ++i;
      bool closed = false;
      while (i < text.size()) {
        if (text[i] == '\\' && i + 1 < text.size()) {
          pair.value += text[i + 1];
          i += 2;
        } else if (text[i] == '\'') {
          ++i;
          closed = true;
          break;
        } else {
          pair.value += text[i++];
        }
      }
      if (!closed) {
        return std::nullopt;
      }
    } else {
      while (i < text.size() && !isSpace(text[i])) {
        if (text[i] == '\\' && i + 1 < text.size()) {
          pair.value += text[i + 1];
          i += 2;
        } else {
          pair.value += text[i++];
        }
      }
    }
    pair.value_end = i;
    pairs.push_back(std::move(pair));
    skipSpaces();
  }
  if (pairs.empty()) {
    return std::nullopt;
  }
  return pairs;
}

// Replaces the value of every password-like parameter in "a=1&password=x#frag".
std::string redactQuery(std::string_view query) {
  std::string out;
  std::size_t i = 0;
  while (i <= query.size()) {
    const auto end = std::min(query.find_first_of("&#", i), query.size());
    const std::string_view part = query.substr(i, end - i);
    const auto equals = part.find('=');
    if (equals != std::string_view::npos && isSecretKey(part.substr(0, equals))) {
      out += part.substr(0, equals + 1);
      out += kRedacted;
    } else {
      out += part;
    }
    if (end >= query.size()) {
      break;
    }
    if (query[end] == '#') {
      out += query.substr(end);  // a fragment carries no parameters
      break;
    }
    out += '&';
    i = end + 1;
  }
  return out;
}

}  // namespace

std::string redactUrl(std::string_view url) {
  const auto scheme_at = url.find(kSchemeEnd);
  if (scheme_at == std::string_view::npos) {
    const auto pairs = parseConninfo(url);
    if (!pairs) {
      return std::string(kRedacted);  // unknown shape: print nothing of it
    }
    std::string out;
    std::size_t copied = 0;
    for (const auto& pair : *pairs) {
      if (isSecretKey(pair.key)) {
        out += url.substr(copied, pair.value_begin - copied);
        out += kRedacted;
        copied = pair.value_end;
      }
    }
    out += url.substr(copied);
    return out;
  }
  const std::string scheme = lowered(url.substr(0, scheme_at));
  std::string out(url.substr(0, scheme_at + kSchemeEnd.size()));
  std::string_view rest = url.substr(scheme_at + kSchemeEnd.size());
  // The last '@' anywhere, not the RFC's last '@' of the authority: an unescaped '/', '?' or '#'
  // inside a password would otherwise end the authority early and print the rest of it.
  const auto at = rest.rfind('@');
  if (at != std::string_view::npos) {
    const std::string_view userinfo = rest.substr(0, at);
    const auto colon = userinfo.find(':');
    if (colon != std::string_view::npos) {
      out += userinfo.substr(0, colon + 1);
      out += kRedacted;
    } else if (scheme == "redis" || scheme == "rediss") {
      out += kRedacted;  // some Redis clients read a lone user part as the password
    } else {
      out += userinfo;
    }
    out += '@';
    rest = rest.substr(at + 1);
  }
  const auto question = rest.find('?');
  if (question == std::string_view::npos) {
    out += rest;
  } else {
    out += rest.substr(0, question + 1);
    out += redactQuery(rest.substr(question + 1));
  }
  return out;
}

namespace detail {

std::optional<ConnectionString> parseConnectionString(std::string_view text) {
  ConnectionString out;
  const auto scheme_at = text.find(kSchemeEnd);
  if (scheme_at == std::string_view::npos) {
    const auto pairs = parseConninfo(text);
    if (!pairs) {
      return std::nullopt;
    }
    for (const auto& pair : *pairs) {
      out.params[pair.key] = pair.value;
    }
    if (const auto user = out.params.find("user"); user != out.params.end()) {
      out.user = user->second;
    }
    if (const auto password = out.params.find("password"); password != out.params.end()) {
      out.password = password->second;
    }
    return out;
  }
  out.scheme = lowered(text.substr(0, scheme_at));
  if (out.scheme.empty() || !std::all_of(out.scheme.begin(), out.scheme.end(), [](unsigned char c) {
        return std::isalnum(c) || c == '+' || c == '-' || c == '.';
      })) {
    return std::nullopt;
  }
  const std::string_view rest = text.substr(scheme_at + kSchemeEnd.size());
  const auto authority_end = std::min(rest.find_first_of("/?#"), rest.size());
  const std::string_view authority = rest.substr(0, authority_end);
  const auto at = authority.rfind('@');
  if (at != std::string_view::npos) {
    const std::string_view userinfo = authority.substr(0, at);
    const auto colon = userinfo.find(':');
    out.user = percentDecode(userinfo.substr(0, colon));
    if (colon != std::string_view::npos) {
      out.password = percentDecode(userinfo.substr(colon + 1));
    }
  }
  if (authority.substr(at == std::string_view::npos ? 0 : at + 1).empty()) {
    return std::nullopt;  // no host
  }
  const auto question = rest.find('?', authority_end);
  if (question != std::string_view::npos) {
    std::string_view query = rest.substr(question + 1);
    query = query.substr(0, std::min(query.find('#'), query.size()));
    std::size_t i = 0;
    while (i <= query.size()) {
      const auto end = std::min(query.find('&', i), query.size());
      const std::string_view part = query.substr(i, end - i);
      const auto equals = part.find('=');
      if (equals != std::string_view::npos) {
        out.params[percentDecode(part.substr(0, equals))] = percentDecode(part.substr(equals + 1));
      }
      i = end + 1;
    }
  }
  if (!out.password) {
    if (const auto password = out.params.find("password"); password != out.params.end()) {
      out.password = password->second;
    }
  }
  return out;
}

std::optional<std::string> passwordWeakness(const std::optional<std::string>& password,
                                            std::string_view user) {
  static constexpr std::array<std::string_view, 14> kWellKnown = {
      "postgres", "password", "changeme", "secret", "admin",  "root", "redis",
      "default",  "bulwark",  "letmein",  "123456", "qwerty", "pass", "test"};
  if (!password || password->empty()) {
    return "has no password";
  }
  const std::string candidate = lowered(*password);
  for (const auto known : kWellKnown) {
    // "changeme123" and "Password1" are as guessable as the word itself.
    if (candidate.rfind(known, 0) == 0 && candidate.size() <= known.size() + 4) {
      return "uses a well-known default password";
    }
  }
  if (!user.empty() && candidate == lowered(user)) {
    return "uses the user name as the password";
  }
  if (password->size() < kMinPasswordLength) {
    return "has a password shorter than " + std::to_string(kMinPasswordLength) + " characters";
  }
  return std::nullopt;
}

}  // namespace detail
}  // namespace bulwark::core

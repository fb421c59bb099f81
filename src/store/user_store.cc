#include "store/user_store.h"

#include <algorithm>

namespace bulwark::store {

std::optional<std::string> normalizeUsername(std::string_view username) {
  if (username.empty() || username.size() > 64) {
    return std::nullopt;
  }
  std::string out;
  out.reserve(username.size());
  for (char c : username) {
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    const bool digit = c >= '0' && c <= '9';
    if (out.empty() && !letter && !digit) {
      return std::nullopt;
    }
    if (!letter && !digit && c != '.' && c != '_' && c != '-' && c != '@') {
      return std::nullopt;
    }
    out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  }
  return out;
}

bool isValidRole(std::string_view role) {
  return !role.empty() && role.size() <= 64 && std::all_of(role.begin(), role.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.' || c == ':';
  });
}

std::string defaultSqlitePath(const std::string& data_dir) {
  if (data_dir.empty() || data_dir.back() == '/') {
    return data_dir + "bulwark.db";
  }
  return data_dir + "/bulwark.db";
}

}  // namespace bulwark::store

// Key parsing, key files and epoch evolution. Temporary buffers that held key bytes are wiped
// with OPENSSL_cleanse before they go away; error messages name entries by number only.

#include "audit/keys.h"

#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include "audit/record.h"
#include "crypto/hmac.h"

namespace bulwark::audit {
namespace {

constexpr std::string_view kEpochInfo = "bulwark-audit-epoch";

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

bool isHexText(std::string_view s) {
  if (s.empty() || s.size() % 2 != 0) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

// Wipes a std::string or vector holding key material.
template <class Buffer>
void wipe(Buffer& buffer) {
  if (!buffer.empty()) OPENSSL_cleanse(buffer.data(), buffer.size());
  buffer.clear();
}

std::string defaultKid(std::span<const std::uint8_t> key) {
  std::string input = "bulwark-audit-kid";
  input.append(reinterpret_cast<const char*>(key.data()), key.size());
  const auto digest = crypto::sha256(input);
  wipe(input);
  return "k" + crypto::toHex(std::span<const std::uint8_t>(digest.data(), 4));
}

Result<void> syncDirectory(const std::filesystem::path& dir) {
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return systemError(errno, "cannot open directory " + dir.string());
  const int rc = ::fsync(fd);
  const int error = errno;
  ::close(fd);
  if (rc != 0) return systemError(error, "cannot fsync directory " + dir.string());
  return {};
}

Result<void> writeAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return systemError(errno, "cannot write " + path);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

std::string keyFileText(const KeyRing& ring) {
  std::string text =
      "# bulwark audit keys: KID@EPOCH:hex, the last line signs. Keep this file mode 0600.\n";
  for (const auto& key : ring.keys()) {
    text += key.kid + "@" + std::to_string(key.epoch) + ":";
    std::string hex = crypto::toHex(key.key.bytes());
    text += hex;
    wipe(hex);
    text += "\n";
  }
  return text;
}

}  // namespace

SecretBytes::SecretBytes(std::span<const std::uint8_t> bytes)
    : bytes_(bytes.begin(), bytes.end()) {}

SecretBytes::~SecretBytes() { clear(); }

SecretBytes::SecretBytes(SecretBytes&& other) noexcept : bytes_(std::move(other.bytes_)) {
  other.bytes_.clear();
}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    clear();
    bytes_ = std::move(other.bytes_);
    other.bytes_.clear();
  }
  return *this;
}

void SecretBytes::clear() { wipe(bytes_); }

void KeyRing::add(AuditKey key) {
  for (auto it = keys_.begin(); it != keys_.end(); ++it) {
    if (it->kid == key.kid) {
      keys_.erase(it);
      break;
    }
  }
  keys_.push_back(std::move(key));
}

const AuditKey* KeyRing::find(std::string_view kid) const {
  for (const auto& key : keys_) {
    if (key.kid == kid) return &key;
  }
  return nullptr;
}

KeyRing KeyRing::clone() const {
  KeyRing copy;
  for (const auto& key : keys_) copy.keys_.push_back(key.clone());
  return copy;
}

std::string KeyRing::describe() const {
  std::string out;
  for (const auto& key : keys_) {
    if (!out.empty()) out += ", ";
    out += key.kid;
    if (key.epoch != 0) out += "@" + std::to_string(key.epoch);
  }
  return out;
}

bool decodeBase64(std::string_view text, std::vector<std::uint8_t>& out) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  out.clear();
  std::uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    int value;
    if (c >= 'A' && c <= 'Z') {
      value = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      value = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      value = c - '0' + 52;
    } else if (c == '+' || c == '-') {
      value = 62;
    } else if (c == '/' || c == '_') {
      value = 63;
    } else {
      wipe(out);
      return false;
    }
    buffer = (buffer << 6) | static_cast<std::uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>((buffer >> bits) & 0xff));
    }
  }
  buffer = 0;
  if (bits >= 6) {  // a single leftover character cannot encode a byte
    wipe(out);
    return false;
  }
  return true;
}

Result<KeyRing> parseKeyRing(std::string_view text, std::string_view source) {
  KeyRing ring;
  std::size_t number = 0;
  // Comments end at the line's end; entries are separated by newlines or commas.
  std::vector<std::string_view> entries;
  for (std::size_t line_start = 0; line_start <= text.size();) {
    std::size_t line_end = text.find('\n', line_start);
    if (line_end == std::string_view::npos) line_end = text.size();
    std::string_view line = text.substr(line_start, line_end - line_start);
    line_start = line_end + 1;
    if (const auto hash = line.find('#'); hash != std::string_view::npos) {
      line = line.substr(0, hash);
    }
    for (std::size_t start = 0; start <= line.size();) {
      std::size_t end = line.find(',', start);
      if (end == std::string_view::npos) end = line.size();
      entries.push_back(line.substr(start, end - start));
      start = end + 1;
    }
  }
  for (std::string_view entry : entries) {
    entry = trim(entry);
    if (entry.empty()) continue;
    ++number;
    const std::string where = std::string(source) + ": key entry " + std::to_string(number);

    std::string kid;
    std::uint64_t epoch = 0;
    std::string_view encoding;
    std::string_view material = entry;
    const auto first_colon = entry.find(':');
    if (first_colon != std::string_view::npos) {
      const std::string_view head = entry.substr(0, first_colon);
      std::string_view rest = entry.substr(first_colon + 1);
      if (head == "hex" || head == "base64") {
        encoding = head;
        material = rest;
      } else {
        std::string_view kid_text = head;
        if (const auto at = head.find('@'); at != std::string_view::npos) {
          kid_text = head.substr(0, at);
          const std::string_view epoch_text = head.substr(at + 1);
          std::size_t used = 0;
          try {
            epoch = std::stoull(std::string(epoch_text), &used);
          } catch (const std::exception&) {
            used = 0;
          }
          if (epoch_text.empty() || used != epoch_text.size() || epoch_text[0] == '+' ||
              epoch_text[0] == '-') {
            return auditError(Errc::kBadKey, where + ": the epoch after '@' is not a number");
          }
        }
        if (!isValidId(kid_text)) {
          return auditError(Errc::kBadKey,
                            where + ": the key id is not 1-64 letters, digits, '.', '_' or '-'");
        }
        kid = std::string(kid_text);
        if (const auto second = rest.find(':'); second != std::string_view::npos) {
          encoding = rest.substr(0, second);
          rest = rest.substr(second + 1);
          if (encoding != "hex" && encoding != "base64") {
            return auditError(Errc::kBadKey, where + ": unknown encoding (use hex: or base64:)");
          }
        }
        material = rest;
      }
    }
    material = trim(material);
    std::vector<std::uint8_t> bytes;
    bool decoded = false;
    if (encoding == "hex" || (encoding.empty() && isHexText(material))) {
      std::string raw;
      decoded = crypto::fromHex(material, raw);
      bytes.assign(raw.begin(), raw.end());
      wipe(raw);
    } else {
      decoded = decodeBase64(material, bytes);
    }
    if (!decoded) {
      return auditError(Errc::kBadKey,
                        where + ": the key is neither hex nor base64 (value not shown)");
    }
    if (bytes.size() < kMinKeyBytes) {
      const std::size_t size = bytes.size();
      wipe(bytes);
      return auditError(Errc::kBadKey, where + ": the key has " + std::to_string(size) +
                                           " bytes; at least 32 are needed (e.g. `openssl "
                                           "rand -hex 32`)");
    }
    if (kid.empty()) kid = defaultKid(bytes);
    ring.add(AuditKey{std::move(kid), epoch, SecretBytes(bytes)});
    wipe(bytes);
  }
  if (ring.empty()) {
    return auditError(Errc::kBadKey, std::string(source) + ": no key in it");
  }
  return ring;
}

Result<KeyRing> loadKeyFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ELOOP) {
      return auditError(Errc::kKeyFilePermissions, "audit key file " + path +
                                                       " is a symbolic link; point the setting at "
                                                       "the file itself");
    }
    return systemError(errno, "cannot open audit key file " + path);
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    const int error = errno;
    ::close(fd);
    return systemError(error, "cannot stat audit key file " + path);
  }
  if (!S_ISREG(info.st_mode)) {
    ::close(fd);
    return auditError(Errc::kKeyFilePermissions,
                      "audit key file " + path + " is not a regular file");
  }
  if ((info.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    ::close(fd);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(info.st_mode & 07777));
    return auditError(Errc::kKeyFilePermissions,
                      "audit key file " + path + " has mode " + mode +
                          ": group or others may read or change it; fix: chmod 600 " + path);
  }
  std::string text;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int error = errno;
      ::close(fd);
      OPENSSL_cleanse(buffer, sizeof buffer);
      wipe(text);
      return systemError(error, "cannot read audit key file " + path);
    }
    if (n == 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  OPENSSL_cleanse(buffer, sizeof buffer);
  auto ring = parseKeyRing(text, path);
  wipe(text);
  return ring;
}

Result<void> writeKeyFile(const std::string& path, const KeyRing& ring) {
  const std::filesystem::path target(path);
  const std::filesystem::path temporary = target.string() + ".tmp";
  ::unlink(temporary.c_str());
  const int fd =
      ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return systemError(errno, "cannot create " + temporary.string());
  std::string text = keyFileText(ring);
  auto written = writeAll(fd, text, temporary.string());
  wipe(text);
  if (written && ::fsync(fd) != 0)
    written = systemError(errno, "cannot fsync " + temporary.string());
  ::close(fd);
  if (!written) {
    ::unlink(temporary.c_str());
    return written;
  }
  if (::rename(temporary.c_str(), target.c_str()) != 0) {
    const int error = errno;
    ::unlink(temporary.c_str());
    return systemError(error, "cannot replace " + path);
  }
  return syncDirectory(target.parent_path());
}

Result<KeyRing> generateKeyFile(const std::string& path, crypto::Random& random) {
  std::vector<std::uint8_t> bytes(kMinKeyBytes);
  random.fill(bytes);
  KeyRing ring;
  ring.add(AuditKey{defaultKid(bytes), 0, SecretBytes(bytes)});
  wipe(bytes);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return systemError(errno, "cannot create audit key file " + path);
  std::string text = keyFileText(ring);
  auto written = writeAll(fd, text, path);
  wipe(text);
  if (written && ::fsync(fd) != 0) written = systemError(errno, "cannot fsync " + path);
  ::close(fd);
  if (!written) {
    ::unlink(path.c_str());
    return written.error();
  }
  if (auto synced = syncDirectory(std::filesystem::path(path).parent_path()); !synced) {
    return synced.error();
  }
  return ring;
}

void advanceEpochKey(SecretBytes& key) {
  std::uint8_t next[32];
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  EVP_KDF_CTX* ctx = kdf != nullptr ? EVP_KDF_CTX_new(kdf) : nullptr;
  char digest[] = "SHA256";
  std::string info(kEpochInfo);
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
                                        const_cast<std::uint8_t*>(key.bytes().data()), key.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info.data(), info.size()),
      OSSL_PARAM_construct_end()};
  const bool ok = ctx != nullptr && EVP_KDF_derive(ctx, next, sizeof next, params) == 1;
  EVP_KDF_CTX_free(ctx);
  EVP_KDF_free(kdf);
  if (!ok) {
    // Continuing with the old key would silently lose forward security.
    throw std::runtime_error("HKDF-SHA256 failed");
  }
  // Same storage: the previous epoch's key is overwritten, not left behind in freed memory.
  auto storage = key.mutableBytes();
  if (storage.size() != sizeof next) {
    key = SecretBytes(std::span<const std::uint8_t>(next, sizeof next));
  } else {
    std::copy(next, next + sizeof next, storage.begin());
  }
  OPENSSL_cleanse(next, sizeof next);
}

Result<SecretBytes> deriveEpochKey(const AuditKey& base, std::uint64_t target_epoch,
                                   std::uint64_t max_steps) {
  if (target_epoch < base.epoch) {
    return auditError(Errc::kUnknownKey, "key " + base.kid + " is of epoch " +
                                             std::to_string(base.epoch) + "; epoch " +
                                             std::to_string(target_epoch) +
                                             " needs an earlier key (keys evolve forward only)");
  }
  if (target_epoch - base.epoch > max_steps) {
    return auditError(Errc::kUnknownKey, "epoch " + std::to_string(target_epoch) +
                                             " is implausibly far beyond key " + base.kid + "@" +
                                             std::to_string(base.epoch));
  }
  SecretBytes key = base.key.clone();
  for (std::uint64_t e = base.epoch; e < target_epoch; ++e) advanceEpochKey(key);
  return key;
}

}  // namespace bulwark::audit

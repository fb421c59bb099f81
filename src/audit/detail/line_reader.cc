#include "audit/detail/line_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>

namespace bulwark::audit::detail {
namespace {

constexpr std::size_t kInitialBuffer = 1 << 20;
constexpr std::size_t kMaxLine = 64 << 20;  // a longer "line" is not a record of ours

}  // namespace

std::string segmentName(std::uint64_t first_seq) {
  char digits[21];
  std::snprintf(digits, sizeof digits, "%020llu", static_cast<unsigned long long>(first_seq));
  return std::string(kSegmentPrefix) + digits + std::string(kSegmentSuffix);
}

Result<std::vector<SegmentFile>> listSegments(const std::string& directory) {
  std::vector<SegmentFile> segments;
  std::error_code ec;
  std::filesystem::directory_iterator it(directory, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) return segments;
    return systemError(ec.value(), "cannot list " + directory);
  }
  for (const auto& entry : it) {
    const std::string name = entry.path().filename().string();
    if (name.size() != kSegmentPrefix.size() + 20 + kSegmentSuffix.size() ||
        name.compare(0, kSegmentPrefix.size(), kSegmentPrefix) != 0 ||
        name.compare(name.size() - kSegmentSuffix.size(), kSegmentSuffix.size(), kSegmentSuffix) !=
            0) {
      continue;
    }
    std::uint64_t first = 0;
    const char* begin = name.data() + kSegmentPrefix.size();
    const auto [end, parse_ec] = std::from_chars(begin, begin + 20, first);
    if (parse_ec != std::errc() || end != begin + 20) continue;
    segments.push_back({first, entry.path().string()});
  }
  std::sort(segments.begin(), segments.end(),
            [](const auto& a, const auto& b) { return a.first_seq < b.first_seq; });
  return segments;
}

LineReader::~LineReader() { close(); }

void LineReader::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  begin_ = end_ = 0;
  ended_at_nul_ = false;
}

Result<void> LineReader::open(const std::string& path, std::uint64_t offset,
                              std::uint64_t line_number) {
  close();
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) return systemError(errno, "cannot open " + path);
  if (offset != 0 && ::lseek(fd_, static_cast<off_t>(offset), SEEK_SET) < 0) {
    const int error = errno;
    close();
    return systemError(error, "cannot seek in " + path);
  }
  ::posix_fadvise(fd_, static_cast<off_t>(offset), 0, POSIX_FADV_SEQUENTIAL);
  path_ = path;
  offset_ = offset;
  line_number_ = line_number;
  if (buffer_.size() < kInitialBuffer) buffer_.resize(kInitialBuffer);
  return {};
}

Result<std::optional<std::string_view>> LineReader::next() {
  bool stopped_at_nul = false;
  for (;;) {
    if (begin_ < end_) {
      const char* start = buffer_.data() + begin_;
      const auto* newline = static_cast<const char*>(std::memchr(start, '\n', end_ - begin_));
      if (newline != nullptr) {
        const auto length = static_cast<std::size_t>(newline - start);
        begin_ += length + 1;
        offset_ += length + 1;
        ++line_number_;
        return std::optional<std::string_view>(std::string_view(start, length));
      }
    }
    if (stopped_at_nul) return std::optional<std::string_view>();
    // Keep the partial line and read more behind it.
    if (begin_ > 0) {
      std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (end_ == buffer_.size()) {
      if (buffer_.size() >= kMaxLine) {
        return auditError(Errc::kBadFormat, path_ + ": a line longer than " +
                                                std::to_string(kMaxLine) + " bytes at byte " +
                                                std::to_string(offset_));
      }
      buffer_.resize(buffer_.size() * 2);
    }
    ssize_t n;
    do {
      n = ::read(fd_, buffer_.data() + end_, buffer_.size() - end_);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return systemError(errno, "cannot read " + path_);
    ended_at_nul_ = false;
    if (n == 0) return std::optional<std::string_view>();
    const char* fresh = buffer_.data() + end_;
    const auto* nul =
        static_cast<const char*>(std::memchr(fresh, '\0', static_cast<std::size_t>(n)));
    if (nul == nullptr) {
      end_ += static_cast<std::size_t>(n);
      continue;
    }
    // The data ends here. Read from this byte again next time: it may be a record by then.
    end_ += static_cast<std::size_t>(nul - fresh);
    ended_at_nul_ = stopped_at_nul = true;
    if (::lseek(fd_, static_cast<off_t>(offset_ + (end_ - begin_)), SEEK_SET) < 0) {
      return systemError(errno, "cannot seek in " + path_);
    }
  }
}

Result<std::uint64_t> LineReader::endOfBytesAfterData() const {
  const std::uint64_t data_end = offset_ + (end_ - begin_);
  if (!ended_at_nul_) return data_end;
  std::uint64_t end = data_end;
  std::vector<char> chunk(1 << 20);
  for (std::uint64_t at = data_end;;) {
    const ssize_t n = ::pread(fd_, chunk.data(), chunk.size(), static_cast<off_t>(at));
    if (n < 0) {
      if (errno == EINTR) continue;
      return systemError(errno, "cannot read " + path_);
    }
    if (n == 0) return end;
    for (ssize_t i = n; i > 0; --i) {
      if (chunk[static_cast<std::size_t>(i - 1)] != '\0') {
        end = at + static_cast<std::uint64_t>(i);
        break;
      }
    }
    at += static_cast<std::uint64_t>(n);
  }
}

}  // namespace bulwark::audit::detail

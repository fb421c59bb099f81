#pragma once
// Sequential reading of one segment file line by line with a large buffer (the verifier's and
// the cursors' I/O), and the segment naming of the file store.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/error.h"

namespace bulwark::audit::detail {

inline constexpr std::string_view kSegmentPrefix = "segment-";
inline constexpr std::string_view kSegmentSuffix = ".ndjson";

struct SegmentFile {
  std::uint64_t first_seq = 0;  // from the name
  std::string path;
};

// Returns "segment-<first_seq, 20 digits>.ndjson".
std::string segmentName(std::uint64_t first_seq);
// Lists the segment files of `directory` in order; other files are ignored. A missing
// directory is an empty list.
Result<std::vector<SegmentFile>> listSegments(const std::string& directory);

// Reads a file line by line from a byte offset. Not thread-safe. Reading on after the end picks
// up bytes appended since (a file that grows while a writer appends).
//
// The file store preallocates segment space with NUL bytes (file_store.cc), so a segment's data
// ends at its first NUL byte: next() treats that byte as the end of the file, and reads from it
// again on the next call (the writer may have written records over it since).
class LineReader {
 public:
  LineReader() = default;
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  // Opens `path` at byte `offset`; line numbers continue from `line_number`.
  Result<void> open(const std::string& path, std::uint64_t offset = 0,
                    std::uint64_t line_number = 0);
  bool isOpen() const { return fd_ >= 0; }
  void close();

  // Returns the next complete line without its '\n' (valid until the next call), or nullopt at
  // the end of the file; fragment() then holds the bytes after the last '\n'.
  Result<std::optional<std::string_view>> next();
  std::string_view fragment() const { return {buffer_.data() + begin_, end_ - begin_}; }
  // Whether the last nullopt came from a NUL byte (preallocated space) rather than the file's end.
  bool endedAtNul() const { return ended_at_nul_; }
  // After next() ended at a NUL byte: the offset just past the last non-NUL byte of the file —
  // bytes beyond the data's end, which only a crash (writes that never became durable) or
  // tampering leave — or the NUL's offset when everything after it is NUL.
  Result<std::uint64_t> endOfBytesAfterData() const;
  // Line number of the last line returned (1-based).
  std::uint64_t lineNumber() const { return line_number_; }
  // Byte offset just after the last line returned (where the next line starts).
  std::uint64_t offset() const { return offset_; }
  const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
  std::vector<char> buffer_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  std::uint64_t offset_ = 0;
  std::uint64_t line_number_ = 0;
  bool ended_at_nul_ = false;
};

}  // namespace bulwark::audit::detail

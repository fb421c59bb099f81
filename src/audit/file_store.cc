// Segment files. Crash-safety rests on three rules: a batch is one pwrite() at the end of the
// data (cut back if it fails), durability is fdatasync() of the file, and a new segment is
// created only after the old one is synced and its directory entry is synced, so after a crash
// at most the last line of the last segment can be torn.
//
// Preallocation (FileStoreConfig::preallocate): the space ahead of the data is written with NUL
// bytes (kPreallocate at a time), so the file's size stays put while records are written over the
// NULs and an fdatasync() writes the data and flushes the disk cache, without the inode write that
// an append's new file size costs (bench/RESULTS.md: about half the fsync latency on ext4). A
// segment's data ends at its first NUL byte (detail::LineReader stops there); closed and
// rotated segments are cut to their data, so only the segment being written — or the last one
// after a crash — has a NUL tail, which open() cuts off again, keeping any non-NUL bytes in it
// aside as a torn tail.

#include "audit/file_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <memory>
#include <mutex>

#include "audit/detail/line_reader.h"
#include "audit/record.h"

namespace bulwark::audit {
namespace {

using detail::LineReader;
using detail::SegmentFile;

Result<void> syncDirectory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return systemError(errno, "cannot open directory " + dir);
  const int rc = ::fsync(fd);
  const int error = errno;
  ::close(fd);
  if (rc != 0) return systemError(error, "cannot fsync directory " + dir);
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

Result<void> writeAllAt(int fd, std::string_view data, std::uint64_t offset,
                        const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return systemError(errno, "cannot write " + path);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
    offset += static_cast<std::uint64_t>(n);
  }
  return {};
}

// NUL bytes written ahead of the data at a time: one slower fsync per MiB of records.
constexpr std::uint64_t kPreallocate = 1 << 20;

std::uint64_t headerSeq(std::string_view line) {
  RecordHeader header;
  return parseRecordHeader(line, header) ? header.seq : 0;
}

// The tail of one segment file: its last parseable record line and what follows it.
struct SegmentTail {
  std::uint64_t first_seq = 0;  // first parseable record, 0 when none
  std::uint64_t last_seq = 0;
  std::string last_line;
  std::uint64_t unparseable_after = 0;
  std::uint64_t complete_bytes = 0;  // offset after the last '\n'
  std::uint64_t fragment_bytes = 0;  // bytes after it, up to the end of the data
  // Past the last non-NUL byte after the data (crash debris beyond preallocated NULs), or the
  // end of the data when there is none.
  std::uint64_t debris_end = 0;
  std::uint64_t file_size = 0;
};

Result<SegmentTail> scanSegment(const std::string& path) {
  SegmentTail tail;
  LineReader reader;
  if (auto opened = reader.open(path); !opened) return opened.error();
  for (;;) {
    auto line = reader.next();
    if (!line) return line.error();
    if (!*line) break;
    const std::uint64_t seq = headerSeq(**line);
    if (seq == 0) {
      ++tail.unparseable_after;
      continue;
    }
    if (tail.first_seq == 0) tail.first_seq = seq;
    tail.last_seq = seq;
    tail.last_line.assign(**line);
    tail.unparseable_after = 0;
  }
  tail.complete_bytes = reader.offset();
  tail.fragment_bytes = reader.fragment().size();
  auto debris_end = reader.endOfBytesAfterData();
  if (!debris_end) return debris_end.error();
  tail.debris_end = *debris_end;
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return systemError(errno, "cannot stat " + path);
  tail.file_size = static_cast<std::uint64_t>(info.st_size);
  return tail;
}

class FileCursor final : public Cursor {
 public:
  FileCursor(std::string directory, std::uint64_t from)
      : directory_(std::move(directory)), from_(from) {}

  Result<std::optional<StoredRecord>> next() override {
    for (;;) {
      if (!reader_.isOpen()) {
        auto listed = detail::listSegments(directory_);
        if (!listed) return listed.error();
        segments_ = std::move(*listed);
        if (segments_.empty()) return std::optional<StoredRecord>();
        // The last segment starting at or before from_ holds it (or the first segment).
        index_ = 0;
        for (std::size_t i = 0; i < segments_.size(); ++i) {
          if (segments_[i].first_seq <= from_) index_ = i;
        }
        if (auto opened = reader_.open(segments_[index_].path); !opened) return opened.error();
      }
      auto line = reader_.next();
      if (!line) return line.error();
      if (*line) {
        const std::uint64_t seq = headerSeq(**line);
        if (seq != 0 && seq < from_) continue;
        return std::optional<StoredRecord>(
            StoredRecord{seq, **line, reader_.path(), reader_.lineNumber()});
      }
      // End of this segment. A later segment means this one is final: read it to its end once
      // more (the writer may have appended between our read and its rotation), then move on.
      auto listed = detail::listSegments(directory_);
      if (!listed) return listed.error();
      segments_ = std::move(*listed);
      std::size_t next_index = segments_.size();
      for (std::size_t i = 0; i < segments_.size(); ++i) {
        if (segments_[i].path == reader_.path()) next_index = i + 1;
      }
      if (next_index >= segments_.size()) return std::optional<StoredRecord>();
      auto again = reader_.next();
      if (!again) return again.error();
      if (*again) {
        const std::uint64_t seq = headerSeq(**again);
        if (seq != 0 && seq < from_) continue;
        return std::optional<StoredRecord>(
            StoredRecord{seq, **again, reader_.path(), reader_.lineNumber()});
      }
      index_ = next_index;
      if (auto opened = reader_.open(segments_[index_].path); !opened) return opened.error();
    }
  }

 private:
  std::string directory_;
  std::uint64_t from_;
  std::vector<SegmentFile> segments_;
  std::size_t index_ = 0;
  LineReader reader_;
};

class FileStore final : public Store {
 public:
  explicit FileStore(FileStoreConfig config) : config_(std::move(config)) {}
  ~FileStore() override { close(); }

  Result<TailInfo> open() override {
    if (config_.segment_size == 0) {
      return auditError(Errc::kBadConfig, "audit segment size must be positive");
    }
    std::error_code ec;
    std::filesystem::create_directories(config_.directory, ec);
    if (ec) return systemError(ec.value(), "cannot create audit directory " + config_.directory);
    ::chmod(config_.directory.c_str(), 0700);
    if (auto locked = lock(); !locked) return locked.error();

    auto listed = detail::listSegments(config_.directory);
    if (!listed) return listed.error();
    std::vector<SegmentFile> segments = std::move(*listed);
    TailInfo info;
    while (!segments.empty()) {
      const SegmentFile& last = segments.back();
      auto tail = scanSegment(last.path);
      if (!tail) return tail.error();
      if (tail->debris_end > tail->complete_bytes) {
        // A torn last line, and any bytes a crash left beyond the NULs (with the NULs between).
        auto torn =
            cutFragment(last.path, tail->complete_bytes, tail->debris_end - tail->complete_bytes);
        if (!torn) return torn.error();
        torn->beyond_nul = tail->debris_end > tail->complete_bytes + tail->fragment_bytes;
        // One torn fragment per open: the report names the latest.
        info.torn = std::move(*torn);
      } else if (tail->file_size > tail->complete_bytes) {
        // Only preallocated NULs after the data: nothing to keep.
        if (auto cut = cutTo(last.path, tail->complete_bytes); !cut) return cut.error();
      }
      if (tail->complete_bytes == 0) {
        // Nothing but a fragment: the segment never held a record. Drop the empty file.
        if (::unlink(last.path.c_str()) != 0) {
          return systemError(errno, "cannot remove empty segment " + last.path);
        }
        if (auto synced = syncDirectory(config_.directory); !synced) return synced.error();
        segments.pop_back();
        continue;
      }
      info.check_from = tail->first_seq != 0 ? tail->first_seq : last.first_seq;
      info.last_seq = tail->last_seq;
      info.last_line = std::move(tail->last_line);
      info.unparseable_tail_lines = tail->unparseable_after;
      if (tail->last_seq == 0 && segments.size() > 1) {
        // A segment of only unparseable lines: the chain continues from the previous one.
        auto previous = scanSegment(segments[segments.size() - 2].path);
        if (!previous) return previous.error();
        info.last_seq = previous->last_seq;
        info.last_line = std::move(previous->last_line);
        info.unparseable_tail_lines += previous->unparseable_after;
        info.check_from = previous->first_seq != 0 ? previous->first_seq : 1;
      }
      if (auto opened = openForAppend(last.path, tail->complete_bytes); !opened) {
        return opened.error();
      }
      break;
    }
    return info;
  }

  Result<void> append(const Batch& batch) override {
    if (batch.bytes.empty()) return {};
    if (!segment_ || size_ >= config_.segment_size) {
      const std::uint64_t first = batch.records.empty() ? 0 : batch.records.front().seq;
      if (auto rotated = rotate(first); !rotated) return rotated;
    }
    Segment& segment = *segment_;
    if (config_.preallocate) preallocate(segment.fd, segment.path, size_ + batch.bytes.size());
    auto written = writeAllAt(segment.fd, batch.bytes, size_, segment.path);
    if (!written) {
      // Leave nothing half-written behind: the batch will be retried or the writer fails.
      if (::ftruncate(segment.fd, static_cast<off_t>(size_)) != 0) {
        return systemError(errno, "cannot cut a failed write off " + segment.path);
      }
      allocated_ = size_;
      return written;
    }
    size_ += batch.bytes.size();
    segment.dirty.store(true, std::memory_order_release);
    return {};
  }

  // May run on another thread than append(): covers every append that returned before it.
  Result<void> sync() override {
    std::shared_ptr<Segment> segment;
    {
      std::lock_guard lock(segment_mutex_);
      segment = segment_;
    }
    return syncSegment(segment.get());
  }

  void close() override {
    {
      std::lock_guard lock(segment_mutex_);
      // Called after the last sync: cutting the NULs off loses nothing, and a crash before the
      // cut is durable leaves them for open() to cut.
      if (segment_ && allocated_ > size_ &&
          ::ftruncate(segment_->fd, static_cast<off_t>(size_)) == 0) {
        ::fdatasync(segment_->fd);
      }
      allocated_ = size_;
      segment_.reset();
    }
    if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
    lock_fd_ = -1;
  }

  Result<CursorPtr> read(std::uint64_t from_seq) const override {
    return CursorPtr(std::make_unique<FileCursor>(config_.directory, from_seq));
  }

  Result<std::uint64_t> lastSeq() const override {
    auto listed = detail::listSegments(config_.directory);
    if (!listed) return listed.error();
    for (auto it = listed->rbegin(); it != listed->rend(); ++it) {
      auto seq = lastSeqOf(it->path);
      if (!seq) return seq.error();
      if (*seq != 0) return *seq;
    }
    return std::uint64_t{0};
  }

  std::string describe() const override { return "files:" + config_.directory; }

 private:
  Result<void> lock() {
    const std::string path = config_.directory + "/LOCK";
    lock_fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock_fd_ < 0) return systemError(errno, "cannot open " + path);
    if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
      const int error = errno;
      char pid[32] = {};
      const ssize_t n = ::pread(lock_fd_, pid, sizeof pid - 1, 0);
      ::close(lock_fd_);
      lock_fd_ = -1;
      if (error == EWOULDBLOCK) {
        std::string holder = n > 0 ? std::string(pid, static_cast<std::size_t>(n)) : "";
        while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) {
          holder.pop_back();
        }
        return auditError(Errc::kLocked, "audit trail " + config_.directory +
                                             " is being written by another process" +
                                             (holder.empty() ? "" : " (pid " + holder + ")"));
      }
      return systemError(error, "cannot lock " + path);
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(lock_fd_, 0) != 0 || ::pwrite(lock_fd_, pid.data(), pid.size(), 0) < 0) {
      // The pid is a courtesy for the message above; the flock is what excludes.
    }
    return {};
  }

  // Cuts `path` to `size` bytes, durably.
  Result<void> cutTo(const std::string& path, std::uint64_t size) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return systemError(errno, "cannot open " + path);
    const bool cut = ::ftruncate(fd, static_cast<off_t>(size)) == 0 && ::fsync(fd) == 0;
    const int error = errno;
    ::close(fd);
    if (!cut) return systemError(error, "cannot cut the preallocated end of " + path);
    return {};
  }

  // Writes NULs ahead of the data so that `needed` bytes and up to kPreallocate more (no more
  // than a segment's size: small segments rotate before they would use it) fit without changing
  // the file's size. Best effort: if it fails (a full disk), the data is written past the end as
  // a plain append would be.
  void preallocate(int fd, const std::string& path, std::uint64_t needed) {
    if (needed <= allocated_) return;
    const std::uint64_t target = needed + std::min(kPreallocate, config_.segment_size);
    if (nuls_.size() < kPreallocate) nuls_.assign(kPreallocate, '\0');
    for (std::uint64_t at = allocated_; at < target;) {
      const std::uint64_t n = std::min<std::uint64_t>(target - at, nuls_.size());
      if (!writeAllAt(fd, std::string_view(nuls_.data(), n), at, path)) {
        // Whatever was written is NULs past the data: harmless, and cut at close or open.
        return;
      }
      at += n;
      allocated_ = at;
    }
  }

  Result<TornTail> cutFragment(const std::string& path, std::uint64_t offset,
                               std::uint64_t length) {
    TornTail torn{path, offset, length, path + ".torn-" + std::to_string(offset)};
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return systemError(errno, "cannot open " + path);
    std::string fragment(length, '\0');
    const ssize_t n = ::pread(fd, fragment.data(), length, static_cast<off_t>(offset));
    if (n != static_cast<ssize_t>(length)) {
      const int error = n < 0 ? errno : EIO;
      ::close(fd);
      return systemError(error, "cannot read the torn end of " + path);
    }
    const int out = ::open(torn.quarantine.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0) {
      const int error = errno;
      ::close(fd);
      return systemError(error, "cannot create " + torn.quarantine);
    }
    auto written = writeAll(out, fragment, torn.quarantine);
    const bool synced = written && ::fsync(out) == 0;
    ::close(out);
    if (!written || !synced) {
      ::close(fd);
      return systemError(written ? errno : EIO, "cannot save the torn end of " + path);
    }
    if (::ftruncate(fd, static_cast<off_t>(offset)) != 0 || ::fsync(fd) != 0) {
      const int error = errno;
      ::close(fd);
      return systemError(error, "cannot cut the torn end of " + path);
    }
    ::close(fd);
    if (auto dir = syncDirectory(config_.directory); !dir) return dir.error();
    return torn;
  }

  // The segment being appended to. Shared with a sync() running on another thread, which may
  // still hold a rotated-away segment (its fd closes when the last holder lets go).
  struct Segment {
    Segment(int fd_in, std::string path_in) : fd(fd_in), path(std::move(path_in)) {}
    ~Segment() { ::close(fd); }
    Segment(const Segment&) = delete;
    Segment& operator=(const Segment&) = delete;
    const int fd;
    const std::string path;
    std::atomic<bool> dirty{false};
  };

  static Result<void> syncSegment(Segment* segment) {
    // Cleared before the fdatasync: an append during it marks the segment dirty again.
    if (segment == nullptr || !segment->dirty.exchange(false, std::memory_order_acq_rel)) {
      return {};
    }
    if (::fdatasync(segment->fd) != 0) {
      segment->dirty.store(true);
      return systemError(errno, "cannot fsync " + segment->path);
    }
    return {};
  }

  void setSegment(std::shared_ptr<Segment> segment) {
    std::lock_guard lock(segment_mutex_);
    segment_ = std::move(segment);
  }

  // `size`: the segment's data, which open() has cut it to.
  Result<void> openForAppend(const std::string& path, std::uint64_t size) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return systemError(errno, "cannot open " + path + " for appending");
    setSegment(std::make_shared<Segment>(fd, path));
    size_ = size;
    allocated_ = size;
    return {};
  }

  Result<void> rotate(std::uint64_t first_seq) {
    // The old segment is cut to its data and made durable before a newer one exists, so after
    // a crash only the last segment can have a torn end or a NUL tail.
    if (segment_ && allocated_ > size_) {
      if (::ftruncate(segment_->fd, static_cast<off_t>(size_)) != 0) {
        return systemError(errno, "cannot cut the preallocated end of " + segment_->path);
      }
      segment_->dirty.store(true, std::memory_order_release);
    }
    if (auto synced = syncSegment(segment_.get()); !synced) return synced;
    const std::string path = config_.directory + "/" + detail::segmentName(first_seq);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return systemError(errno, "cannot create segment " + path);
    auto segment = std::make_shared<Segment>(fd, path);
    if (auto synced = syncDirectory(config_.directory); !synced) return synced;
    setSegment(std::move(segment));
    size_ = 0;
    allocated_ = 0;
    return {};
  }

  static Result<std::uint64_t> lastSeqOf(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return systemError(errno, "cannot open " + path);
    struct stat info {};
    if (::fstat(fd, &info) != 0) {
      const int error = errno;
      ::close(fd);
      return systemError(error, "cannot stat " + path);
    }
    // Read ever larger pieces of the end until one holds a complete, parseable line.
    const auto size = static_cast<std::uint64_t>(info.st_size);
    std::uint64_t window = 64 << 10;
    std::string buffer;
    for (;;) {
      const std::uint64_t start = size > window ? size - window : 0;
      buffer.resize(size - start);
      const ssize_t n = ::pread(fd, buffer.data(), buffer.size(), static_cast<off_t>(start));
      if (n < 0) {
        const int error = errno;
        ::close(fd);
        return systemError(error, "cannot read " + path);
      }
      buffer.resize(static_cast<std::size_t>(n));
      std::string_view text(buffer);
      // The data ends at the first NUL (preallocated space; file_store.cc's header).
      if (const auto nul = text.find('\0'); nul != std::string_view::npos) {
        if (nul == 0 && start > 0) {  // all of this window may lie beyond the data: widen
          window *= 4;
          continue;
        }
        text = text.substr(0, nul);
      }
      // Drop a trailing fragment, then walk complete lines backwards.
      const auto last_newline = text.rfind('\n');
      text = last_newline == std::string_view::npos ? std::string_view()
                                                    : text.substr(0, last_newline);
      while (!text.empty()) {
        const auto previous = text.rfind('\n');
        if (previous == std::string_view::npos && start > 0) break;  // line may be cut: widen
        const std::string_view line =
            previous == std::string_view::npos ? text : text.substr(previous + 1);
        if (const std::uint64_t seq = headerSeq(line); seq != 0) {
          ::close(fd);
          return seq;
        }
        text = previous == std::string_view::npos ? std::string_view() : text.substr(0, previous);
      }
      if (start == 0) break;
      window *= 4;
    }
    ::close(fd);
    return std::uint64_t{0};
  }

  FileStoreConfig config_;
  int lock_fd_ = -1;
  // Written by the appending thread only; read under the mutex by sync().
  std::mutex segment_mutex_;
  std::shared_ptr<Segment> segment_;
  std::uint64_t size_ = 0;       // of segment_'s data; appending thread only
  std::uint64_t allocated_ = 0;  // segment_'s file size (data + preallocated NULs); same
  std::string nuls_;             // kPreallocate NUL bytes, made once
};

}  // namespace

StorePtr makeFileStore(FileStoreConfig config) {
  return std::make_shared<FileStore>(std::move(config));
}

}  // namespace bulwark::audit

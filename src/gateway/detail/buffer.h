#pragma once
// A growable byte buffer with a read window [begin, end), reused for every request of a
// connection so steady-state proxying allocates nothing. Private to src/gateway.

#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>

namespace bulwark::gateway::detail {

class ByteBuffer {
 public:
  explicit ByteBuffer(std::size_t capacity)
      : data_(std::make_unique<char[]>(capacity)), capacity_(capacity) {}

  std::string_view view() const { return {data_.get() + begin_, end_ - begin_}; }
  std::size_t size() const { return end_ - begin_; }
  bool empty() const { return begin_ == end_; }
  std::size_t capacity() const { return capacity_; }

  // Drops `n` bytes from the front of the window.
  void consume(std::size_t n) {
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
  }
  void clear() { begin_ = end_ = 0; }

  // Space to read into, moving the window to the front first when that makes room.
  char* writePtr() { return data_.get() + end_; }
  std::size_t writable() {
    if (end_ == capacity_ && begin_ > 0) compact();
    return capacity_ - end_;
  }
  void commit(std::size_t n) { end_ += n; }

  // Grows to `capacity` bytes (no-op when already that large).
  void reserve(std::size_t capacity) {
    if (capacity <= capacity_) return;
    auto bigger = std::make_unique<char[]>(capacity);
    std::memcpy(bigger.get(), data_.get() + begin_, size());
    end_ -= begin_;
    begin_ = 0;
    data_ = std::move(bigger);
    capacity_ = capacity;
  }

 private:
  void compact() {
    std::memmove(data_.get(), data_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }

  std::unique_ptr<char[]> data_;
  std::size_t capacity_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

}  // namespace bulwark::gateway::detail

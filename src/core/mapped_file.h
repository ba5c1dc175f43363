// A file mapped read-only into memory (mmap): its bytes readable as a string_view without being
// read into the heap; the kernel pages them in as they are touched and may drop them again.
// For large uploads the transport wrote to disk (a multipart video, say).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

namespace sightline {

class MappedFile {
 public:
  // Errors: kNotFound when it cannot be opened or mapped. An empty file maps to an empty view.
  static Result<std::shared_ptr<const MappedFile>> Open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  std::string_view bytes() const { return {static_cast<const char*>(data_), size_}; }

 private:
  MappedFile() = default;
  void* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace sightline

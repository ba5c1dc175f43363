// `image_path` inputs: files are read only from under directories the operator named with
// --allow-path. Paths are resolved (symlinks and "..") before the check, so neither can escape.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "core/status.h"

namespace sightline::sources {

class PathPolicy {
 public:
  // Roots that do not exist are an error (a typo must not silently disable a root).
  static Result<PathPolicy> Create(const std::vector<std::string>& roots);
  PathPolicy() = default;

  bool enabled() const { return !roots_.empty(); }
  // Errors: kForbidden outside every root (or none configured); kNotFound when missing;
  // kPayloadTooLarge over max_bytes.
  Result<std::string> Read(const std::string& path, size_t max_bytes) const;
  // The same checks without reading: the resolved path of a regular file under a root, for
  // inputs read in pieces (videos). `field` names the parameter in errors ("video_path").
  Result<std::string> Locate(const std::string& path, const std::string& field) const;

 private:
  std::vector<std::filesystem::path> roots_;  // canonical
};

}  // namespace sightline::sources

#include "sources/path_policy.h"

#include <fstream>
#include <iterator>

namespace sightline::sources {
namespace fs = std::filesystem;

namespace {
bool Under(const fs::path& p, const fs::path& root) {
  auto r = root.begin(), q = p.begin();
  for (; r != root.end(); ++r, ++q)
    if (q == p.end() || *q != *r) return false;
  return true;
}
}  // namespace

Result<PathPolicy> PathPolicy::Create(const std::vector<std::string>& roots) {
  PathPolicy p;
  for (const auto& r : roots) {
    std::error_code ec;
    fs::path c = fs::canonical(r, ec);
    if (ec || !fs::is_directory(c, ec))
      return FailedPrecondition("--allow-path '" + r + "' is not a directory");
    p.roots_.push_back(c);
  }
  return p;
}

Result<std::string> PathPolicy::Locate(const std::string& path, const std::string& field) const {
  if (roots_.empty())
    return Status(StatusCode::kForbidden, field + " is disabled: start the server with --allow-path DIR");
  if (path.empty() || path.find('\0') != std::string::npos) return InvalidArgument(field + " is empty");
  std::error_code ec;
  const fs::path resolved = fs::weakly_canonical(fs::path(path), ec);
  bool allowed = false;
  if (!ec)
    for (const auto& r : roots_) allowed |= Under(resolved, r);
  if (!allowed)
    return Status(StatusCode::kForbidden, field + " '" + path + "' is outside the allowed directories");
  if (!fs::is_regular_file(resolved, ec))
    return NotFound(field + " '" + path + "' does not exist or is not a file");
  return resolved.string();
}

Result<std::string> PathPolicy::Read(const std::string& path, size_t max_bytes) const {
  auto located = Locate(path, "image_path");
  if (!located.ok()) return located.status();
  const fs::path resolved = *located;
  std::error_code ec;
  const auto size = fs::file_size(resolved, ec);
  if (ec) return NotFound("image_path '" + path + "' cannot be read");
  if (size > max_bytes)
    return Status(StatusCode::kPayloadTooLarge,
                  "image_path '" + path + "' is over the " + std::to_string(max_bytes) + "-byte limit");
  std::ifstream in(resolved, std::ios::binary);
  if (!in) return NotFound("image_path '" + path + "' cannot be read");
  // One read of the known size: a character iterator took ~2 s for a 48 MB RAW file.
  std::string bytes(static_cast<size_t>(size), '\0');
  if (!in.read(bytes.data(), static_cast<std::streamsize>(bytes.size())))
    return NotFound("image_path '" + path + "' could not be read in full");
  return bytes;
}

}  // namespace sightline::sources

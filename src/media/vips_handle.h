// Internal to media/: owning handle for libvips images and the error-buffer reader both the
// decoder and the preprocessor use. libvips reports errors through a global text buffer.
#pragma once

#include <vips/vips.h>

#include <cctype>
#include <memory>
#include <string>

namespace sightline::media {

struct VipsUnref {
  void operator()(VipsImage* image) const {
    if (image) g_object_unref(image);
  }
};
using VImage = std::unique_ptr<VipsImage, VipsUnref>;

// "VipsForeignLoadJpegBuffer" -> "jpeg": the format name images and metadata report.
inline std::string LoaderFormatName(const char* loader) {
  std::string s = loader ? loader : "";
  const std::string prefix = "VipsForeignLoad";
  if (s.rfind(prefix, 0) == 0) s = s.substr(prefix.size());
  for (const std::string suffix : {"Buffer", "Source"})
    if (s.size() > suffix.size() && s.compare(s.size() - suffix.size(), std::string::npos, suffix) == 0)
      s = s.substr(0, s.size() - suffix.size());
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The first line of libvips' error buffer, which is cleared.
inline std::string TakeVipsError() {
  std::string msg = vips_error_buffer();
  vips_error_clear();
  const auto nl = msg.find('\n');
  if (nl != std::string::npos) msg = msg.substr(0, nl);
  while (!msg.empty() && msg.back() == ' ') msg.pop_back();
  return msg.empty() ? "libvips gave no reason" : msg;
}

}  // namespace sightline::media

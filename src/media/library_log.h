// libvips (and the GLib beneath it) reports some problems through GLib's log rather than its
// error buffer — a corrupt tile, a bad PNG chunk — and GLib prints those on stderr, outside the
// server's JSON log. A sink set here receives them instead.
#pragma once

#include <functional>
#include <string_view>

namespace sightline::media {

// `domain` is GLib's log domain ("VIPS", "GLib", ...); `level` is "error", "critical",
// "warning" or "message" (info and debug are dropped).
using LibraryLogSink =
    std::function<void(std::string_view domain, std::string_view level, std::string_view message)>;

// Process-wide, like libvips itself. An empty sink restores GLib's own handler; clear it after
// the last image work has finished and before what the sink captures is destroyed.
void SetLibraryLogSink(LibraryLogSink sink);

}  // namespace sightline::media

#include "media/library_log.h"

#include <glib.h>

#include <memory>
#include <mutex>

namespace sightline::media {
namespace {

std::mutex& SinkMutex() {
  static std::mutex mu;
  return mu;
}
std::shared_ptr<const LibraryLogSink>& CurrentSink() {
  static std::shared_ptr<const LibraryLogSink> sink;
  return sink;
}

const char* LevelName(GLogLevelFlags level) {
  if (level & G_LOG_LEVEL_ERROR) return "error";
  if (level & G_LOG_LEVEL_CRITICAL) return "critical";
  if (level & G_LOG_LEVEL_WARNING) return "warning";
  if (level & G_LOG_LEVEL_MESSAGE) return "message";
  return nullptr;  // info, debug
}

void Forward(const gchar* domain, GLogLevelFlags level, const gchar* message, gpointer) {
  const char* name = LevelName(level);
  if (!name) return;
  std::shared_ptr<const LibraryLogSink> sink;
  {
    std::lock_guard lock(SinkMutex());
    sink = CurrentSink();
  }
  if (sink) (*sink)(domain ? domain : "", name, message ? message : "");
}

}  // namespace

void SetLibraryLogSink(LibraryLogSink sink) {
  std::lock_guard lock(SinkMutex());
  if (sink) {
    CurrentSink() = std::make_shared<const LibraryLogSink>(std::move(sink));
    g_log_set_default_handler(Forward, nullptr);
  } else {
    CurrentSink().reset();
    g_log_set_default_handler(g_log_default_handler, nullptr);
  }
}

}  // namespace sightline::media

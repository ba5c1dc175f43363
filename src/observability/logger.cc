#include "observability/logger.h"

#include "core/utf8.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>

namespace sightline::observability {

void AppendJsonEscaped(std::string& out, std::string_view raw) {
  const std::string s = ToValidUtf8(raw);  // paths and headers carry client bytes
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
}

void LogFields::Key(std::string_view key) {
  text_ += ",\"";
  AppendJsonEscaped(text_, key);
  text_ += "\":";
}

LogFields& LogFields::Add(std::string_view key, std::string_view value) {
  Key(key);
  text_ += '"';
  AppendJsonEscaped(text_, value);
  text_ += '"';
  return *this;
}

LogFields& LogFields::Add(std::string_view key, double value) {
  Key(key);
  if (!std::isfinite(value)) {
    text_ += "null";
  } else {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", value);
    text_ += buf;
  }
  return *this;
}

LogFields& LogFields::Add(std::string_view key, int64_t value) {
  Key(key);
  text_ += std::to_string(value);
  return *this;
}

LogFields& LogFields::Add(std::string_view key, bool value) {
  Key(key);
  text_ += value ? "true" : "false";
  return *this;
}

std::shared_ptr<Logger> Logger::Create(LogLevel level, const std::string& sink) {
  std::shared_ptr<spdlog::sinks::sink> s;
  if (sink.empty() || sink == "stderr")
    s = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  else
    s = std::make_shared<spdlog::sinks::basic_file_sink_mt>(sink);
  // Not registered with spdlog's global registry: the Logger object is the only handle.
  auto impl = std::make_shared<spdlog::logger>("sightline", std::move(s));
  impl->set_pattern("%v");
  impl->set_level(spdlog::level::trace);
  impl->flush_on(spdlog::level::trace);
  return std::shared_ptr<Logger>(new Logger(level, std::move(impl)));
}

Logger::Logger(LogLevel level, std::shared_ptr<spdlog::logger> impl)
    : level_(level), impl_(std::move(impl)) {}
Logger::~Logger() = default;

void Logger::Log(LogLevel level, std::string_view event, const LogFields& fields) {
  if (!Enabled(level) || level == LogLevel::kOff) return;
  static constexpr const char* kNames[] = {"debug", "info", "warn", "error", "off"};
  const auto now = std::chrono::system_clock::now();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char ts[64];
  std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  std::string line = "{\"ts\":\"";
  line += ts;
  line += "\",\"level\":\"";
  line += kNames[static_cast<int>(level)];
  line += "\",\"event\":\"";
  AppendJsonEscaped(line, event);
  line += '"';
  line += fields.json();
  line += '}';
  impl_->log(spdlog::level::info, line);
}

bool ParseLogLevel(std::string_view name, LogLevel* out) {
  if (name == "debug")
    *out = LogLevel::kDebug;
  else if (name == "info")
    *out = LogLevel::kInfo;
  else if (name == "warn")
    *out = LogLevel::kWarn;
  else if (name == "error")
    *out = LogLevel::kError;
  else if (name == "off")
    *out = LogLevel::kOff;
  else
    return false;
  return true;
}

}  // namespace sightline::observability

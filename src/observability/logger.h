// Structured JSON logs, one object per line on stderr: {"ts","level","event",...fields}.
// The Logger is an object the server owns and hands down (no process-wide default logger), so a
// router and its workers in one process keep separate streams and levels.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace spdlog {
class logger;
}

namespace sightline::observability {

enum class LogLevel { kDebug, kInfo, kWarn, kError, kOff };

// Builds the field list of one log line as JSON text, escaping as it goes.
class LogFields {
 public:
  LogFields& Add(std::string_view key, std::string_view value);
  LogFields& Add(std::string_view key, const char* value) { return Add(key, std::string_view(value)); }
  LogFields& Add(std::string_view key, const std::string& value) { return Add(key, std::string_view(value)); }
  LogFields& Add(std::string_view key, double value);
  LogFields& Add(std::string_view key, int64_t value);
  LogFields& Add(std::string_view key, int value) { return Add(key, static_cast<int64_t>(value)); }
  LogFields& Add(std::string_view key, uint64_t value) { return Add(key, static_cast<int64_t>(value)); }
  LogFields& Add(std::string_view key, bool value);
  const std::string& json() const { return text_; }

 private:
  void Key(std::string_view key);
  std::string text_;
};

class Logger {
 public:
  // `sink` "stderr" (default) or a file path.
  static std::shared_ptr<Logger> Create(LogLevel level, const std::string& sink = "stderr");
  ~Logger();

  void Log(LogLevel level, std::string_view event, const LogFields& fields = {});
  void Debug(std::string_view e, const LogFields& f = {}) { Log(LogLevel::kDebug, e, f); }
  void Info(std::string_view e, const LogFields& f = {}) { Log(LogLevel::kInfo, e, f); }
  void Warn(std::string_view e, const LogFields& f = {}) { Log(LogLevel::kWarn, e, f); }
  void Error(std::string_view e, const LogFields& f = {}) { Log(LogLevel::kError, e, f); }
  bool Enabled(LogLevel level) const { return level >= level_; }

 private:
  Logger(LogLevel level, std::shared_ptr<spdlog::logger> impl);
  LogLevel level_;
  std::shared_ptr<spdlog::logger> impl_;
};

bool ParseLogLevel(std::string_view name, LogLevel* out);
void AppendJsonEscaped(std::string& out, std::string_view s);

}  // namespace sightline::observability

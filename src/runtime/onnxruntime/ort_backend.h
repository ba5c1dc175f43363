// ONNX Runtime implementation of the Backend interface. The Ort::Env is owned by the factory
// (created by whoever builds the server), never a process-wide static.
#pragma once

#include <functional>
#include <memory>
#include <string_view>

#include "runtime/backend.h"

namespace sightline::runtime {

// Where ONNX Runtime's own log lines go: (severity "warning" | "error" | "fatal", where in ORT,
// message). Unset: ORT's default, coloured lines on stderr.
using EngineLogSink =
    std::function<void(std::string_view severity, std::string_view where, std::string_view message)>;

// Creates the ONNX Runtime factory; `log_id` names the Ort::Env in ORT's own logs, and `sink`,
// when set, receives them (the server turns them into JSON log lines).
Result<std::unique_ptr<BackendFactory>> CreateOrtBackendFactory(const std::string& log_id = "sightline",
                                                                EngineLogSink sink = nullptr);

}  // namespace sightline::runtime

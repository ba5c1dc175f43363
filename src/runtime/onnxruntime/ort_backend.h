// ONNX Runtime implementation of the Backend interface. The Ort::Env is owned by the factory
// (created by whoever builds the server), never a process-wide static.
#pragma once

#include <memory>

#include "runtime/backend.h"

namespace sightline::runtime {

// Creates the ONNX Runtime factory; `log_id` names the Ort::Env in ORT's own logs.
Result<std::unique_ptr<BackendFactory>> CreateOrtBackendFactory(const std::string& log_id = "sightline");

}  // namespace sightline::runtime

// The narrow interface between the scheduler and an inference engine. The scheduler only ever
// sees Backend instances; ONNX Runtime is one implementation (runtime/onnxruntime/), and a
// CUDA/TensorRT provider or another engine plugs in here without touching scheduling/.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "runtime/model_signature.h"
#include "runtime/pool_threads.h"

namespace sightline::runtime {

struct BackendOptions {
  int intra_op_threads = 0;  // 0: engine default
  int inter_op_threads = 0;
  Spinning spinning = Spinning::kOff;
  PoolPriority pool_priority = PoolPriority::kNormal;
  // Plan one block for all activations from the first run's shapes (faster, but the block is
  // large: ISNet's is ~800 MB). Off trades a little speed for a much smaller footprint.
  bool memory_pattern = true;
  std::string execution_provider = "cpu";
};

// One loaded copy of a model. Not thread-safe: the scheduler gives each instance to one thread.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual const ModelSignature& signature() const = 0;
  // Runs one (possibly batched) call. `inputs` are in signature().inputs order. `outputs` lists
  // the signature().outputs indices wanted, ascending (empty = all); they come back in that order.
  // Asking only for what is needed saves the engine's copies (ISNet has 12 outputs, most of them
  // large intermediate maps).
  virtual Result<std::vector<Tensor>> Run(const std::vector<const Tensor*>& inputs,
                                          const std::vector<int>& outputs = {}) = 0;
};

class BackendFactory {
 public:
  virtual ~BackendFactory() = default;
  // Platform name as KServe model metadata reports it, e.g. "onnxruntime_onnx".
  virtual std::string platform() const = 0;
  virtual Result<std::unique_ptr<Backend>> Load(const std::filesystem::path& model_file,
                                                const BackendOptions& options) = 0;
};

}  // namespace sightline::runtime

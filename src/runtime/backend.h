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
  // Folder where the engine keeps the model's optimized graph between loads, so the optimizer runs
  // once per model file, engine version and CPU (runtime/onnxruntime/optimized_graph_cache.h).
  // Empty: optimize on every load and save nothing. Created when missing; if it cannot be
  // written, loading goes on without saving.
  std::filesystem::path optimized_graph_dir;
  // Outputs [N,T,...] wanted for the last position only (a generation decoder's "logits"): where
  // the graph allows it exactly, it is rewritten so they come out [N,1,...] and the LM head runs
  // on one position instead of T (runtime/last_position_logits.h). Such a graph is not cached.
  std::vector<std::string> last_position_outputs;
};

// Where a loaded backend's graph came from.
enum class GraphSource {
  kModelFile,          // the model file, optimized in memory as it loaded
  kOptimizedAndSaved,  // the model file, optimized now and the result saved for later loads
  kOptimizedCache,     // the optimized graph saved by an earlier load (the optimizer did not run)
};
inline const char* GraphSourceName(GraphSource source) {
  switch (source) {
    case GraphSource::kOptimizedAndSaved: return "optimized_and_saved";
    case GraphSource::kOptimizedCache: return "optimized_cache";
    case GraphSource::kModelFile: break;
  }
  return "model_file";
}

// A read-only view of a tensor that stays where the engine put it (no copy); valid until the
// session that lent it runs again.
struct TensorView {
  DataType dtype = DataType::kFp32;
  Shape shape;
  const uint8_t* data = nullptr;
  size_t bytes = 0;
};

// One instance's state kept between runs, for models stepped many times per request (a decoder
// with its KV cache): inputs stay bound across runs until rebound, outputs stay in engine-owned
// memory (read through views, never copied out), and an output can become the next run's input
// in place (CarryOver: present.N.key -> past_key_values.N.key without a copy). Beside the
// stateless Backend::Run, which the dynamic batcher uses. Not thread-safe: one generation loop
// drives a session; the backend that opened it must outlive it.
class StatefulSession {
 public:
  virtual ~StatefulSession() = default;
  // Binds `tensor` as input `name` for every later run until rebound. Nothing is copied:
  // `tensor` must stay alive and unchanged while bound. Errors: kNotFound (no such input),
  // kInvalidArgument (dtype differs from the signature's).
  virtual Status BindInput(const std::string& name, const Tensor& tensor) = 0;
  // Runs with the bound inputs (every input must be bound); every output is produced.
  virtual Status Run() = 0;
  // Output `name` of the last run, borrowed until the next Run. kNotFound before any run or for
  // an unknown name.
  virtual Result<TensorView> Output(const std::string& name) const = 0;
  // Makes the last run's output `from` the input `to` of the next run, in place.
  virtual Status CarryOver(const std::string& from, const std::string& to) = 0;
};

// One loaded copy of a model. Not thread-safe: the scheduler gives each instance to one thread.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual const ModelSignature& signature() const = 0;
  virtual GraphSource graph_source() const { return GraphSource::kModelFile; }
  // Those of BackendOptions::last_position_outputs the graph was rewritten for.
  virtual std::vector<std::string> last_position_outputs() const { return {}; }
  // Runs one (possibly batched) call. `inputs` are in signature().inputs order. `outputs` lists
  // the signature().outputs indices wanted, ascending (empty = all); they come back in that order.
  // Asking only for what is needed saves the engine's copies (ISNet has 12 outputs, most of them
  // large intermediate maps).
  virtual Result<std::vector<Tensor>> Run(const std::vector<const Tensor*>& inputs,
                                          const std::vector<int>& outputs = {}) = 0;
  // A session that keeps state between runs (see StatefulSession); engines without one answer
  // kUnimplemented.
  virtual Result<std::unique_ptr<StatefulSession>> OpenSession() {
    return Status(StatusCode::kUnimplemented, "this engine has no stateful sessions");
  }
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

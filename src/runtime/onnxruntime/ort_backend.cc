#include "runtime/onnxruntime/ort_backend.h"

#include "runtime/last_position_logits.h"
#include "runtime/onnx_graph.h"
#include "runtime/onnxruntime/optimized_graph_cache.h"

#include <onnxruntime_cxx_api.h>
#include <onnxruntime_session_options_config_keys.h>

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <thread>

#include "core/mapped_file.h"
#include "core/thread_name.h"

namespace sightline::runtime {
namespace {

Result<DataType> FromOrt(ONNXTensorElementDataType t) {
  switch (t) {
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL: return DataType::kBool;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8: return DataType::kUint8;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT16: return DataType::kUint16;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT32: return DataType::kUint32;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT64: return DataType::kUint64;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8: return DataType::kInt8;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT16: return DataType::kInt16;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32: return DataType::kInt32;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64: return DataType::kInt64;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16: return DataType::kFp16;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16: return DataType::kBf16;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT: return DataType::kFp32;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE: return DataType::kFp64;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_STRING: return DataType::kBytes;
    default: return Status(StatusCode::kUnimplemented, "unsupported ONNX element type " + std::to_string(t));
  }
}

ONNXTensorElementDataType ToOrt(DataType t) {
  switch (t) {
    case DataType::kBool: return ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL;
    case DataType::kUint8: return ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8;
    case DataType::kUint16: return ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT16;
    case DataType::kUint32: return ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT32;
    case DataType::kUint64: return ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT64;
    case DataType::kInt8: return ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8;
    case DataType::kInt16: return ONNX_TENSOR_ELEMENT_DATA_TYPE_INT16;
    case DataType::kInt32: return ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32;
    case DataType::kInt64: return ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64;
    case DataType::kFp16: return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16;
    case DataType::kBf16: return ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16;
    case DataType::kFp32: return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
    case DataType::kFp64: return ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE;
    case DataType::kBytes: return ONNX_TENSOR_ELEMENT_DATA_TYPE_STRING;
  }
  return ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
}

Result<TensorSpec> SpecFrom(const std::string& name, const Ort::TypeInfo& info) {
  if (info.GetONNXType() != ONNX_TYPE_TENSOR)
    return Status(StatusCode::kUnimplemented, "tensor '" + name + "' is not a plain tensor");
  auto ti = info.GetTensorTypeAndShapeInfo();
  ASSIGN_OR_RETURN(DataType dt, FromOrt(ti.GetElementType()));
  TensorSpec spec{name, dt, ti.GetShape()};
  for (auto& d : spec.shape)
    if (d < 0) d = -1;
  return spec;
}

// Ort::Exception -> Status: ORT_INVALID_ARGUMENT is the input's fault (a shape or value the
// signature could not rule out): 4xx. Anything else (a kernel or device failure, out of memory)
// is the engine's: 5xx, so clients and load balancers do not blame the request.
Status FromOrtException(const Ort::Exception& e) {
  if (e.GetOrtErrorCode() == ORT_INVALID_ARGUMENT)
    return InvalidArgument(std::string("onnxruntime: ") + e.what());
  return Internal(std::string("onnxruntime: ") + e.what()).WithKind(ErrorKind::kEngineFault);
}

// StatefulSession over ORT's IoBinding: inputs bound as Ort::Values over the caller's memory,
// outputs bound to ORT's allocator (so each run's outputs stay where ORT put them), and carried
// outputs kept alive here while bound as inputs.
class OrtStatefulSession final : public StatefulSession {
 public:
  OrtStatefulSession(Ort::Session& session, const ModelSignature& sig)
      : session_(session),
        sig_(sig),
        binding_(session),
        mem_(Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault)) {
    for (const auto& o : sig_.outputs) binding_.BindOutput(o.name.c_str(), mem_);
  }

  Status BindInput(const std::string& name, const Tensor& t) override {
    const TensorSpec* spec = sig_.FindInput(name);
    if (!spec) return NotFound("model has no input named '" + name + "'");
    if (spec->dtype != t.dtype || t.dtype == DataType::kBytes)
      return InvalidArgument("input '" + name + "' must be " + DataTypeName(spec->dtype) + ", got " +
                             DataTypeName(t.dtype));
    try {
      auto v = Ort::Value::CreateTensor(mem_, const_cast<uint8_t*>(t.data.data()), t.data.size(),
                                        t.shape.data(), t.shape.size(), ToOrt(t.dtype));
      binding_.BindInput(name.c_str(), v);
      bound_[name] = std::move(v);
      carried_.erase(name);
      return Status::Ok();
    } catch (const Ort::Exception& e) {
      return FromOrtException(e);
    }
  }

  Status Run() override {
    for (const auto& in : sig_.inputs)
      if (!bound_.count(in.name) && !carried_.count(in.name))
        return InvalidArgument("input '" + in.name + "' is not bound");
    try {
      session_.Run(run_options_, binding_);
      auto values = binding_.GetOutputValues();
      // Outputs carried into inputs before this run stay alive in carried_; the previous
      // outputs can go now.
      outputs_.clear();
      for (size_t i = 0; i < values.size() && i < sig_.outputs.size(); ++i)
        outputs_.emplace(sig_.outputs[i].name, std::move(values[i]));
      // Outputs stay bound to ORT's allocator: the next run writes fresh buffers, so the values
      // just taken (and any carried into inputs) are never overwritten under a reader.
      for (const auto& o : sig_.outputs) binding_.BindOutput(o.name.c_str(), mem_);
      return Status::Ok();
    } catch (const Ort::Exception& e) {
      return FromOrtException(e);
    }
  }

  Result<TensorView> Output(const std::string& name) const override {
    auto it = outputs_.find(name);
    if (it == outputs_.end()) return NotFound("no output '" + name + "' from a run of this session");
    const auto info = it->second.GetTensorTypeAndShapeInfo();
    TensorView v;
    ASSIGN_OR_RETURN(v.dtype, FromOrt(info.GetElementType()));
    if (v.dtype == DataType::kBytes)
      return Status(StatusCode::kUnimplemented, "BYTES outputs have no flat view");
    v.shape = info.GetShape();
    v.data = static_cast<const uint8_t*>(it->second.GetTensorRawData());
    v.bytes = info.GetElementCount() * DataTypeSize(v.dtype);
    return v;
  }

  Status CarryOver(const std::string& from, const std::string& to) override {
    auto it = outputs_.find(from);
    if (it == outputs_.end()) return NotFound("no output '" + from + "' from a run of this session");
    if (!sig_.FindInput(to)) return NotFound("model has no input named '" + to + "'");
    try {
      binding_.BindInput(to.c_str(), it->second);
      carried_[to] = std::move(it->second);  // the buffer moves with the value: no copy
      outputs_.erase(it);
      bound_.erase(to);
      return Status::Ok();
    } catch (const Ort::Exception& e) {
      return FromOrtException(e);
    }
  }

 private:
  Ort::Session& session_;
  const ModelSignature& sig_;
  Ort::IoBinding binding_;
  Ort::MemoryInfo mem_;
  Ort::RunOptions run_options_;
  std::map<std::string, Ort::Value> bound_;    // over callers' memory
  std::map<std::string, Ort::Value> carried_;  // former outputs, owned here
  std::map<std::string, Ort::Value> outputs_;  // the last run's
};

class OrtBackend final : public Backend {
 public:
  OrtBackend(Ort::Session session, ModelSignature sig, GraphSource source,
             std::vector<std::string> last_position)
      : session_(std::move(session)),
        sig_(std::move(sig)),
        source_(source),
        last_position_(std::move(last_position)),
        mem_(Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault)) {
    for (const auto& t : sig_.inputs) input_names_.push_back(t.name.c_str());
    for (const auto& t : sig_.outputs) output_names_.push_back(t.name.c_str());
  }

  const ModelSignature& signature() const override { return sig_; }
  GraphSource graph_source() const override { return source_; }
  std::vector<std::string> last_position_outputs() const override { return last_position_; }

  Result<std::unique_ptr<StatefulSession>> OpenSession() override {
    try {
      return std::unique_ptr<StatefulSession>(new OrtStatefulSession(session_, sig_));
    } catch (const Ort::Exception& e) {
      return FromOrtException(e);
    }
  }

  Result<std::vector<Tensor>> Run(const std::vector<const Tensor*>& inputs,
                                  const std::vector<int>& wanted) override {
    if (inputs.size() != sig_.inputs.size())
      return Internal("backend got " + std::to_string(inputs.size()) + " inputs, model takes " +
                      std::to_string(sig_.inputs.size()));
    try {
      std::vector<Ort::Value> values;
      values.reserve(inputs.size());
      for (const Tensor* t : inputs) {
        if (t->dtype == DataType::kBytes) {
          ASSIGN_OR_RETURN(auto elems, SplitBytesElements(*t));
          Ort::AllocatorWithDefaultOptions alloc;
          auto v = Ort::Value::CreateTensor(alloc, t->shape.data(), t->shape.size(),
                                            ONNX_TENSOR_ELEMENT_DATA_TYPE_STRING);
          std::vector<std::string> owned(elems.begin(), elems.end());
          std::vector<const char*> ptrs;
          for (const auto& s : owned) ptrs.push_back(s.c_str());
          v.FillStringTensor(ptrs.data(), ptrs.size());
          values.push_back(std::move(v));
        } else {
          // Zero-copy: ORT reads straight from the request's (or batch's) buffer.
          values.push_back(Ort::Value::CreateTensor(mem_, const_cast<uint8_t*>(t->data.data()),
                                                    t->data.size(), t->shape.data(), t->shape.size(),
                                                    ToOrt(t->dtype)));
        }
      }
      std::vector<const char*> names;
      std::vector<int> indices;
      if (wanted.empty()) {
        names = output_names_;
        for (size_t i = 0; i < output_names_.size(); ++i) indices.push_back(static_cast<int>(i));
      } else {
        for (int i : wanted) {
          if (i < 0 || static_cast<size_t>(i) >= output_names_.size())
            return Internal("output index out of range");
          names.push_back(output_names_[static_cast<size_t>(i)]);
          indices.push_back(i);
        }
      }
      auto outs = session_.Run(run_options_, input_names_.data(), values.data(), values.size(), names.data(),
                               names.size());
      std::vector<Tensor> result;
      result.reserve(outs.size());
      for (size_t i = 0; i < outs.size(); ++i) {
        auto info = outs[i].GetTensorTypeAndShapeInfo();
        Tensor t;
        t.name = sig_.outputs[static_cast<size_t>(indices[i])].name;
        ASSIGN_OR_RETURN(t.dtype, FromOrt(info.GetElementType()));
        t.shape = info.GetShape();
        const size_t count = info.GetElementCount();
        if (t.dtype == DataType::kBytes) {
          for (size_t e = 0; e < count; ++e) {
            const std::string s = outs[i].GetStringTensorElement(e);
            const uint32_t len = static_cast<uint32_t>(s.size());
            const size_t at = t.data.size();
            t.data.resize(at + 4 + s.size());
            std::memcpy(t.data.data() + at, &len, 4);
            std::memcpy(t.data.data() + at + 4, s.data(), s.size());
          }
        } else {
          const size_t bytes = count * DataTypeSize(t.dtype);
          t.data.resize(bytes);
          if (bytes) std::memcpy(t.data.data(), outs[i].GetTensorRawData(), bytes);
        }
        result.push_back(std::move(t));
      }
      return result;
    } catch (const Ort::Exception& e) {
      return FromOrtException(e);
    } catch (const std::exception& e) {
      return Internal(std::string("onnxruntime: ") + e.what()).WithKind(ErrorKind::kEngineFault);
    }
  }

 private:
  Ort::Session session_;
  ModelSignature sig_;
  GraphSource source_;
  std::vector<std::string> last_position_;
  Ort::MemoryInfo mem_;
  Ort::RunOptions run_options_;
  std::vector<const char*> input_names_, output_names_;
};

// ORT starts its pool threads through these (SessionOptions' custom thread hooks); the creation
// options point at one of two constants, so they outlive every session.
constexpr PoolPriority kNormal = PoolPriority::kNormal;
constexpr PoolPriority kIdle = PoolPriority::kIdle;

OrtCustomThreadHandle StartPoolThread(void* options, OrtThreadWorkerFn work, void* param) {
  const PoolPriority priority = *static_cast<const PoolPriority*>(options);
  auto* t = new std::thread([priority, work, param] {
    NameThisThread("sl-ort");
    if (priority == PoolPriority::kIdle) {
      // Lowering one's own class needs no privilege; should it fail, the thread runs as usual.
      sched_param p{};
      pthread_setschedparam(pthread_self(), SCHED_IDLE, &p);
    }
    work(param);
  });
  return reinterpret_cast<OrtCustomThreadHandle>(t);
}

void JoinPoolThread(OrtCustomThreadHandle handle) {
  auto* t = reinterpret_cast<std::thread*>(const_cast<OrtCustomHandleType*>(handle));
  t->join();
  delete t;
}

// ORT calls this for each of its log lines (OrtLoggingFunction); `param` is the factory's sink.
void ForwardOrtLog(void* param, OrtLoggingLevel severity, const char*, const char*, const char* code_location,
                   const char* message) {
  const auto& sink = *static_cast<const EngineLogSink*>(param);
  const char* level = severity >= ORT_LOGGING_LEVEL_FATAL     ? "fatal"
                      : severity >= ORT_LOGGING_LEVEL_ERROR   ? "error"
                      : severity >= ORT_LOGGING_LEVEL_WARNING ? "warning"
                                                              : "info";
  sink(level, code_location ? code_location : "", message ? message : "");
}

class OrtBackendFactory final : public BackendFactory {
 public:
  // `sink` (may hold an empty function) must be owned here before the env that points at it.
  OrtBackendFactory(std::unique_ptr<EngineLogSink> sink, Ort::Env env)
      : sink_(std::move(sink)), env_(std::move(env)) {}
  std::string platform() const override { return "onnxruntime_onnx"; }

  Result<std::unique_ptr<Backend>> Load(const std::filesystem::path& file,
                                        const BackendOptions& options) override {
    if (options.execution_provider != "cpu")
      return Status(StatusCode::kUnimplemented,
                    "execution provider '" + options.execution_provider + "' is not in this build");
    try {
      // One walk over the file's graph: embedding-table sizes, and whether weights live elsewhere.
      // Should the reader not take a file ORT takes, the inputs stay unchecked and nothing is cached.
      // Mapped once for both walks; weight bytes are skipped by length, never paged in.
      auto mapped = MappedFile::Open(file.string());
      const auto* data = mapped.ok() ? reinterpret_cast<const uint8_t*>((*mapped)->bytes().data()) : nullptr;
      const size_t size = mapped.ok() ? (*mapped)->bytes().size() : 0;
      auto facts = mapped.ok() ? ReadGraphFacts(data, size) : Result<GraphFacts>(mapped.status());
      std::vector<std::string> last_position;
      auto rewritten = options.last_position_outputs.empty() || !mapped.ok()
                           ? std::optional<Ort::Session>()
                           : OpenLastPositionSession(file, data, size, options, last_position);
      auto [session, source] = rewritten ? std::pair(std::move(*rewritten), GraphSource::kModelFile)
                                         : OpenSession(file, options, facts.ok() && !facts->external_data);
      ModelSignature sig;
      Ort::AllocatorWithDefaultOptions alloc;
      for (size_t i = 0; i < session.GetInputCount(); ++i) {
        std::string name = session.GetInputNameAllocated(i, alloc).get();
        ASSIGN_OR_RETURN(auto spec, SpecFrom(name, session.GetInputTypeInfo(i)));
        sig.inputs.push_back(std::move(spec));
      }
      for (size_t i = 0; i < session.GetOutputCount(); ++i) {
        std::string name = session.GetOutputNameAllocated(i, alloc).get();
        ASSIGN_OR_RETURN(auto spec, SpecFrom(name, session.GetOutputTypeInfo(i)));
        sig.outputs.push_back(std::move(spec));
      }
      // Embedding-table sizes, so a bad index is refused per request instead of failing a batch.
      if (facts.ok())
        for (auto& in : sig.inputs)
          if (auto it = facts->index_limits.find(in.name); it != facts->index_limits.end())
            in.index_limit = it->second;
      return std::unique_ptr<Backend>(
          new OrtBackend(std::move(session), std::move(sig), source, std::move(last_position)));
    } catch (const Ort::Exception& e) {
      return FailedPrecondition(file.string() + ": onnxruntime could not load it: " + e.what());
    }
  }

 private:
  Ort::SessionOptions MakeSessionOptions(const BackendOptions& options, GraphOptimizationLevel level) {
    Ort::SessionOptions so;
    if (options.intra_op_threads > 0) so.SetIntraOpNumThreads(options.intra_op_threads);
    if (options.inter_op_threads > 0) so.SetInterOpNumThreads(options.inter_op_threads);
    so.SetGraphOptimizationLevel(level);
    if (!options.memory_pattern) so.DisableMemPattern();
    // ORT's pool threads spin between runs by default; in a server they would burn the cores
    // the I/O threads and the other models need (runtime/pool_threads.h).
    const char* spin = options.spinning == Spinning::kOff ? "0" : "1";
    so.AddConfigEntry("session.intra_op.allow_spinning", spin);
    so.AddConfigEntry("session.inter_op.allow_spinning", spin);
    // Pool threads are ours to start: named, and in the scheduling class asked for.
    so.SetCustomCreateThreadFn(StartPoolThread);
    so.SetCustomThreadCreationOptions(
        const_cast<PoolPriority*>(options.pool_priority == PoolPriority::kIdle ? &kIdle : &kNormal));
    so.SetCustomJoinThreadFn(JoinPoolThread);
    return so;
  }

  // The session of `file` (its mapped bytes `data`) rewritten so that options.last_position_outputs come out
  // for the last position only (runtime/last_position_logits.h), listing those in `done`; nullopt when the
  // graph has none of them in a form the rewrite takes, or the rewritten graph does not load (then the file
  // loads as it is, and the log says why).
  std::optional<Ort::Session> OpenLastPositionSession(const std::filesystem::path& file, const uint8_t* data,
                                                      size_t size, const BackendOptions& options,
                                                      std::vector<std::string>& done) {
    std::string bytes;
    for (const auto& output : options.last_position_outputs) {
      auto r = bytes.empty() ? SliceOutputToLastPosition(data, size, output)
                             : SliceOutputToLastPosition(reinterpret_cast<const uint8_t*>(bytes.data()),
                                                         bytes.size(), output);
      if (r.ok() && *r) {
        bytes = std::move(**r);
        done.push_back(output);
      }
    }
    if (done.empty()) return std::nullopt;
    try {
      auto so = MakeSessionOptions(options, GraphOptimizationLevel::ORT_ENABLE_ALL);
      // From memory, weights kept in files beside the model are found from its folder.
      so.AddConfigEntry(kOrtSessionOptionsModelExternalInitializersFileFolderPath,
                        file.parent_path().c_str());
      return Ort::Session(env_, bytes.data(), bytes.size(), so);
    } catch (const Ort::Exception& e) {
      if (sink_ && *sink_)
        (*sink_)("warning", "last_position_logits",
                 file.string() + ": the graph computing the last position only did not load (" + e.what() +
                     "); the model's own graph is used");
      done.clear();
      return std::nullopt;
    }
  }

  // Opens the session from the saved optimized graph when there is a valid one, otherwise from
  // the model file (saving its optimized graph when asked and `cacheable`). Throws Ort::Exception
  // only for the model file itself: a cache that cannot be read or written is passed over.
  std::pair<Ort::Session, GraphSource> OpenSession(const std::filesystem::path& file,
                                                   const BackendOptions& options, bool cacheable) {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::path cached;
    // Weights in external files would be inlined into the saved graph (or referenced from where
    // it is not): such models are optimized on each load. ORT serializes one protobuf, so files
    // near 2 GB are too.
    const auto size = fs::file_size(file, ec);
    if (!options.optimized_graph_dir.empty() && cacheable && !ec && size < (1ull << 30)) {
      if (auto p = OptimizedGraphPath(options.optimized_graph_dir, file, Ort::GetVersionString()); p.ok())
        cached = *p;
    }
    if (!cached.empty() && fs::exists(cached, ec)) {
      if (VerifyOptimizedGraph(cached)) {
        try {
          auto so = MakeSessionOptions(options, GraphOptimizationLevel::ORT_DISABLE_ALL);
          return {Ort::Session(env_, cached.c_str(), so), GraphSource::kOptimizedCache};
        } catch (const Ort::Exception& e) {
          Note(cached, std::string("onnxruntime could not load it (") + e.what() + "); it is made again");
        }
      } else {
        Note(cached, "its bytes do not match its seal (.xxh3); it is made again");
      }
      RemoveOptimizedGraph(cached);
    }
    if (!cached.empty()) {
      // Written under a temporary name, synced, renamed and then sealed, so a concurrent load (a
      // second instance, another process) never trusts half a file.
      fs::create_directories(options.optimized_graph_dir, ec);
      const fs::path temp = cached.string() + "." + std::to_string(::getpid()) + "." +
                            std::to_string(reinterpret_cast<uintptr_t>(&options)) + ".tmp";
      if (!ec) {
        try {
          auto so = MakeSessionOptions(options, GraphOptimizationLevel::ORT_ENABLE_ALL);
          so.SetOptimizedModelFilePath(temp.c_str());
          // ORT warns on every save that an ALL-level graph may hold CPU-specific kernels; the
          // cache key carries the CPU's identity for that reason, so the warning is only noise.
          so.SetLogSeverityLevel(ORT_LOGGING_LEVEL_ERROR);
          Ort::Session session(env_, file.c_str(), so);
          if (SyncFile(temp).ok()) {
            fs::rename(temp, cached, ec);
            if (!ec && SealOptimizedGraph(cached).ok())
              return {std::move(session), GraphSource::kOptimizedAndSaved};
            RemoveOptimizedGraph(cached);
          }
          fs::remove(temp, ec);
          return {std::move(session), GraphSource::kModelFile};
        } catch (const Ort::Exception&) {
          // Saving failed (read-only folder, disk full) or the file itself is bad: the plain load
          // below says which.
        }
        fs::remove(temp, ec);
      }
    }
    auto so = MakeSessionOptions(options, GraphOptimizationLevel::ORT_ENABLE_ALL);
    return {Ort::Session(env_, file.c_str(), so), GraphSource::kModelFile};
  }

  // A line in the engine's log (the server's JSON log) about the graph cache.
  void Note(const std::filesystem::path& graph, const std::string& what) {
    if (sink_ && *sink_) (*sink_)("warning", "optimized_graph_cache", graph.string() + ": " + what);
  }

  std::unique_ptr<EngineLogSink> sink_;
  Ort::Env env_;
};

}  // namespace

Result<std::unique_ptr<BackendFactory>> CreateOrtBackendFactory(const std::string& log_id,
                                                                EngineLogSink sink) {
  try {
    // A server reports usage to no one. This ORT build starts a telemetry system with the first
    // Env (an event store under ~/.cache/Microsoft/DeveloperTools, HTTPS uploads) unless
    // ORT_DISABLE_TELEMETRY is set; set it here, before that, unless the operator chose a value.
    ::setenv("ORT_DISABLE_TELEMETRY", "1", /*overwrite=*/0);
    auto owned = std::make_unique<EngineLogSink>(std::move(sink));
    Ort::Env env = *owned ? Ort::Env(ORT_LOGGING_LEVEL_WARNING, log_id.c_str(), ForwardOrtLog, owned.get())
                          : Ort::Env(ORT_LOGGING_LEVEL_WARNING, log_id.c_str());
    env.DisableTelemetryEvents();
    return std::unique_ptr<BackendFactory>(new OrtBackendFactory(std::move(owned), std::move(env)));
  } catch (const Ort::Exception& e) {
    return Internal(std::string("onnxruntime environment: ") + e.what());
  }
}

}  // namespace sightline::runtime

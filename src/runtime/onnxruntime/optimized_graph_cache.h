// Where ONNX Runtime's optimized form of a model file is kept between loads.
//
// Why: building an ORT_ENABLE_ALL session runs every graph transformer (constant folding, fusions,
// NCHWc layout) on each load; ISNet's took 1.1 s of its 1.4 s session creation on the 2-core CI
// machine, once per instance and on every restart. ORT can write the optimized graph out
// (SessionOptions::SetOptimizedModelFilePath) and load it back with optimizations off ("offline
// mode", onnxruntime.ai/docs/performance/model-optimizations/graph-optimizations.html): 0.3 s.
//
// ALL-level graphs may hold kernels chosen for this CPU (NCHWc blocking follows its vector width),
// and ORT versions differ in what they fuse, so the cached file's name carries a key over the model
// file's bytes, the ORT version and the CPU's model name and flags: any change misses the cache.
#pragma once

#include <filesystem>
#include <string>

#include "core/status.h"

namespace sightline::runtime {

// The cache file for `model_file` under `dir`: dir / "<stem>.<16 hex digits>.onnx". Reads the
// whole model file to hash it (XXH3-64, ~30 ms for ISNet's 176 MB). Errors: kFailedPrecondition
// when the model file cannot be read.
Result<std::filesystem::path> OptimizedGraphPath(const std::filesystem::path& dir,
                                                 const std::filesystem::path& model_file,
                                                 const std::string& engine_version);

}  // namespace sightline::runtime

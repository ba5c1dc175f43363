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

// A saved graph is trusted only with its seal: "<file>.xxh3" holding the XXH3-64 of the file's
// bytes, written after the file is complete and synced. A file damaged later (a bad disk, a
// hand edit) fails the check, where ORT might otherwise load it and compute garbage.
// Seal writes the seal (synced, renamed into place); Verify reads the file and compares. Both
// fail (false / an error) on any I/O problem.
Status SealOptimizedGraph(const std::filesystem::path& graph);
bool VerifyOptimizedGraph(const std::filesystem::path& graph);
// Removes a graph and its seal (errors ignored).
void RemoveOptimizedGraph(const std::filesystem::path& graph);
// Flushes a written file to disk (fsync), so a rename after it never exposes a partial file.
Status SyncFile(const std::filesystem::path& file);

}  // namespace sightline::runtime

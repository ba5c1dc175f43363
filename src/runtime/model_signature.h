// What a model takes and gives: tensor names, dtypes and shapes (-1 = dynamic dimension).
#pragma once

#include <string>
#include <vector>

#include "core/tensor.h"

namespace sightline::runtime {

struct TensorSpec {
  std::string name;
  DataType dtype = DataType::kFp32;
  Shape shape;  // -1 marks a dynamic dimension
  // > 0 for an integer input that indexes an embedding table of this many rows (runtime/
  // onnx_graph.h): its values must lie in [-index_limit, index_limit - 1].
  int64_t index_limit = 0;
};

struct ModelSignature {
  std::vector<TensorSpec> inputs;
  std::vector<TensorSpec> outputs;

  const TensorSpec* FindInput(const std::string& name) const;
  const TensorSpec* FindOutput(const std::string& name) const;
};

}  // namespace sightline::runtime

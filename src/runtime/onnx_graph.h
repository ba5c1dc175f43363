// What an ONNX file's graph says about its inputs beyond names and shapes: for an integer input
// that indexes an embedding table (feeds, directly or through Cast/Reshape/Unsqueeze/Squeeze/
// Flatten/Identity, the indices of a Gather along axis 0 whose data is an initializer of V rows),
// the table's size V. ONNX Runtime fails the whole batched run on one index outside [-V, V-1]
// (Gather's valid range, onnx.ai Operators.md); knowing V lets the request be refused alone,
// before it is batched with others.
//
// Read with a minimal protobuf wire-format reader over the mapped file (ModelProto.graph = 7,
// GraphProto.node = 1 / initializer = 5, NodeProto input = 1 / output = 2 / op_type = 4 /
// attribute = 5, TensorProto dims = 1 / name = 8; onnx/onnx.proto): linking protobuf and the ONNX
// schema for one walk over the nodes would cost more than it saves. Weight bytes are skipped by
// length, never read. Subgraphs (If/Loop bodies) are not walked.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include "core/status.h"

namespace sightline::runtime {

// What one walk over the graph finds.
struct GraphFacts {
  std::map<std::string, int64_t> index_limits;  // as ReadEmbeddingIndexLimits
  // Some initializer keeps its bytes in another file (TensorProto.data_location = 14, EXTERNAL).
  bool external_data = false;
};
Result<GraphFacts> ReadGraphFacts(const std::filesystem::path& onnx_file);
Result<GraphFacts> ReadGraphFacts(const uint8_t* data, size_t size);

// Graph input name -> rows of the smallest embedding table it indexes. Inputs that index no
// table are absent. Errors: kFailedPrecondition when the file cannot be read or is not a
// well-formed ModelProto.
Result<std::map<std::string, int64_t>> ReadEmbeddingIndexLimits(const std::filesystem::path& onnx_file);

// The same from the bytes of a ModelProto (tests, fuzzing).
Result<std::map<std::string, int64_t>> ReadEmbeddingIndexLimits(const uint8_t* data, size_t size);

}  // namespace sightline::runtime

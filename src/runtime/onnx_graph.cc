#include "runtime/onnx_graph.h"

#include <optional>
#include <set>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/mapped_file.h"
#include "runtime/protobuf_wire.h"

namespace sightline::runtime {
namespace {

struct Node {
  std::string op;
  std::vector<std::string> inputs, outputs;
  int64_t axis = 0;
};

Status Malformed() {
  return FailedPrecondition("not a well-formed ONNX ModelProto");
}

}  // namespace

Result<std::map<std::string, int64_t>> ReadEmbeddingIndexLimits(const uint8_t* data, size_t size) {
  ASSIGN_OR_RETURN(auto facts, ReadGraphFacts(data, size));
  return std::move(facts.index_limits);
}

Result<std::map<std::string, int64_t>> ReadEmbeddingIndexLimits(const std::filesystem::path& onnx_file) {
  ASSIGN_OR_RETURN(auto facts, ReadGraphFacts(onnx_file));
  return std::move(facts.index_limits);
}

Result<GraphFacts> ReadGraphFacts(const uint8_t* data, size_t size) {
  GraphFacts facts;
  // ModelProto.graph (7).
  std::optional<WireReader> graph;
  WireReader model(data, size);
  while (model.Next())
    if (model.field() == 7 && model.wire() == 2) graph = model.Sub();
  if (!model.ok()) return Malformed();
  std::map<std::string, int64_t>& limits = facts.index_limits;
  if (!graph) return facts;

  std::vector<Node> nodes;
  std::unordered_map<std::string, int64_t> table_rows;  // initializer name -> dims[0]
  std::vector<std::string> inputs;                      // graph inputs
  while (graph->Next()) {
    if (graph->wire() != 2) continue;
    if (graph->field() == 1) {  // NodeProto
      Node n;
      WireReader r = graph->Sub();
      while (r.Next()) {
        if (r.wire() != 2) continue;
        if (r.field() == 1) n.inputs.emplace_back(r.string());
        if (r.field() == 2) n.outputs.emplace_back(r.string());
        if (r.field() == 4) n.op = std::string(r.string());
        if (r.field() == 5) {  // AttributeProto: name = 1, i = 3
          WireReader a = r.Sub();
          std::string name;
          std::optional<int64_t> i;
          while (a.Next()) {
            if (a.field() == 1 && a.wire() == 2) name = std::string(a.string());
            if (a.field() == 3 && a.wire() == 0) i = static_cast<int64_t>(a.varint());
          }
          if (!a.ok()) return Malformed();
          if (name == "axis" && i) n.axis = *i;
        }
      }
      if (!r.ok()) return Malformed();
      nodes.push_back(std::move(n));
    } else if (graph->field() == 5) {  // TensorProto: dims = 1, name = 8
      WireReader t = graph->Sub();
      std::vector<int64_t> dims;
      std::string name;
      while (t.Next()) {
        if (t.field() == 1 && t.wire() == 0) dims.push_back(static_cast<int64_t>(t.varint()));
        if (t.field() == 1 && t.wire() == 2 && !t.Packed(dims)) return Malformed();
        if (t.field() == 8 && t.wire() == 2) name = std::string(t.string());
        if (t.field() == 14 && t.wire() == 0 && t.varint() == 1) facts.external_data = true;
      }
      if (!t.ok()) return Malformed();
      if (!dims.empty() && dims[0] > 0) table_rows[name] = dims[0];
    } else if (graph->field() == 11) {  // ValueInfoProto: name = 1
      WireReader v = graph->Sub();
      while (v.Next())
        if (v.field() == 1 && v.wire() == 2) inputs.emplace_back(v.string());
      if (!v.ok()) return Malformed();
    }
  }
  if (!graph->ok()) return Malformed();

  static const std::set<std::string> kPassThrough = {"Cast",    "Reshape", "Unsqueeze",
                                                     "Squeeze", "Flatten", "Identity"};
  std::unordered_map<std::string, std::vector<const Node*>> consumers;
  for (const auto& n : nodes)
    for (size_t i = 0; i < n.inputs.size(); ++i)
      if (!n.inputs[i].empty()) consumers[n.inputs[i]].push_back(&n);

  for (const auto& input : inputs) {
    if (table_rows.count(input)) continue;  // an initializer listed as an input (old exports)
    // Follow the values derived element for element from this input.
    std::vector<std::string> frontier{input};
    std::set<std::string> seen{input};
    int64_t limit = 0;
    while (!frontier.empty()) {
      const std::string name = std::move(frontier.back());
      frontier.pop_back();
      auto it = consumers.find(name);
      if (it == consumers.end()) continue;
      for (const Node* n : it->second) {
        if (n->op == "Gather" && n->axis == 0 && n->inputs.size() == 2 && n->inputs[1] == name) {
          if (auto t = table_rows.find(n->inputs[0]); t != table_rows.end())
            limit = limit == 0 ? t->second : std::min(limit, t->second);
        } else if (kPassThrough.count(n->op) && !n->inputs.empty() && n->inputs[0] == name) {
          for (const auto& out : n->outputs)
            if (seen.insert(out).second) frontier.push_back(out);
        }
      }
    }
    if (limit > 0) limits[input] = limit;
  }
  return facts;
}

Result<GraphFacts> ReadGraphFacts(const std::filesystem::path& onnx_file) {
  // Mapped, not read: the walk skips weight bytes by length and never touches their pages.
  auto mapped = MappedFile::Open(onnx_file.string());
  if (!mapped.ok()) return FailedPrecondition(onnx_file.string() + ": cannot be read");
  const auto bytes = (*mapped)->bytes();
  auto result = ReadGraphFacts(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  if (!result.ok()) return FailedPrecondition(onnx_file.string() + ": " + result.status().message());
  return result;
}

}  // namespace sightline::runtime

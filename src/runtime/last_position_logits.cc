#include "runtime/last_position_logits.h"

#include <limits>
#include <set>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "runtime/protobuf_wire.h"

namespace sightline::runtime {
namespace {

// ONNX field numbers (onnx/onnx.proto).
constexpr uint32_t kModelGraph = 7, kModelOpset = 8;
constexpr uint32_t kOpsetDomain = 1, kOpsetVersion = 2;
constexpr uint32_t kGraphNode = 1, kGraphInitializer = 5, kGraphInput = 11, kGraphOutput = 12;
constexpr uint32_t kGraphSparseInitializer = 15;
constexpr uint32_t kNodeInput = 1, kNodeOutput = 2, kNodeName = 3, kNodeOpType = 4, kNodeAttribute = 5;
constexpr uint32_t kAttributeGraph = 6, kAttributeGraphs = 11;
constexpr uint32_t kDimValue = 1;
constexpr uint32_t kTensorDims = 1, kTensorDataType = 2, kTensorInt64Data = 7, kTensorName = 8;
constexpr uint32_t kValueInfoName = 1, kValueInfoType = 2, kTypeTensor = 1, kTensorTypeShape = 2,
                   kShapeDim = 1;
constexpr uint64_t kInt64 = 7;  // TensorProto.DataType.INT64

struct Node {
  std::string op;
  std::vector<std::string> inputs, outputs;
  std::vector<std::string> subgraph_reads;  // names its If/Loop/Scan bodies read
  std::string_view raw;                     // the whole NodeProto field, key included
};

Status Malformed() {
  return FailedPrecondition("not a well-formed ONNX ModelProto");
}

// A 1-D int64 initializer holding `value`.
std::string Int64Initializer(const std::string& name, int64_t value) {
  std::string t, packed;
  AppendVarintField(t, kTensorDims, 1);
  AppendVarintField(t, kTensorDataType, kInt64);
  AppendVarint(packed, static_cast<uint64_t>(value));
  AppendBytesField(t, kTensorInt64Data, packed);
  AppendBytesField(t, kTensorName, name);
  std::string field;
  AppendBytesField(field, kGraphInitializer, t);
  return field;
}

// The shape a ValueInfoProto declares, -1 for a dimension without a fixed value; nullopt when it
// declares none.
std::optional<std::vector<int64_t>> DeclaredShape(WireReader v) {
  std::optional<std::vector<int64_t>> shape;
  while (v.Next()) {
    if (v.field() != kValueInfoType || v.wire() != 2) continue;
    WireReader type = v.Sub();
    while (type.Next()) {
      if (type.field() != kTypeTensor || type.wire() != 2) continue;
      WireReader tensor = type.Sub();
      while (tensor.Next()) {
        if (tensor.field() != kTensorTypeShape || tensor.wire() != 2) continue;
        shape.emplace();
        WireReader dims = tensor.Sub();
        while (dims.Next()) {
          if (dims.field() != kShapeDim || dims.wire() != 2) continue;
          int64_t d = -1;
          WireReader dim = dims.Sub();
          while (dim.Next())
            if (dim.field() == kDimValue && dim.wire() == 0) d = static_cast<int64_t>(dim.varint());
          shape->push_back(d);
        }
      }
    }
  }
  return shape;
}

bool CollectAttributeReads(WireReader attribute, std::vector<std::string>& out, int depth);

// Every name the nodes of a graph read, its own subgraphs' included: a body reading a value of
// the graph around it is one more use of that value.
bool CollectReads(WireReader graph, std::vector<std::string>& out, int depth) {
  if (depth > 32) return false;
  while (graph.Next()) {
    if (graph.field() != kGraphNode || graph.wire() != 2) continue;
    WireReader node = graph.Sub();
    while (node.Next()) {
      if (node.wire() != 2) continue;
      if (node.field() == kNodeInput) out.emplace_back(node.string());
      if (node.field() == kNodeAttribute && !CollectAttributeReads(node.Sub(), out, depth)) return false;
    }
    if (!node.ok()) return false;
  }
  return graph.ok();
}

bool CollectAttributeReads(WireReader attribute, std::vector<std::string>& out, int depth) {
  while (attribute.Next())
    if ((attribute.field() == kAttributeGraph || attribute.field() == kAttributeGraphs) &&
        attribute.wire() == 2 && !CollectReads(attribute.Sub(), out, depth + 1))
      return false;
  return attribute.ok();
}

}  // namespace

Result<std::optional<std::string>> SliceOutputToLastPosition(const uint8_t* data, size_t size,
                                                             const std::string& output) {
  // ModelProto: the graph (one; protobuf would merge several, which no exporter writes) and the
  // default domain's opset (Slice takes starts/ends/axes as inputs from opset 10).
  std::string_view graph_bytes;
  int graphs = 0;
  int64_t opset = 0;
  WireReader model(data, size);
  while (model.Next()) {
    if (model.field() == kModelGraph && model.wire() == 2) {
      graph_bytes = model.string();
      ++graphs;
    } else if (model.field() == kModelOpset && model.wire() == 2) {
      WireReader o = model.Sub();
      std::string_view domain;
      int64_t version = 0;
      while (o.Next()) {
        if (o.field() == kOpsetDomain && o.wire() == 2) domain = o.string();
        if (o.field() == kOpsetVersion && o.wire() == 0) version = static_cast<int64_t>(o.varint());
      }
      if (!o.ok()) return Malformed();
      if (domain.empty() || domain == "ai.onnx") opset = version;
    }
  }
  if (!model.ok()) return Malformed();
  if (graphs != 1 || opset < 10) return std::optional<std::string>();

  std::vector<Node> nodes;
  std::set<std::string> initializers, inputs, names;
  std::optional<std::vector<int64_t>> output_shape;
  bool is_output = false;
  const auto* graph_data = reinterpret_cast<const uint8_t*>(graph_bytes.data());
  WireReader g(graph_data, graph_bytes.size());
  while (g.Next()) {
    if (g.wire() != 2) continue;
    if (g.field() == kGraphNode) {
      Node n;
      n.raw = g.raw();
      WireReader r = g.Sub();
      while (r.Next()) {
        if (r.wire() != 2) continue;
        if (r.field() == kNodeInput) n.inputs.emplace_back(r.string());
        if (r.field() == kNodeOutput) n.outputs.emplace_back(r.string());
        if (r.field() == kNodeOpType) n.op = std::string(r.string());
        if (r.field() == kNodeName) names.emplace(r.string());
        if (r.field() == kNodeAttribute && !CollectAttributeReads(r.Sub(), n.subgraph_reads, 0))
          return Malformed();
      }
      if (!r.ok()) return Malformed();
      for (const auto& o : n.outputs) names.insert(o);
      nodes.push_back(std::move(n));
    } else if (g.field() == kGraphInitializer || g.field() == kGraphSparseInitializer) {
      WireReader t = g.Sub();
      const uint32_t name_field = g.field() == kGraphInitializer ? kTensorName : 0;
      while (t.Next())
        if (name_field && t.field() == name_field && t.wire() == 2) initializers.emplace(t.string());
      if (!t.ok()) return Malformed();
    } else if (g.field() == kGraphInput || g.field() == kGraphOutput) {
      WireReader v = g.Sub();
      std::string name;
      while (v.Next())
        if (v.field() == kValueInfoName && v.wire() == 2) name = std::string(v.string());
      if (!v.ok()) return Malformed();
      if (g.field() == kGraphInput) {
        inputs.insert(name);
      } else if (name == output) {
        is_output = true;
        output_shape = DeclaredShape(g.Sub());
      }
    }
  }
  if (!g.ok()) return Malformed();
  // Rank 3 with a positions axis of no fixed size (a fixed one would no longer hold).
  if (!is_output || !output_shape || output_shape->size() != 3 || (*output_shape)[1] != -1)
    return std::optional<std::string>();
  names.insert(initializers.begin(), initializers.end());
  names.insert(inputs.begin(), inputs.end());

  std::unordered_map<std::string, size_t> producer;
  std::unordered_map<std::string, int> consumers;
  for (size_t i = 0; i < nodes.size(); ++i) {
    for (const auto& o : nodes[i].outputs) producer[o] = i;
    for (const auto& in : nodes[i].inputs)
      if (!in.empty()) ++consumers[in];
    for (const auto& in : nodes[i].subgraph_reads) ++consumers[in];
  }
  // Back from the output through Cast/Identity to the LM head; every value on the way feeds only
  // the next node, so nothing else sees the shorter tensor.
  std::string value = output;
  if (consumers[value] != 0) return std::optional<std::string>();
  size_t head = 0;
  for (int hops = 0;; ++hops) {
    auto it = producer.find(value);
    if (it == producer.end() || hops > 8) return std::optional<std::string>();
    const Node& n = nodes[it->second];
    if (n.outputs.size() != 1 || n.inputs.empty()) return std::optional<std::string>();
    if (n.op == "MatMul" || n.op == "MatMulNBits") {
      head = it->second;
      break;
    }
    if (n.op != "Cast" && n.op != "Identity") return std::optional<std::string>();
    value = n.inputs[0];
    if (consumers[value] != 1 || inputs.count(value) || initializers.count(value))
      return std::optional<std::string>();
  }
  const Node& lm_head = nodes[head];
  if (lm_head.inputs.size() < 2) return std::optional<std::string>();

  // The weight must be a constant of the graph: nothing a graph input reaches.
  std::set<std::string> reached;
  for (const auto& in : inputs)
    if (!initializers.count(in)) reached.insert(in);
  for (bool grew = true; grew;) {  // nodes need not be sorted: repeat until nothing new
    grew = false;
    for (const auto& n : nodes) {
      bool fed = false;
      for (const auto& in : n.inputs) fed = fed || (!in.empty() && reached.count(in));
      if (fed)
        for (const auto& o : n.outputs) grew = reached.insert(o).second || grew;
    }
  }
  for (size_t i = 1; i < lm_head.inputs.size(); ++i)
    if (reached.count(lm_head.inputs[i])) return std::optional<std::string>();

  // New names, unused anywhere in the graph.
  const std::string prefix = "sightline/last_position/";
  const std::string sliced = prefix + lm_head.inputs[0], starts = prefix + "starts", ends = prefix + "ends",
                    axes = prefix + "axes", node_name = prefix + "slice";
  for (const auto* n : {&sliced, &starts, &ends, &axes, &node_name})
    if (names.count(*n)) return std::optional<std::string>();

  std::string slice;
  for (const auto* in : {&lm_head.inputs[0], &starts, &ends, &axes}) AppendBytesField(slice, kNodeInput, *in);
  AppendBytesField(slice, kNodeOutput, sliced);
  AppendBytesField(slice, kNodeName, node_name);
  AppendBytesField(slice, kNodeOpType, "Slice");

  // The LM head again, its first input renamed.
  std::string renamed;
  {
    WireReader r(reinterpret_cast<const uint8_t*>(lm_head.raw.data()), lm_head.raw.size());
    if (!r.Next() || r.wire() != 2) return Malformed();
    WireReader fields = r.Sub();
    bool first = true;
    while (fields.Next()) {
      if (first && fields.field() == kNodeInput && fields.wire() == 2) {
        AppendBytesField(renamed, kNodeInput, sliced);
        first = false;
      } else {
        renamed.append(fields.raw());
      }
    }
    if (!fields.ok()) return Malformed();
  }

  // GraphProto: every field as it was, the Slice node just before the LM head (kept in
  // topological order), the new constants at the end.
  std::string new_graph;
  new_graph.reserve(graph_bytes.size() + 512);
  WireReader again(graph_data, graph_bytes.size());
  size_t node_index = 0;
  while (again.Next()) {
    if (again.field() == kGraphNode && again.wire() == 2) {
      if (node_index++ == head) {
        AppendBytesField(new_graph, kGraphNode, slice);
        AppendBytesField(new_graph, kGraphNode, renamed);
        continue;
      }
    }
    new_graph.append(again.raw());
  }
  new_graph += Int64Initializer(starts, -1);
  new_graph += Int64Initializer(ends, std::numeric_limits<int64_t>::max());
  new_graph += Int64Initializer(axes, 1);

  // ModelProto: every field as it was but the graph.
  std::string out;
  out.reserve(size + 256);
  WireReader m(data, size);
  while (m.Next()) {
    if (m.field() == kModelGraph && m.wire() == 2)
      AppendBytesField(out, kModelGraph, new_graph);
    else
      out.append(m.raw());
  }
  return std::optional<std::string>(std::move(out));
}

}  // namespace sightline::runtime

#include "http/kserve_codec.h"

#include <boost/json.hpp>

#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/half.h"
#include "observability/logger.h"

namespace sightline::http {
namespace json = boost::json;
namespace {

template <typename T>
void Put(TensorBuffer& out, size_t index, T v) {
  std::memcpy(out.data() + index * sizeof(T), &v, sizeof(T));
}

template <typename T>
Status PutInt(TensorBuffer& out, size_t i, const json::value& v, const std::string& name) {
  if (v.is_int64()) {
    const int64_t x = v.get_int64();
    if constexpr (std::is_signed_v<T>) {
      if (x < static_cast<int64_t>(std::numeric_limits<T>::min()) ||
          x > static_cast<int64_t>(std::numeric_limits<T>::max()))
        return InvalidArgument("input '" + name + "' value " + std::to_string(x) + " is out of range");
    } else {
      if (x < 0 || static_cast<uint64_t>(x) > static_cast<uint64_t>(std::numeric_limits<T>::max()))
        return InvalidArgument("input '" + name + "' value " + std::to_string(x) + " is out of range");
    }
    Put<T>(out, i, static_cast<T>(x));
    return Status::Ok();
  }
  if (v.is_uint64()) {
    const uint64_t x = v.get_uint64();
    if (x > static_cast<uint64_t>(std::numeric_limits<T>::max()))
      return InvalidArgument("input '" + name + "' value " + std::to_string(x) + " is out of range");
    Put<T>(out, i, static_cast<T>(x));
    return Status::Ok();
  }
  return InvalidArgument("input '" + name + "' holds a non-integer value where an integer is needed");
}

Status PutElement(Tensor& t, size_t i, const json::value& v) {
  switch (t.dtype) {
    case DataType::kBool:
      if (!v.is_bool()) return InvalidArgument("input '" + t.name + "' of BOOL needs true/false values");
      t.data[i] = v.get_bool() ? 1 : 0;
      return Status::Ok();
    case DataType::kUint8: return PutInt<uint8_t>(t.data, i, v, t.name);
    case DataType::kUint16: return PutInt<uint16_t>(t.data, i, v, t.name);
    case DataType::kUint32: return PutInt<uint32_t>(t.data, i, v, t.name);
    case DataType::kUint64: return PutInt<uint64_t>(t.data, i, v, t.name);
    case DataType::kInt8: return PutInt<int8_t>(t.data, i, v, t.name);
    case DataType::kInt16: return PutInt<int16_t>(t.data, i, v, t.name);
    case DataType::kInt32: return PutInt<int32_t>(t.data, i, v, t.name);
    case DataType::kInt64: return PutInt<int64_t>(t.data, i, v, t.name);
    case DataType::kFp16:
    case DataType::kBf16:
    case DataType::kFp32:
    case DataType::kFp64: {
      if (!v.is_number())
        return InvalidArgument("input '" + t.name + "' of " + DataTypeName(t.dtype) + " needs numbers");
      const double d = v.to_number<double>();
      // JSON numbers past the type's range (1e39 for FP32; 1e400, which parses as infinity)
      // would become inf or, for FP32, an undefined conversion: refused, like integers out of range.
      const double max = t.dtype == DataType::kFp64 ? std::numeric_limits<double>::max()
                         : t.dtype == DataType::kFp16
                             ? 65504.0
                             : static_cast<double>(std::numeric_limits<float>::max());
      if (!(std::fabs(d) <= max))
        return InvalidArgument("input '" + t.name + "' value " + json::serialize(v) + " is outside " +
                               DataTypeName(t.dtype) + "'s range");
      if (t.dtype == DataType::kFp64)
        Put<double>(t.data, i, d);
      else if (t.dtype == DataType::kFp32)
        Put<float>(t.data, i, static_cast<float>(d));
      else if (t.dtype == DataType::kFp16)
        Put<uint16_t>(t.data, i, FloatToHalf(static_cast<float>(d)));
      else
        Put<uint16_t>(t.data, i, FloatToBf16(static_cast<float>(d)));
      return Status::Ok();
    }
    case DataType::kBytes: break;  // handled by the caller
  }
  return InvalidArgument("unsupported datatype");
}

// Flattens nested arrays in row-major order.
Status Flatten(const json::value& v, std::vector<const json::value*>& out, size_t limit, int depth,
               const std::string& name) {
  if (depth > 32) return InvalidArgument("input '" + name + "' data is nested too deeply");
  if (v.is_array()) {
    for (const auto& e : v.get_array()) RETURN_IF_ERROR(Flatten(e, out, limit, depth + 1, name));
    return Status::Ok();
  }
  if (out.size() >= limit)
    return Status(StatusCode::kPayloadTooLarge, "input '" + name + "' has too many elements");
  out.push_back(&v);
  return Status::Ok();
}

Result<int64_t> GetNonNegativeInt(const json::value& v, const std::string& what) {
  if (v.is_int64() && v.get_int64() >= 0) return v.get_int64();
  if (v.is_uint64() && v.get_uint64() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    return static_cast<int64_t>(v.get_uint64());
  return InvalidArgument(what + " must be a non-negative integer");
}

// `owned`, when given, holds the bytes `binary` views: an input claiming all of them moves it.
Result<Tensor> ParseInput(const json::value& jv, std::string_view binary, TensorBuffer* owned,
                          size_t* binary_offset, const KServeLimits& limits) {
  if (!jv.is_object()) return InvalidArgument("each entry of 'inputs' must be an object");
  const auto& o = jv.get_object();
  Tensor t;
  const auto* name = o.if_contains("name");
  if (!name || !name->is_string() || name->get_string().empty())
    return InvalidArgument("an input has no 'name'");
  t.name = std::string(name->get_string());
  const auto* dt = o.if_contains("datatype");
  if (!dt || !dt->is_string()) return InvalidArgument("input '" + t.name + "' has no 'datatype'");
  auto parsed = ParseDataType(std::string_view(dt->get_string()));
  if (!parsed)
    return InvalidArgument("input '" + t.name + "' has unknown datatype '" + std::string(dt->get_string()) +
                           "'");
  t.dtype = *parsed;
  const auto* shape = o.if_contains("shape");
  if (!shape || !shape->is_array()) return InvalidArgument("input '" + t.name + "' has no 'shape' list");
  for (const auto& d : shape->get_array()) {
    ASSIGN_OR_RETURN(int64_t dim, GetNonNegativeInt(d, "input '" + t.name + "' shape entries"));
    t.shape.push_back(dim);
  }
  if (t.shape.size() > 16) return InvalidArgument("input '" + t.name + "' has more than 16 dimensions");
  ASSIGN_OR_RETURN(int64_t count, ElementCount(t.shape));
  if (static_cast<uint64_t>(count) > limits.max_elements)
    return Status(StatusCode::kPayloadTooLarge,
                  "input '" + t.name + "' shape " + ShapeToString(t.shape) + " exceeds the element limit");

  std::optional<int64_t> binary_size;
  if (const auto* params = o.if_contains("parameters")) {
    if (!params->is_object()) return InvalidArgument("input '" + t.name + "' parameters must be an object");
    if (const auto* bs = params->get_object().if_contains("binary_data_size")) {
      ASSIGN_OR_RETURN(int64_t n, GetNonNegativeInt(*bs, "binary_data_size of '" + t.name + "'"));
      binary_size = n;
    }
  }
  const auto* data = o.if_contains("data");
  if (binary_size) {
    if (data) return InvalidArgument("input '" + t.name + "' has both 'data' and binary_data_size");
    if (*binary_offset + static_cast<uint64_t>(*binary_size) > binary.size())
      return InvalidArgument("input '" + t.name + "' binary_data_size " + std::to_string(*binary_size) +
                             " runs past the end of the body");
    if (owned && *binary_offset == 0 && static_cast<size_t>(*binary_size) == binary.size() &&
        !binary.empty()) {
      t.data = std::move(*owned);
      owned->clear();
    } else {
      // One memcpy: assigning char iterators to a uint8_t vector copies byte by byte.
      t.data.resize(static_cast<size_t>(*binary_size));
      if (*binary_size > 0) std::memcpy(t.data.data(), binary.data() + *binary_offset, t.data.size());
    }
    *binary_offset += static_cast<size_t>(*binary_size);
    RETURN_IF_ERROR(ValidateTensorBytes(t));
    return t;
  }
  if (!data) return InvalidArgument("input '" + t.name + "' has no 'data'");
  std::vector<const json::value*> flat;
  flat.reserve(static_cast<size_t>(count));
  RETURN_IF_ERROR(Flatten(*data, flat, limits.max_elements, 0, t.name));
  if (static_cast<int64_t>(flat.size()) != count)
    return InvalidArgument("input '" + t.name + "' has " + std::to_string(flat.size()) +
                           " values but shape " + ShapeToString(t.shape) + " needs " + std::to_string(count));
  if (t.dtype == DataType::kBytes) {
    for (const auto* e : flat) {
      if (!e->is_string()) return InvalidArgument("input '" + t.name + "' of BYTES needs string values");
      const auto& s = e->get_string();
      const uint32_t len = static_cast<uint32_t>(s.size());
      const size_t at = t.data.size();
      t.data.resize(at + 4 + s.size());
      std::memcpy(t.data.data() + at, &len, 4);
      std::memcpy(t.data.data() + at + 4, s.data(), s.size());
    }
    return t;
  }
  t.data.resize(static_cast<size_t>(count) * DataTypeSize(t.dtype));
  for (size_t i = 0; i < flat.size(); ++i) RETURN_IF_ERROR(PutElement(t, i, *flat[i]));
  return t;
}

template <typename T>
void AppendInts(std::string& out, const Tensor& t) {
  const size_t n = t.data.size() / sizeof(T);
  char buf[32];
  for (size_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, t.data.data() + i * sizeof(T), sizeof(T));
    if (i) out += ',';
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
  }
}

template <typename T>
void AppendFloat(std::string& out, T v) {
  if (!std::isfinite(v)) {
    out += "null";  // JSON has no NaN/Inf
    return;
  }
  char buf[40];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// Elements stored as `Stored`, widened by `to_float` and written shortest-round-trip.
template <typename Stored, typename Widen>
void AppendFloats(std::string& out, const Tensor& t, Widen to_float) {
  const size_t n = t.data.size() / sizeof(Stored);
  for (size_t i = 0; i < n; ++i) {
    Stored v;
    std::memcpy(&v, t.data.data() + i * sizeof(Stored), sizeof(Stored));
    if (i) out += ',';
    AppendFloat(out, to_float(v));
  }
}

}  // namespace

void AppendJsonData(std::string& out, const Tensor& t) {
  out += '[';
  switch (t.dtype) {
    case DataType::kBool:
      for (size_t i = 0; i < t.data.size(); ++i) {
        if (i) out += ',';
        out += t.data[i] ? "true" : "false";
      }
      break;
    case DataType::kUint8: AppendInts<uint8_t>(out, t); break;
    case DataType::kUint16: AppendInts<uint16_t>(out, t); break;
    case DataType::kUint32: AppendInts<uint32_t>(out, t); break;
    case DataType::kUint64: AppendInts<uint64_t>(out, t); break;
    case DataType::kInt8: AppendInts<int8_t>(out, t); break;
    case DataType::kInt16: AppendInts<int16_t>(out, t); break;
    case DataType::kInt32: AppendInts<int32_t>(out, t); break;
    case DataType::kInt64: AppendInts<int64_t>(out, t); break;
    case DataType::kFp16: AppendFloats<uint16_t>(out, t, HalfToFloat); break;
    case DataType::kBf16: AppendFloats<uint16_t>(out, t, Bf16ToFloat); break;
    case DataType::kFp32: AppendFloats<float>(out, t, [](float v) { return v; }); break;
    case DataType::kFp64: AppendFloats<double>(out, t, [](double v) { return v; }); break;
    case DataType::kBytes: {
      auto elems = SplitBytesElements(t);
      if (elems.ok()) {
        bool first = true;
        for (auto e : *elems) {
          if (!first) out += ',';
          first = false;
          out += '"';
          observability::AppendJsonEscaped(out, e);
          out += '"';
        }
      }
      break;
    }
  }
  out += ']';
}

namespace {

Result<KServeInferRequest> ParseSplit(std::string_view json_text, std::string_view binary,
                                      TensorBuffer* owned, const KServeLimits& limits) {
  if (json_text.empty()) return InvalidArgument("request body is empty; expected a JSON inference request");
  json::parse_options popts;
  popts.max_depth = 64;
  boost::system::error_code ec;
  json::value root = json::parse(json::string_view(json_text.data(), json_text.size()), ec, {}, popts);
  if (ec) return InvalidArgument("malformed JSON: " + ec.message());
  if (!root.is_object()) return InvalidArgument("the request must be a JSON object");
  const auto& o = root.get_object();
  KServeInferRequest req;
  if (const auto* id = o.if_contains("id")) {
    if (!id->is_string()) return InvalidArgument("'id' must be a string");
    req.id = std::string(id->get_string());
  }
  if (const auto* params = o.if_contains("parameters")) {
    if (!params->is_object()) return InvalidArgument("'parameters' must be an object");
    const auto& p = params->get_object();
    if (const auto* b = p.if_contains("binary_data_output")) {
      if (!b->is_bool()) return InvalidArgument("parameter 'binary_data_output' must be a boolean");
      req.binary_data_output = b->get_bool();
    }
    if (const auto* pr = p.if_contains("priority")) {
      ASSIGN_OR_RETURN(int64_t v, GetNonNegativeInt(*pr, "parameter 'priority'"));
      if (v > 1000) return InvalidArgument("parameter 'priority' is out of range");
      req.priority = static_cast<int>(v);
    }
    if (const auto* to = p.if_contains("timeout")) {
      ASSIGN_OR_RETURN(int64_t v, GetNonNegativeInt(*to, "parameter 'timeout' (microseconds)"));
      req.timeout_us = v;
    }
  }
  const auto* inputs = o.if_contains("inputs");
  if (!inputs || !inputs->is_array() || inputs->get_array().empty())
    return InvalidArgument("'inputs' must be a non-empty list");
  size_t offset = 0;
  for (const auto& in : inputs->get_array()) {
    ASSIGN_OR_RETURN(Tensor t, ParseInput(in, binary, owned, &offset, limits));
    for (const auto& prev : req.inputs)
      if (prev.name == t.name) return InvalidArgument("input '" + t.name + "' is given twice");
    req.inputs.push_back(std::move(t));
  }
  if (offset != binary.size())
    return InvalidArgument("the body has " + std::to_string(binary.size() - offset) +
                           " bytes of binary data that no input claims");
  if (const auto* outs = o.if_contains("outputs")) {
    if (!outs->is_array()) return InvalidArgument("'outputs' must be a list");
    for (const auto& jo : outs->get_array()) {
      if (!jo.is_object()) return InvalidArgument("each entry of 'outputs' must be an object");
      const auto* n = jo.get_object().if_contains("name");
      if (!n || !n->is_string()) return InvalidArgument("an entry of 'outputs' has no 'name'");
      RequestedOutput ro{std::string(n->get_string()), req.binary_data_output};
      if (const auto* p = jo.get_object().if_contains("parameters")) {
        if (!p->is_object()) return InvalidArgument("output parameters must be an object");
        if (const auto* b = p->get_object().if_contains("binary_data")) {
          if (!b->is_bool()) return InvalidArgument("output parameter 'binary_data' must be a boolean");
          ro.binary = b->get_bool();
        }
      }
      req.outputs.push_back(std::move(ro));
    }
  }
  return req;
}

}  // namespace

Result<KServeInferRequest> ParseInferRequest(std::string_view body, std::optional<size_t> header_length,
                                             const KServeLimits& limits) {
  if (!header_length) return ParseSplit(body, {}, nullptr, limits);
  if (*header_length > body.size())
    return InvalidArgument("Inference-Header-Content-Length " + std::to_string(*header_length) +
                           " exceeds the body size " + std::to_string(body.size()));
  return ParseSplit(body.substr(0, *header_length), body.substr(*header_length), nullptr, limits);
}

Result<KServeInferRequest> ParseInferRequest(std::string_view json, TensorBuffer&& binary,
                                             const KServeLimits& limits) {
  const std::string_view view(reinterpret_cast<const char*>(binary.data()), binary.size());
  return ParseSplit(json, view, &binary, limits);
}

EncodedInferResponse EncodeInferResponse(const std::string& model_name, const std::string& model_version,
                                         const std::string& id, const std::vector<Tensor>& outputs,
                                         const std::vector<RequestedOutput>& requested,
                                         bool binary_data_output) {
  EncodedInferResponse enc;
  std::string& j = enc.body;
  j += "{\"model_name\":\"";
  observability::AppendJsonEscaped(j, model_name);
  j += "\",\"model_version\":\"";
  observability::AppendJsonEscaped(j, model_version);
  j += "\",\"id\":\"";
  observability::AppendJsonEscaped(j, id);
  j += "\",\"outputs\":[";
  std::vector<const Tensor*> binary_parts;
  bool first = true;
  auto emit = [&](const Tensor& t, bool binary) {
    if (!first) j += ',';
    first = false;
    j += "{\"name\":\"";
    observability::AppendJsonEscaped(j, t.name);
    j += "\",\"datatype\":\"";
    j += DataTypeName(t.dtype);
    j += "\",\"shape\":";
    j += ShapeToString(t.shape);
    if (binary) {
      j += ",\"parameters\":{\"binary_data_size\":" + std::to_string(t.data.size()) + "}}";
      binary_parts.push_back(&t);
    } else {
      j += ",\"data\":";
      AppendJsonData(j, t);
      j += '}';
    }
  };
  if (requested.empty()) {
    for (const auto& t : outputs) emit(t, binary_data_output);
  } else {
    for (const auto& r : requested)
      for (const auto& t : outputs)
        if (t.name == r.name) emit(t, r.binary);
  }
  j += "]}";
  if (!binary_parts.empty()) {
    enc.json_length = j.size();
    size_t extra = 0;
    for (const auto* t : binary_parts) extra += t->data.size();
    j.reserve(j.size() + extra);
    for (const auto* t : binary_parts)
      j.append(reinterpret_cast<const char*>(t->data.data()), t->data.size());
  }
  return enc;
}

}  // namespace sightline::http

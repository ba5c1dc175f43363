#include "core/tensor.h"

#include <array>
#include <cstring>
#include <limits>

namespace sightline {
namespace {

struct TypeInfo {
  DataType type;
  const char* name;
  size_t size;
};

constexpr std::array<TypeInfo, 14> kTypes = {{
    {DataType::kBool, "BOOL", 1},
    {DataType::kUint8, "UINT8", 1},
    {DataType::kUint16, "UINT16", 2},
    {DataType::kUint32, "UINT32", 4},
    {DataType::kUint64, "UINT64", 8},
    {DataType::kInt8, "INT8", 1},
    {DataType::kInt16, "INT16", 2},
    {DataType::kInt32, "INT32", 4},
    {DataType::kInt64, "INT64", 8},
    {DataType::kFp16, "FP16", 2},
    {DataType::kBf16, "BF16", 2},
    {DataType::kFp32, "FP32", 4},
    {DataType::kFp64, "FP64", 8},
    {DataType::kBytes, "BYTES", 0},
}};

}  // namespace

const char* DataTypeName(DataType type) {
  for (const auto& t : kTypes)
    if (t.type == type) return t.name;
  return "INVALID";
}

std::optional<DataType> ParseDataType(std::string_view name) {
  for (const auto& t : kTypes)
    if (name == t.name) return t.type;
  return std::nullopt;
}

size_t DataTypeSize(DataType type) {
  for (const auto& t : kTypes)
    if (t.type == type) return t.size;
  return 0;
}

Result<int64_t> ElementCount(const Shape& shape) {
  int64_t count = 1;
  for (int64_t d : shape) {
    if (d < 0) return InvalidArgument("shape " + ShapeToString(shape) + " has a negative dimension");
    if (d != 0 && count > std::numeric_limits<int64_t>::max() / d)
      return InvalidArgument("shape " + ShapeToString(shape) + " is too large");
    count *= d;
  }
  return count;
}

std::string ShapeToString(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ",";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

Status ValidateTensorBytes(const Tensor& tensor) {
  ASSIGN_OR_RETURN(int64_t count, ElementCount(tensor.shape));
  if (tensor.dtype == DataType::kBytes) {
    auto elems = SplitBytesElements(tensor);
    if (!elems.ok()) return elems.status();
    if (static_cast<int64_t>(elems->size()) != count)
      return InvalidArgument("input '" + tensor.name + "' holds " + std::to_string(elems->size()) +
                             " BYTES elements but shape " + ShapeToString(tensor.shape) + " needs " +
                             std::to_string(count));
    return Status::Ok();
  }
  const uint64_t expected = static_cast<uint64_t>(count) * DataTypeSize(tensor.dtype);
  if (tensor.data.size() != expected)
    return InvalidArgument("input '" + tensor.name + "' has " + std::to_string(tensor.data.size()) +
                           " bytes but shape " + ShapeToString(tensor.shape) + " of " +
                           DataTypeName(tensor.dtype) + " needs " + std::to_string(expected));
  return Status::Ok();
}

Result<std::vector<std::string_view>> SplitBytesElements(const Tensor& tensor) {
  std::vector<std::string_view> out;
  const uint8_t* p = tensor.data.data();
  size_t left = tensor.data.size();
  while (left > 0) {
    if (left < 4) return InvalidArgument("BYTES input '" + tensor.name + "' ends inside a length prefix");
    uint32_t len;
    std::memcpy(&len, p, 4);
    p += 4;
    left -= 4;
    if (len > left)
      return InvalidArgument("BYTES input '" + tensor.name + "' has an element longer than the data");
    out.emplace_back(reinterpret_cast<const char*>(p), len);
    p += len;
    left -= len;
  }
  return out;
}

}  // namespace sightline

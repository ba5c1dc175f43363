// Tensor: a named, typed, shaped block of bytes in row-major little-endian layout — the unit
// that crosses every layer (codec -> scheduler -> backend). BYTES tensors hold each element as
// a 4-byte little-endian length followed by its bytes, as in the KServe binary extension.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace sightline {

enum class DataType {
  kBool,
  kUint8,
  kUint16,
  kUint32,
  kUint64,
  kInt8,
  kInt16,
  kInt32,
  kInt64,
  kFp16,
  kBf16,
  kFp32,
  kFp64,
  kBytes,
};

// KServe v2 datatype names: "FP32", "INT64", "BYTES", ...
const char* DataTypeName(DataType type);
std::optional<DataType> ParseDataType(std::string_view name);
// Bytes per element; 0 for BYTES (variable length).
size_t DataTypeSize(DataType type);

using Shape = std::vector<int64_t>;

// Element count of a fully known shape; an error for negative dims or overflow.
Result<int64_t> ElementCount(const Shape& shape);
std::string ShapeToString(const Shape& shape);

// Allocator whose value-less construct() default-initialises: vector::resize() leaves bytes
// uninitialised instead of zero-filling buffers that are about to be overwritten.
template <typename T>
struct NoInitAllocator : std::allocator<T> {
  template <typename U>
  struct rebind {
    using other = NoInitAllocator<U>;
  };
  NoInitAllocator() = default;
  template <typename U>
  NoInitAllocator(const NoInitAllocator<U>&) {}
  template <typename U>
  void construct(U* p) {
    ::new (static_cast<void*>(p)) U;
  }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

// Tensor bytes. resize() leaves new bytes uninitialised: every writer overwrites them, and
// zero-filling a 600 KB input per request showed up in profiles.
using TensorBuffer = std::vector<uint8_t, NoInitAllocator<uint8_t>>;

struct Tensor {
  std::string name;
  DataType dtype = DataType::kFp32;
  Shape shape;
  TensorBuffer data;

  template <typename T>
  const T* as() const {
    return reinterpret_cast<const T*>(data.data());
  }
  template <typename T>
  T* as() {
    return reinterpret_cast<T*>(data.data());
  }
};

// Checks that data.size() agrees with shape and dtype (for BYTES: the length prefixes walk
// exactly to the end and the element count matches).
Status ValidateTensorBytes(const Tensor& tensor);

// Splits a BYTES tensor's payload into its elements (views into tensor.data).
Result<std::vector<std::string_view>> SplitBytesElements(const Tensor& tensor);

}  // namespace sightline

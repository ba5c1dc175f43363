// The protobuf wire format (protobuf.dev/programming-guides/encoding), read and written by hand
// for the few ONNX fields Sightline looks at or rewrites (runtime/onnx_graph.h,
// runtime/last_position_logits.h): linking protobuf and the ONNX schema for one walk over a
// graph's nodes would cost more than it saves. Internal to runtime/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sightline::runtime {

// One protobuf message's fields, read in order. A malformed message stops with ok() == false.
class WireReader {
 public:
  WireReader(const uint8_t* p, size_t n) : p_(p), end_(p + n) {}
  bool ok() const { return ok_; }

  // Advances to the next field; false at the end or on malformed input.
  bool Next() {
    if (!ok_ || p_ >= end_) return false;
    begin_ = p_;
    uint64_t key;
    if (!Varint(key)) return Fail();
    field_ = static_cast<uint32_t>(key >> 3);
    wire_ = static_cast<int>(key & 7);
    switch (wire_) {
      case 0:
        if (!Varint(value_)) return Fail();
        return true;
      case 1:
        if (end_ - p_ < 8) return Fail();
        p_ += 8;
        return true;
      case 2: {
        uint64_t len;
        if (!Varint(len) || len > static_cast<uint64_t>(end_ - p_)) return Fail();
        bytes_ = {p_, static_cast<size_t>(len)};
        p_ += len;
        return true;
      }
      case 5:
        if (end_ - p_ < 4) return Fail();
        p_ += 4;
        return true;
      default: return Fail();  // groups (3, 4) and unknown wire types
    }
  }

  uint32_t field() const { return field_; }
  int wire() const { return wire_; }
  uint64_t varint() const { return value_; }
  std::string_view string() const { return {reinterpret_cast<const char*>(bytes_.first), bytes_.second}; }
  WireReader Sub() const { return WireReader(bytes_.first, bytes_.second); }
  // The current field's whole encoding (key included), to copy it unchanged.
  std::string_view raw() const {
    return {reinterpret_cast<const char*>(begin_), static_cast<size_t>(p_ - begin_)};
  }

  // A packed repeated varint field's values.
  bool Packed(std::vector<int64_t>& out) const {
    WireReader r(bytes_.first, bytes_.second);
    while (r.p_ < r.end_) {
      uint64_t v;
      if (!r.Varint(v)) return false;
      out.push_back(static_cast<int64_t>(v));
    }
    return true;
  }

 private:
  bool Varint(uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ >= end_) return false;
      const uint8_t b = *p_++;
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) return true;
    }
    return false;
  }
  bool Fail() {
    ok_ = false;
    return false;
  }

  const uint8_t* p_;
  const uint8_t* end_;
  const uint8_t* begin_ = nullptr;
  bool ok_ = true;
  uint32_t field_ = 0;
  int wire_ = 0;
  uint64_t value_ = 0;
  std::pair<const uint8_t*, size_t> bytes_{nullptr, 0};
};

// Appends fields to a message's encoding.
inline void AppendVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
inline void AppendVarintField(std::string& out, uint32_t field, uint64_t v) {
  AppendVarint(out, (static_cast<uint64_t>(field) << 3) | 0);
  AppendVarint(out, v);
}
inline void AppendBytesField(std::string& out, uint32_t field, std::string_view bytes) {
  AppendVarint(out, (static_cast<uint64_t>(field) << 3) | 2);
  AppendVarint(out, bytes.size());
  out.append(bytes);
}

}  // namespace sightline::runtime

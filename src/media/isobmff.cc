#include "media/isobmff.h"

#include <string>

namespace sightline::media {
namespace {

struct Reader {
  const uint8_t* p;
  size_t n, at = 0;
  bool ok = true;
  uint64_t Uint(int bytes) {
    if (bytes == 0) return 0;
    if (at + static_cast<size_t>(bytes) > n) {
      ok = false;
      return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | p[at++];
    return v;
  }
};

Status Truncated(const std::string& what) {
  return InvalidImage("truncated HEIF/AVIF: " + what);
}

// iloc (ISO/IEC 14496-12 8.11.3): every extent stored at a file offset (construction method 0)
// must end inside the file, and every item must have data. An item with no extent, or an extent
// of length 0, reaches dav1d as an empty buffer, which it refuses after libheif has wrapped it,
// leaking the wrapper (found by fuzz_image_decoder). The standard reads length 0 as "the whole
// referenced file"; no encoder writes it for an image item.
// An empty item is only noted (bit 2 of `seen`): a truncation found later in the walk names the
// real problem better.
Status CheckIloc(const uint8_t* box, size_t len, size_t file_size, int& seen) {
  Reader r{box, len};
  const auto version = static_cast<int>(r.Uint(1));
  r.Uint(3);  // flags
  const auto sizes = r.Uint(1), sizes2 = r.Uint(1);
  const int offset_size = static_cast<int>(sizes >> 4), length_size = static_cast<int>(sizes & 15);
  const int base_offset_size = static_cast<int>(sizes2 >> 4);
  const int index_size = version == 1 || version == 2 ? static_cast<int>(sizes2 & 15) : 0;
  const uint64_t items = r.Uint(version < 2 ? 2 : 4);
  for (uint64_t i = 0; i < items && r.ok; ++i) {
    r.Uint(version < 2 ? 2 : 4);  // item_ID
    uint64_t method = 0;
    if (version == 1 || version == 2) method = r.Uint(2) & 15;
    r.Uint(2);  // data_reference_index
    const uint64_t base = r.Uint(base_offset_size);
    const uint64_t extents = r.Uint(2);
    if (r.ok && extents == 0) seen |= 4;
    for (uint64_t e = 0; e < extents && r.ok; ++e) {
      r.Uint(index_size);
      const uint64_t offset = r.Uint(offset_size);
      const uint64_t length = r.Uint(length_size);
      if (r.ok && length == 0) seen |= 4;
      if (method == 0 && r.ok && (base + offset > file_size || length > file_size - (base + offset)))
        return Truncated("item data ends at byte " + std::to_string(base + offset + length) + " of " +
                         std::to_string(file_size));
    }
  }
  if (!r.ok) return InvalidImage("malformed HEIF/AVIF: the item location box is cut short");
  return Status::Ok();
}

// Walks the boxes in [begin, end) of `data`; descends into meta (a full box) to reach iloc.
// `seen` collects the boxes an image needs: bit 0 meta, bit 1 iloc; bit 2 marks an empty item.
Status Walk(const uint8_t* data, size_t begin, size_t end, size_t file_size, bool top, int& seen) {
  size_t at = begin;
  while (at < end) {
    if (end - at < 8) return Truncated(std::to_string(end - at) + " stray bytes where a box should start");
    Reader r{data + at, end - at};
    uint64_t size = r.Uint(4);
    const uint32_t type = static_cast<uint32_t>(r.Uint(4));
    size_t header = 8;
    if (size == 1) {
      if (end - at < 16) return Truncated("a large box's header is cut short");
      size = r.Uint(8);
      header = 16;
    } else if (size == 0) {
      size = end - at;  // to the end of the file (or of the parent)
    }
    if (size < header) return InvalidImage("malformed HEIF/AVIF: a box smaller than its header");
    if (size > end - at)
      return Truncated("a box of " + std::to_string(size) + " bytes has only " + std::to_string(end - at));
    const uint32_t meta = 0x6d657461, iloc = 0x696c6f63;  // 'meta', 'iloc'
    if (type == meta && top && size >= header + 4) {
      seen |= 1;
      RETURN_IF_ERROR(Walk(data, at + header + 4, at + size, file_size, false, seen));
    }
    if (type == iloc && !top) {
      seen |= 2;
      RETURN_IF_ERROR(CheckIloc(data + at + header, size - header, file_size, seen));
    }
    at += size;
  }
  return Status::Ok();
}

}  // namespace

Status CheckIsobmffComplete(const uint8_t* data, size_t size) {
  int seen = 0;
  RETURN_IF_ERROR(Walk(data, 0, size, size, true, seen));
  // An image's items are described in meta/iloc (ISO/IEC 23008-12 6.2); without them the file
  // was cut before its description.
  if (!(seen & 1)) return Truncated("no meta box");
  if (!(seen & 2)) return Truncated("no item location (iloc) box");
  if (seen & 4)
    return InvalidImage("malformed HEIF/AVIF: an item with no data (no extent, or one of length 0)");
  return Status::Ok();
}

}  // namespace sightline::media

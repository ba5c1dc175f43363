// A structural check of ISO base media files (HEIF, AVIF: ISO/IEC 14496-12 boxes, ISO/IEC 23008-12
// items) before they reach libheif: the top-level boxes must tile the file, and every extent the
// item location box (iloc) points at must lie inside it.
//
// Why: libheif with dav1d leaks ~40 bytes per decode of a truncated AVIF (issue 11, field report
// 9: tests/data/truncated_avif_leak.avif), so under steady traffic of truncated uploads memory
// grows without bound. Truncation is the common way such files are broken; refusing it here, from
// the container alone, keeps those bytes away from the leaking path. A complete file whose coded
// image is corrupt still goes to libheif. Items without data (no extent, or one of length 0) are
// refused too: they reach dav1d as an empty buffer, the other path it leaks on.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/status.h"

namespace sightline::media {

// Ok for a well-formed container; kInvalidArgument of kind invalid_image naming what is missing
// ("truncated HEIF/AVIF: ..." or "malformed HEIF/AVIF: ...") otherwise.
Status CheckIsobmffComplete(const uint8_t* data, size_t size);

}  // namespace sightline::media

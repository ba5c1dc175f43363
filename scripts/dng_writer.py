"""A minimal DNG writer (pure Python + numpy, no TIFF library): IFD 0 carries a preview (a JPEG,
or 8-bit RGB), its SubIFD the 16-bit RGGB Bayer mosaic. The colour matrix is XYZ -> linear sRGB,
so a correct demosaic gives the scene's colours back. Used by the test fixtures and the DNG
benchmark (24 MP files)."""
import io
import struct

import numpy as np
from PIL import Image


def write_tiff(ifds):
    """A minimal little-endian TIFF writer: `ifds` is a list of IFDs, each a dict tag ->
    (type, values) where values is bytes (type 1/2/7) or a list of ints; a strip is given as
    ('strip', bytes). IFD 1.. are written as SubIFDs of IFD 0 (DNG's layout), so IFD 0 gets
    tag 330. Returns the file bytes."""
    sizes = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1, 8: 2, 9: 4, 10: 8}
    fmt = {1: "B", 3: "H", 4: "I", 5: "I", 8: "h", 9: "i", 10: "i"}
    out = bytearray(b"II*\x00\x00\x00\x00\x00")
    blobs = []  # (position to patch, bytes)

    def encode(typ, values):
        if isinstance(values, (bytes, bytearray)):
            return bytes(values), len(values) // sizes[typ]
        n = len(values) // 2 if typ in (5, 10) else len(values)
        return struct.pack("<%d%s" % (len(values), fmt[typ]), *values), n

    def emit_ifd(ifd, sub_offsets):
        while len(out) % 2:
            out.append(0)
        start = len(out)
        tags = dict(ifd)
        strip = tags.pop("strip", None)
        if strip is not None:
            tags[273] = (4, [0])
            tags[279] = (4, [len(strip)])
        if sub_offsets:
            tags[330] = (4, [0] * len(sub_offsets))
        items = sorted(tags.items())
        out.extend(struct.pack("<H", len(items)))
        patches = {}
        for tag, (typ, values) in items:
            data, count = encode(typ, values)
            out.extend(struct.pack("<HHI", tag, typ, count))
            pos = len(out)
            if len(data) <= 4:
                out.extend(data.ljust(4, b"\x00"))
            else:
                out.extend(b"\x00\x00\x00\x00")
                blobs.append((pos, data))
            patches[tag] = pos
        out.extend(b"\x00\x00\x00\x00")  # no next IFD
        return start, patches, strip

    def flush_blobs():
        while blobs:
            pos, data = blobs.pop()
            while len(out) % 2:
                out.append(0)
            struct.pack_into("<I", out, pos, len(out))
            out.extend(data)

    first, patches0, strip0 = emit_ifd(ifds[0], ifds[1:])
    struct.pack_into("<I", out, 4, first)
    flush_blobs()
    sub_starts, strips = [], [(patches0, strip0)]
    for ifd in ifds[1:]:
        start, patches, strip = emit_ifd(ifd, [])
        flush_blobs()
        sub_starts.append(start)
        strips.append((patches, strip))
    if len(ifds) > 1:
        pos = patches0[330]
        if len(sub_starts) == 1:
            struct.pack_into("<I", out, pos, sub_starts[0])
    for patches, strip in strips:
        if strip is not None:
            struct.pack_into("<I", out, patches[273], len(out))
            out.extend(strip)
    return bytes(out)


def write_dng(path, rgb, preview="jpeg", preview_scale=2, make="Sightline", model="TestCam DNG"):
    """`rgb`: HxWx3 uint8 scene. preview: "jpeg" (1/preview_scale size), "bitmap" (1/8 size, too
    small to stand in for the image) or None."""
    h, w, _ = rgb.shape
    lin = np.round(((rgb.astype(np.float64) / 255.0) ** 2.2) * 4000).astype(np.uint16) + 64
    mosaic = np.empty((h, w), np.uint16)
    mosaic[0::2, 0::2] = lin[0::2, 0::2, 0]
    mosaic[0::2, 1::2] = lin[0::2, 1::2, 1]
    mosaic[1::2, 0::2] = lin[1::2, 0::2, 1]
    mosaic[1::2, 1::2] = lin[1::2, 1::2, 2]
    xyz_to_srgb = [3.2406, -1.5372, -0.4986, -0.9689, 1.8758, 0.0415, 0.0557, -0.2040, 1.0570]
    matrix = []
    for v in xyz_to_srgb:
        matrix += [int(round(v * 10000)), 10000]
    ifd0 = {254: (4, [1]), 271: (2, make.encode() + b"\x00"), 272: (2, model.encode() + b"\x00"),
            274: (3, [1]), 50706: (1, [1, 4, 0, 0]), 50708: (2, (make + " " + model).encode() + b"\x00"),
            50721: (10, matrix), 50728: (5, [1, 1, 1, 1, 1, 1]), 50778: (3, [21])}
    scene = Image.fromarray(rgb)
    if preview == "jpeg":
        small = scene.resize((w // preview_scale, h // preview_scale))
        buf = io.BytesIO()
        small.save(buf, "JPEG", quality=92)
        ifd0.update({256: (4, [small.width]), 257: (4, [small.height]), 258: (3, [8, 8, 8]),
                     259: (3, [7]), 262: (3, [6]), 277: (3, [3]), 278: (4, [small.height]),
                     "strip": buf.getvalue()})
    elif preview == "bitmap":
        small = scene.resize((w // 8, h // 8))
        ifd0.update({256: (4, [small.width]), 257: (4, [small.height]), 258: (3, [8, 8, 8]),
                     259: (3, [1]), 262: (3, [2]), 277: (3, [3]), 278: (4, [small.height]),
                     "strip": small.tobytes()})
    raw = {254: (4, [0]), 256: (4, [w]), 257: (4, [h]), 258: (3, [16]), 259: (3, [1]),
           262: (3, [32803]), 277: (3, [1]), 278: (4, [h]), 284: (3, [1]),
           33421: (3, [2, 2]), 33422: (1, [0, 1, 1, 2]), 50717: (4, [4095]),
           "strip": mosaic.astype("<u2").tobytes()}
    with open(path, "wb") as f:
        f.write(write_tiff([ifd0, raw]))

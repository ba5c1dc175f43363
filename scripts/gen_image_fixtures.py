#!/usr/bin/env python3
"""Writes the image fixtures the media tests decode, with Pillow, so every expected pixel is known.

  rgb.{jpg,png,webp,tiff}  64x48 gradient: R = 4*x, G = 5*y, B = 128
  rgba.png                 32x16, alpha = 8*x, colour (200, 100, 50)
  gray.png                 16x8 grey ramp (one channel in the file)
  first_frame.gif          two frames, 8x8: red then blue (only the first must come out)
  orientation6.jpg         stored 40x20 (left half red, right half blue), EXIF orientation 6
                           (rotate 90 CW to display): displays 20x40, top red, bottom blue
  cmyk.jpg                 16x16 CMYK JPEG of pure cyan: must come out as sRGB
  big.jpg                  3000x2000 gradient, for shrink-on-load
  truncated.jpg            big.jpg cut in half
  empty.bin, garbage.bin   zero bytes; random bytes
  bomb.png                 30000x30000 1-bit PNG (~100 KB of file): must be refused before decoding
  rgb.avif                 the 64x48 gradient as AVIF (lossy; HEIF's AV1 flavour)
  exif.jpg                 32x24 grey with EXIF: camera, lens, capture time, GPS, orientation 1
  scene_preview.dng        600x400 Bayer (RGGB) DNG, blue background with a red box at
                           (150..450, 100..300), carrying a 300x200 JPEG preview
  scene_raw.dng            the same scene with only a 75x50 bitmap thumbnail: a model wanting
                           more pixels than that gets a half-size demosaic
"""
import argparse
import io
import os
import struct

from PIL import Image

# The scene drawn into the DNG fixtures (and checked by the tests): RGB, box corners.
DNG_W, DNG_H = 600, 400
DNG_BG, DNG_FG, DNG_BOX = (20, 40, 200), (220, 30, 30), (150, 100, 450, 300)


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


def dng_scene():
    img = Image.new("RGB", (DNG_W, DNG_H), DNG_BG)
    img.paste(DNG_FG, DNG_BOX)
    return img


def write_dng(path, preview):
    """A DNG 1.4 file: IFD 0 is the preview (JPEG or 8-bit RGB), its SubIFD the 12-bit RGGB
    mosaic of the scene. The camera's colour matrix is XYZ -> linear sRGB, so a correct
    demosaic gives the scene's colours back."""
    scene = dng_scene()
    px = scene.load()
    to_lin = lambda v: int(round(((v / 255.0) ** 2.2) * 4000)) + 64
    mosaic = bytearray()
    for y in range(DNG_H):
        for x in range(DNG_W):
            c = 0 if (y % 2 == 0 and x % 2 == 0) else 2 if (y % 2 == 1 and x % 2 == 1) else 1
            mosaic += struct.pack("<H", to_lin(px[x, y][c]))
    xyz_to_srgb = [3.2406, -1.5372, -0.4986, -0.9689, 1.8758, 0.0415, 0.0557, -0.2040, 1.0570]
    matrix = []
    for v in xyz_to_srgb:
        matrix += [int(round(v * 10000)), 10000]
    ifd0 = {254: (4, [1]), 271: (2, b"Sightline\x00"), 272: (2, b"TestCam DNG\x00"),
            274: (3, [1]), 50706: (1, [1, 4, 0, 0]), 50708: (2, b"Sightline TestCam\x00"),
            50721: (10, matrix), 50728: (5, [1, 1, 1, 1, 1, 1]), 50778: (3, [21])}
    if preview == "jpeg":
        small = scene.resize((DNG_W // 2, DNG_H // 2))
        buf = io.BytesIO()
        small.save(buf, "JPEG", quality=92)
        ifd0.update({256: (4, [small.width]), 257: (4, [small.height]), 258: (3, [8, 8, 8]),
                     259: (3, [7]), 262: (3, [6]), 277: (3, [3]), 278: (4, [small.height]),
                     "strip": buf.getvalue()})
    else:
        small = scene.resize((DNG_W // 8, DNG_H // 8))
        ifd0.update({256: (4, [small.width]), 257: (4, [small.height]), 258: (3, [8, 8, 8]),
                     259: (3, [1]), 262: (3, [2]), 277: (3, [3]), 278: (4, [small.height]),
                     "strip": small.tobytes()})
    raw = {254: (4, [0]), 256: (4, [DNG_W]), 257: (4, [DNG_H]), 258: (3, [16]), 259: (3, [1]),
           262: (3, [32803]), 277: (3, [1]), 278: (4, [DNG_H]), 284: (3, [1]),
           33421: (3, [2, 2]), 33422: (1, [0, 1, 1, 2]), 50717: (4, [4095]),
           "strip": bytes(mosaic)}
    open(path, "wb").write(write_tiff([ifd0, raw]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    out = ap.parse_args().out
    os.makedirs(out, exist_ok=True)
    p = lambda name: os.path.join(out, name)

    rgb = Image.new("RGB", (64, 48))
    rgb.putdata([(4 * x, 5 * y, 128) for y in range(48) for x in range(64)])
    rgb.save(p("rgb.png"))
    rgb.save(p("rgb.jpg"), quality=95)
    rgb.save(p("rgb.webp"), lossless=True)
    rgb.save(p("rgb.tiff"))

    rgba = Image.new("RGBA", (32, 16))
    rgba.putdata([(200, 100, 50, 8 * x) for y in range(16) for x in range(32)])
    rgba.save(p("rgba.png"))

    gray = Image.new("L", (16, 8))
    gray.putdata([16 * x for y in range(8) for x in range(16)])
    gray.save(p("gray.png"))

    red, blue = Image.new("RGB", (8, 8), (255, 0, 0)), Image.new("RGB", (8, 8), (0, 0, 255))
    red.save(p("first_frame.gif"), save_all=True, append_images=[blue], duration=100, loop=0)

    stored = Image.new("RGB", (40, 20), (255, 0, 0))
    stored.paste((0, 0, 255), (20, 0, 40, 20))
    exif = Image.Exif()
    exif[0x0112] = 6
    stored.save(p("orientation6.jpg"), quality=95, exif=exif.tobytes())

    Image.new("CMYK", (16, 16), (255, 0, 0, 0)).save(p("cmyk.jpg"), quality=95)

    big = Image.linear_gradient("L").resize((3000, 2000)).convert("RGB")
    buf = io.BytesIO()
    big.save(buf, "JPEG", quality=85)
    open(p("big.jpg"), "wb").write(buf.getvalue())
    open(p("truncated.jpg"), "wb").write(buf.getvalue()[: len(buf.getvalue()) // 2])

    rgb.save(p("rgb.avif"), quality=90)

    exif_img = Image.new("RGB", (32, 24), (128, 128, 128))
    exif = Image.Exif()
    exif[0x010F] = "Sightline"        # Make
    exif[0x0110] = "TestCam 1"        # Model
    exif[0x0112] = 1                  # Orientation
    photo = exif.get_ifd(0x8769)
    photo[0x9003] = "2024:05:06 07:08:09"  # DateTimeOriginal
    photo[0xA434] = "TestLens 50mm F1.8"   # LensModel
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (48.0, 51.0, 29.6)   # 48.858222 N
    gps[3], gps[4] = "E", (2.0, 17.0, 40.2)    # 2.294500 E
    exif_img.save(p("exif.jpg"), quality=90, exif=exif.tobytes())

    write_dng(p("scene_preview.dng"), "jpeg")
    write_dng(p("scene_raw.dng"), "bitmap")

    open(p("empty.bin"), "wb").close()
    open(p("garbage.bin"), "wb").write(bytes((i * 7919) % 251 for i in range(4096)))

    Image.new("1", (30000, 30000)).save(p("bomb.png"), optimize=True)
    print(f"image fixtures written to {out}")


if __name__ == "__main__":
    main()

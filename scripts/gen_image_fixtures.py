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
import sys

from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dng_writer  # noqa: E402

# The scene drawn into the DNG fixtures (and checked by the tests): RGB, box corners.
DNG_W, DNG_H = 600, 400
DNG_BG, DNG_FG, DNG_BOX = (20, 40, 200), (220, 30, 30), (150, 100, 450, 300)


def dng_scene():
    img = Image.new("RGB", (DNG_W, DNG_H), DNG_BG)
    img.paste(DNG_FG, DNG_BOX)
    return img


def write_dng(path, preview):
    import numpy as np
    dng_writer.write_dng(path, np.asarray(dng_scene()), "jpeg" if preview == "jpeg" else "bitmap")


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

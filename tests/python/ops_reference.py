#!/usr/bin/env python3
"""Independent references for slidestream's ops tests (scikit-image, numpy, libvips).

Raw files are C-order H x W x C arrays with no header.

  ops_reference.py region SLIDE X Y W H OUT.raw
      Level 0 pixels of SLIDE (read with tifffile + imagecodecs) in [X, X+W) x [Y, Y+H), uint8 RGB.
  ops_reference.py apply CHAIN IN.raw H W C DTYPE OUT.raw
      CHAIN is comma-separated ops (sobel, grey, od, od:IO, hed), e.g. "grey,sobel"; DTYPE uint8 or
      float32. Writes scikit-image's (or the float64 formula's) result as float64.
  ops_reference.py downsample IN.raw H W C DTYPE OUT.raw
      The 2 x 2 block mean as libvips' pyramid makes it, in numpy: (a+b+c+d+2)>>2 on integers,
      the mean on floats; output in the input's dtype.
  ops_reference.py macenko IN.raw H W OUT.raw
      torchstain's numpy MacenkoNormalizer (Io 240, alpha 1, beta 0.15) on the uint8 RGB image:
      writes the normalised uint8 image; prints the fitted HE (3 x 2, row-major) and maxC.
  ops_reference.py vips-level1 IN.raw H W OUT.raw
      Saves the uint8 RGB image with `vips tiffsave --tile --pyramid` and writes its level 1 as
      libvips made it (uint8), with its shape on stdout.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np


def load(path, h, w, c, dtype):
    return np.fromfile(path, dtype=np.dtype(dtype)).reshape(int(h), int(w), int(c))


def sobel_per_channel(image):
    from skimage.filters import sobel
    image = np.asarray(image, dtype=np.float64)  # skimage keeps float32 as float32: be float64
    return np.stack([sobel(image[..., c]) for c in range(image.shape[-1])], axis=-1)


def apply_op(name, image):
    from skimage.color import rgb2gray, rgb2hed
    from skimage.util import img_as_float
    if name == "sobel":
        if image.dtype == np.uint8:
            image = img_as_float(image)
        return sobel_per_channel(image)
    if name == "grey":
        if image.dtype != np.uint8:
            image = image.astype(np.float64)
        return rgb2gray(image)[..., np.newaxis]
    if name == "hed":
        return rgb2hed(image)
    if name == "od" or name.startswith("od:"):
        io = float(name[3:]) if name.startswith("od:") else 255.0
        x = np.clip(image.astype(np.float64), 1.0, io)
        return -np.log(x / io)
    raise SystemExit("unknown op " + name)


def main(argv):
    command = argv[1]
    if command == "region":
        import tifffile
        slide, x, y, w, h, out = argv[2], *map(int, argv[3:7]), argv[7]
        level0 = tifffile.imread(slide, key=0)
        region = np.ascontiguousarray(level0[y:y + h, x:x + w, :3])
        assert region.shape == (h, w, 3), region.shape
        region.tofile(out)
    elif command == "apply":
        chain, path, h, w, c, dtype, out = argv[2:9]
        image = load(path, h, w, c, dtype)
        for name in chain.split(","):
            image = apply_op(name, image)
        np.ascontiguousarray(image, dtype=np.float64).tofile(out)
    elif command == "downsample":
        path, h, w, c, dtype, out = argv[2:8]
        image = load(path, h, w, c, dtype)
        h2, w2 = image.shape[0] // 2, image.shape[1] // 2
        a = image[0:2 * h2:2, 0:2 * w2:2]
        b = image[0:2 * h2:2, 1:2 * w2:2]
        cc = image[1:2 * h2:2, 0:2 * w2:2]
        d = image[1:2 * h2:2, 1:2 * w2:2]
        if image.dtype.kind == "f":
            result = ((a.astype(np.float64) + b + cc + d) / 4).astype(image.dtype)
        else:
            s = a.astype(np.uint32) + b + cc + d + 2
            result = (s >> 2).astype(image.dtype)
        np.ascontiguousarray(result).tofile(out)
    elif command == "macenko":
        from torchstain.numpy.normalizers.macenko import NumpyMacenkoNormalizer
        path, h, w, out = argv[2], int(argv[3]), int(argv[4]), argv[5]
        image = load(path, h, w, 3, "uint8")
        normalizer = NumpyMacenkoNormalizer()
        he, _, max_c = normalizer._NumpyMacenkoNormalizer__compute_matrices(
            image.reshape(-1, 3), 240, 1, 0.15)
        normalised, _, _ = normalizer.normalize(image, Io=240, alpha=1, beta=0.15, stains=False)
        np.ascontiguousarray(normalised, dtype=np.uint8).tofile(out)
        print(" ".join(repr(float(v)) for v in list(he.reshape(-1)) + list(max_c)))
    elif command == "vips-level1":
        import tifffile
        path, h, w, out = argv[2], int(argv[3]), int(argv[4]), argv[5]
        image = load(path, h, w, 3, "uint8")
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "in.tif")
            tifffile.imwrite(src, image, photometric="rgb")
            dst = os.path.join(tmp, "pyramid.tif")
            subprocess.run(["vips", "tiffsave", src, dst, "--tile", "--pyramid",
                            "--tile-width", "64", "--tile-height", "64"], check=True)
            with tifffile.TiffFile(dst) as tif:
                level1 = tif.series[0].levels[1].asarray()
        np.ascontiguousarray(level1).tofile(out)
        print(level1.shape[0], level1.shape[1])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)

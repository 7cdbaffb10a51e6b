"""The real VLFeat (``libvl.so``) through ctypes: the reference the torch code is measured against.

Install it with ``apt-get install libvlfeat1`` (Debian/Ubuntu) or point
``PREIMAGE_LIBVL`` at a ``libvl.so``. Nothing here is needed for the torch
backends; it backs ``backend="vlfeat"`` and the parity tests.

All functions take one grayscale float32 image ``(H, W)`` (row-major, as VLFeat
expects with ``transposed = false``) and return numpy arrays laid out
channel-first, ``(D, rows, cols)``, to match the torch representations.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from preimage.errors import PreimageError

INSTALL_HINT = (
    "VLFeat's libvl.so is not installed — run `apt-get install libvlfeat1` (Debian/Ubuntu) "
    "or set PREIMAGE_LIBVL=/path/to/libvl.so, or use backend='torch'"
)

_CANDIDATES = (
    "/usr/lib/x86_64-linux-gnu/libvl.so.1",
    "/usr/lib/aarch64-linux-gnu/libvl.so.1",
    "/usr/lib/libvl.so",
    "/usr/local/lib/libvl.so",
)


def find_libvl() -> str | None:
    """Path of ``libvl.so``: ``$PREIMAGE_LIBVL``, the linker's search path, or Debian's location."""
    env = os.environ.get("PREIMAGE_LIBVL")
    if env:
        return env if Path(env).is_file() else None
    found = ctypes.util.find_library("vl")
    if found:
        return found
    return next((c for c in _CANDIDATES if Path(c).is_file()), None)


def available() -> bool:
    try:
        _lib()
    except PreimageError:
        return False
    return True


class _SiftKeypoint(ctypes.Structure):
    _fields_ = [
        ("o", ctypes.c_int),
        ("ix", ctypes.c_int),
        ("iy", ctypes.c_int),
        ("is_", ctypes.c_int),
        ("x", ctypes.c_float),
        ("y", ctypes.c_float),
        ("s", ctypes.c_float),
        ("sigma", ctypes.c_float),
    ]


class _SiftFilt(ctypes.Structure):
    # Mirrors VlSiftFilt in vl/sift.h (0.9.21); needed because the getters are inline functions.
    _fields_ = [
        ("sigman", ctypes.c_double),
        ("sigma0", ctypes.c_double),
        ("sigmak", ctypes.c_double),
        ("dsigma0", ctypes.c_double),
        ("width", ctypes.c_int),
        ("height", ctypes.c_int),
        ("O", ctypes.c_int),
        ("S", ctypes.c_int),
        ("o_min", ctypes.c_int),
        ("s_min", ctypes.c_int),
        ("s_max", ctypes.c_int),
        ("o_cur", ctypes.c_int),
        ("temp", ctypes.c_void_p),
        ("octave", ctypes.c_void_p),
        ("dog", ctypes.c_void_p),
        ("octave_width", ctypes.c_int),
        ("octave_height", ctypes.c_int),
        ("gaussFilter", ctypes.c_void_p),
        ("gaussFilterSigma", ctypes.c_double),
        ("gaussFilterWidth", ctypes.c_uint64),
        ("keys", ctypes.POINTER(_SiftKeypoint)),
        ("nkeys", ctypes.c_int),
        ("keys_res", ctypes.c_int),
        ("peak_thresh", ctypes.c_double),
        ("edge_thresh", ctypes.c_double),
        ("norm_thresh", ctypes.c_double),
        ("magnif", ctypes.c_double),
        ("windowSize", ctypes.c_double),
        ("grad", ctypes.c_void_p),
        ("grad_o", ctypes.c_int),
    ]


@functools.cache
def _lib() -> ctypes.CDLL:
    path = find_libvl()
    if path is None:
        raise PreimageError(INSTALL_HINT)
    try:
        lib = ctypes.CDLL(path)
    except OSError as exc:
        raise PreimageError(f"cannot load {path} ({exc}); {INSTALL_HINT}") from None
    fp = ctypes.POINTER(ctypes.c_float)
    size = ctypes.c_uint64
    lib.vl_hog_new.restype = ctypes.c_void_p
    lib.vl_hog_new.argtypes = [ctypes.c_int, size, ctypes.c_int]
    lib.vl_hog_delete.argtypes = [ctypes.c_void_p]
    lib.vl_hog_put_image.argtypes = [ctypes.c_void_p, fp, size, size, size, size]
    lib.vl_hog_get_width.restype = size
    lib.vl_hog_get_width.argtypes = [ctypes.c_void_p]
    lib.vl_hog_get_height.restype = size
    lib.vl_hog_get_height.argtypes = [ctypes.c_void_p]
    lib.vl_hog_get_dimension.restype = size
    lib.vl_hog_get_dimension.argtypes = [ctypes.c_void_p]
    lib.vl_hog_extract.argtypes = [ctypes.c_void_p, fp]
    lib.vl_hog_set_use_bilinear_orientation_assignments.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.vl_lbp_new.restype = ctypes.c_void_p
    lib.vl_lbp_new.argtypes = [ctypes.c_int, ctypes.c_int]
    lib.vl_lbp_delete.argtypes = [ctypes.c_void_p]
    lib.vl_lbp_get_dimension.restype = size
    lib.vl_lbp_get_dimension.argtypes = [ctypes.c_void_p]
    lib.vl_lbp_process.argtypes = [ctypes.c_void_p, fp, fp, size, size, size]
    filt = ctypes.POINTER(_SiftFilt)
    lib.vl_sift_new.restype = filt
    lib.vl_sift_new.argtypes = [ctypes.c_int] * 5
    lib.vl_sift_delete.argtypes = [filt]
    lib.vl_sift_process_first_octave.restype = ctypes.c_int
    lib.vl_sift_process_first_octave.argtypes = [filt, fp]
    lib.vl_sift_process_next_octave.restype = ctypes.c_int
    lib.vl_sift_process_next_octave.argtypes = [filt]
    lib.vl_sift_detect.argtypes = [filt]
    lib.vl_sift_calc_keypoint_orientations.restype = ctypes.c_int
    lib.vl_sift_calc_keypoint_orientations.argtypes = [
        filt,
        ctypes.POINTER(ctypes.c_double),
        ctypes.POINTER(_SiftKeypoint),
    ]
    lib.vl_sift_calc_keypoint_descriptor.argtypes = [filt, fp, ctypes.POINTER(_SiftKeypoint), ctypes.c_double]
    return lib


def _as_image(gray: np.ndarray) -> np.ndarray:
    if gray.ndim != 2:
        raise PreimageError(f"VLFeat expects one grayscale image (H, W), got shape {gray.shape}")
    return np.ascontiguousarray(gray, dtype=np.float32)


def _fptr(arr: np.ndarray) -> ctypes._Pointer[ctypes.c_float]:
    return arr.ctypes.data_as(ctypes.POINTER(ctypes.c_float))


HOG_VARIANTS = {"dalaltriggs": 0, "uoctti": 1}


def vl_hog(
    gray: np.ndarray,
    cell_size: int = 8,
    variant: str = "uoctti",
    num_orientations: int = 9,
    bilinear_orientations: bool = False,
) -> np.ndarray:
    """``vl_hog_put_image`` + ``vl_hog_extract``: ``(D, (H + c/2) // c, (W + c/2) // c)``."""
    lib = _lib()
    img = _as_image(gray)
    h, w = img.shape
    hog = lib.vl_hog_new(HOG_VARIANTS[variant], num_orientations, 0)
    try:
        lib.vl_hog_set_use_bilinear_orientation_assignments(hog, int(bilinear_orientations))
        lib.vl_hog_put_image(hog, _fptr(img), w, h, 1, cell_size)
        hw, hh, dim = lib.vl_hog_get_width(hog), lib.vl_hog_get_height(hog), lib.vl_hog_get_dimension(hog)
        out = np.zeros((dim, hh, hw), dtype=np.float32)
        lib.vl_hog_extract(hog, _fptr(out))
    finally:
        lib.vl_hog_delete(hog)
    return out


def vl_lbp(gray: np.ndarray, cell_size: int = 16) -> np.ndarray:
    """``vl_lbp_process`` with uniform mapping: ``(58, H // c, W // c)``."""
    lib = _lib()
    img = _as_image(gray)
    h, w = img.shape
    lbp = lib.vl_lbp_new(0, 0)
    try:
        dim = lib.vl_lbp_get_dimension(lbp)
        out = np.zeros((dim, h // cell_size, w // cell_size), dtype=np.float32)
        lib.vl_lbp_process(lbp, _fptr(out), _fptr(img), w, h, cell_size)
    finally:
        lib.vl_lbp_delete(lbp)
    return out


@dataclass(frozen=True)
class Keypoints:
    """Detected SIFT frames: ``xy`` (N, 2) in pixels (0-based), ``sigma`` (N,), ``angle`` (N,) in
    radians (VLFeat convention: y axis down), ``descriptors`` (N, 128) in ``[0, 1]``."""

    xy: np.ndarray
    sigma: np.ndarray
    angle: np.ndarray
    descriptors: np.ndarray

    def __len__(self) -> int:
        return len(self.sigma)


def vl_sift(
    gray: np.ndarray,
    octaves: int = -1,
    levels: int = 3,
    first_octave: int = 0,
    peak_thresh: float = 0.0,
    edge_thresh: float = 10.0,
) -> Keypoints:
    """VLFeat's SIFT detector + descriptor with ``vl_sift``'s defaults (every orientation kept)."""
    lib = _lib()
    img = _as_image(gray)
    h, w = img.shape
    filt = lib.vl_sift_new(w, h, octaves, levels, first_octave)
    xy, sig, ang, desc = [], [], [], []
    try:
        filt.contents.peak_thresh = peak_thresh
        filt.contents.edge_thresh = edge_thresh
        status = lib.vl_sift_process_first_octave(filt, _fptr(img))
        angles = (ctypes.c_double * 4)()
        buf = np.zeros(128, dtype=np.float32)
        while status == 0:
            lib.vl_sift_detect(filt)
            f = filt.contents
            for i in range(f.nkeys):
                key = f.keys[i]
                n = lib.vl_sift_calc_keypoint_orientations(filt, angles, ctypes.byref(key))
                for j in range(n):
                    lib.vl_sift_calc_keypoint_descriptor(filt, _fptr(buf), ctypes.byref(key), angles[j])
                    xy.append((key.x, key.y))
                    sig.append(key.sigma)
                    ang.append(angles[j])
                    desc.append(buf.copy())
            status = lib.vl_sift_process_next_octave(filt)
    finally:
        lib.vl_sift_delete(filt)
    return Keypoints(
        np.asarray(xy, dtype=np.float32).reshape(-1, 2),
        np.asarray(sig, dtype=np.float32),
        np.asarray(ang, dtype=np.float32),
        np.asarray(desc, dtype=np.float32).reshape(-1, 128),
    )

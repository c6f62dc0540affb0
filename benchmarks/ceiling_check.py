#!/usr/bin/env python3
"""The true peak of masters as readers outside Lacquer see it (the check behind README "The
true-peak ceiling"): one JSON line per file with

  ideal_32x_dbtp   the band-limited reconstruction at 32x, float64: each channel cut into blocks of
                   2^16 samples with 2^13 samples of context each side, upsampled by zero-padding the
                   block's spectrum (the Nyquist bin split in two), the context's values dropped;
  libebur128_dbtp  libebur128's true peak (its own 4x/2x interpolator), through ctypes;
  ffmpeg_dbtp      ffmpeg's ebur128 filter with peak=true (libswresample's 4x), when ffmpeg is there:
                   the largest of its per-frame true-peak metadata (linear, 3 decimals: +-0.005 dB).

    ceiling_check.py FILE.wav [FILE.wav ...]      (python3-numpy, libebur128, optional ffmpeg)
"""
import ctypes
import json
import math
import re
import shutil
import subprocess
import sys
import wave

import numpy as np

BLOCK, CONTEXT, OVER = 1 << 16, 1 << 13, 32


def read_wav(path):
    """Float samples (frames x channels) of a 16/24-bit PCM or 32-bit float WAV."""
    with open(path, 'rb') as f:
        data = f.read()
    if data[:4] != b'RIFF' or data[8:12] != b'WAVE':
        raise SystemExit(f'{path}: not a WAV file')
    pos, fmt, body = 12, None, None
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], int.from_bytes(data[pos + 4:pos + 8], 'little')
        chunk = data[pos + 8:pos + 8 + size]
        if cid == b'fmt ':
            fmt = chunk
        elif cid == b'data':
            body = chunk
        pos += 8 + size + (size & 1)
    tag, channels, rate = int.from_bytes(fmt[0:2], 'little'), int.from_bytes(fmt[2:4], 'little'), int.from_bytes(fmt[4:8], 'little')
    bits = int.from_bytes(fmt[14:16], 'little')
    if tag == 0xFFFE:
        tag = int.from_bytes(fmt[24:26], 'little')
    if tag == 3 and bits == 32:
        x = np.frombuffer(body, dtype='<f4').astype(np.float64)
    elif tag == 1 and bits == 16:
        x = np.frombuffer(body, dtype='<i2').astype(np.float64) / 32768.0
    elif tag == 1 and bits == 24:
        b = np.frombuffer(body, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        x = np.where(v >= 1 << 23, v - (1 << 24), v).astype(np.float64) / float(1 << 23)
    else:
        raise SystemExit(f'{path}: format {tag}/{bits}-bit not read here')
    return x.reshape(-1, channels), rate


def ideal_peak(x):
    """The largest |value| of the 32x band-limited reconstruction of one channel."""
    n, best = len(x), 0.0
    padded = np.concatenate([np.zeros(CONTEXT), x, np.zeros(CONTEXT + BLOCK)])
    for start in range(0, n + 16, BLOCK):  # the tail after the last sample too
        seg = padded[start:start + BLOCK + 2 * CONTEXT]
        m = len(seg)
        spec = np.fft.rfft(seg)
        up = np.zeros(m * OVER // 2 + 1, dtype=complex)
        up[:m // 2 + 1] = spec
        up[m // 2] *= 0.5  # the Nyquist bin, split between +fs/2 and -fs/2
        y = np.fft.irfft(up, m * OVER) * OVER
        best = max(best, float(np.abs(y[CONTEXT * OVER:(CONTEXT + BLOCK) * OVER]).max()))
    return best


def libebur128_peak(x, rate):
    lib = ctypes.CDLL('libebur128.so.1')
    lib.ebur128_init.restype = ctypes.c_void_p
    lib.ebur128_init.argtypes = [ctypes.c_uint, ctypes.c_ulong, ctypes.c_int]
    lib.ebur128_add_frames_double.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_double), ctypes.c_size_t]
    lib.ebur128_true_peak.argtypes = [ctypes.c_void_p, ctypes.c_uint, ctypes.POINTER(ctypes.c_double)]
    lib.ebur128_destroy.argtypes = [ctypes.POINTER(ctypes.c_void_p)]
    st = ctypes.c_void_p(lib.ebur128_init(x.shape[1], rate, (1 << 5) | (1 << 4) | 1))  # EBUR128_MODE_TRUE_PEAK
    inter = np.ascontiguousarray(x, dtype=np.float64)
    lib.ebur128_add_frames_double(st, inter.ctypes.data_as(ctypes.POINTER(ctypes.c_double)), x.shape[0])
    best = 0.0
    for c in range(x.shape[1]):
        v = ctypes.c_double()
        lib.ebur128_true_peak(st, c, ctypes.byref(v))
        best = max(best, v.value)
    lib.ebur128_destroy(ctypes.byref(st))
    return best


def ffmpeg_peak_db(path):
    if not shutil.which('ffmpeg'):
        return None
    r = subprocess.run(['ffmpeg', '-nostats', '-hide_banner', '-i', path, '-af',
                        'ebur128=peak=true:metadata=1,ametadata=mode=print:file=-', '-f', 'null', '-'],
                       capture_output=True, text=True)
    found = [float(v) for v in re.findall(r'lavfi\.r128\.true_peak=([0-9.]+)', r.stdout)]
    return db(max(found)) if found and max(found) > 0 else None


def db(v):
    return 20.0 * math.log10(v) if v > 0 else None


for path in sys.argv[1:]:
    x, rate = read_wav(path)
    print(json.dumps({'file': path, 'ideal_32x_dbtp': db(max(ideal_peak(x[:, c]) for c in range(x.shape[1]))),
                      'libebur128_dbtp': db(libebur128_peak(x, rate)), 'ffmpeg_dbtp': ffmpeg_peak_db(path)}), flush=True)

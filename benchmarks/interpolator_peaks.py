#!/usr/bin/env python3
"""True-peak readings of one file on several interpolators (the study behind the limiter's detector,
kernels/dsp/true_peak.hpp): the BS.1770-4 Annex 2 filter, and 4x / 8x Kaiser-windowed sincs of
H input samples a side (phases normalised to unit DC gain, as sinc_taps builds them), including the
limiter's two (H 64, beta 9, cutoff 1; H 16, beta 9, cutoff 0.97) and one close to libswresample's
default. Prints one line per interpolator: its largest reading over all channels, in dBTP.

    interpolator_peaks.py FILE.wav      (needs python3-numpy, python3-scipy, python3-soundfile)
"""
import sys

import numpy as np
import soundfile as sf
from scipy.special import i0

ANNEX2 = np.array([
    [0.0017089843750, 0.0109863281250, -0.0196533203125, 0.0332031250000, -0.0594482421875, 0.1373291015625,
     0.9721679687500, -0.1022949218750, 0.0476074218750, -0.0266113281250, 0.0148925781250, -0.0083007812500],
    [-0.0291748046875, 0.0292968750000, -0.0517578125000, 0.0891113281250, -0.1665039062500, 0.4650878906250,
     0.7797851562500, -0.2003173828125, 0.1015625000000, -0.0582275390625, 0.0330810546875, -0.0189208984375],
    [-0.0189208984375, 0.0330810546875, -0.0582275390625, 0.1015625000000, -0.2003173828125, 0.7797851562500,
     0.4650878906250, -0.1665039062500, 0.0891113281250, -0.0517578125000, 0.0292968750000, -0.0291748046875],
    [-0.0083007812500, 0.0148925781250, -0.0266113281250, 0.0476074218750, -0.1022949218750, 0.9721679687500,
     0.1373291015625, -0.0594482421875, 0.0332031250000, -0.0196533203125, 0.0109863281250, 0.0017089843750]])


def sinc_phases(half, beta, cutoff, over):
    phases = []
    for p in range(1, over):
        u = half - np.arange(2 * half) - p / over
        w = i0(beta * np.sqrt(np.clip(1 - (u / half) ** 2, 0, None))) / i0(beta)
        h = cutoff * np.sinc(cutoff * u) * w
        phases.append(h / h.sum())
    return phases


def reading_db(x, phases):
    best = np.abs(x).max()
    for c in range(x.shape[1]):
        for h in phases:
            best = max(best, np.abs(np.convolve(x[:, c], h)).max())
    return 20 * np.log10(best)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    x, _ = sf.read(sys.argv[1], dtype='float64', always_2d=True)
    print(f'sample peak                              {20 * np.log10(np.abs(x).max()):8.3f} dBTP')
    print(f'BS.1770-4 Annex 2 (4x, 12 taps a phase)  {reading_db(x, list(ANNEX2)):8.3f} dBTP')
    for name, half, beta, cutoff, over in (
            ('limiter long sinc (4x, H 64, beta 9)  ', 64, 9.0, 1.0, 4),
            ('limiter short sinc (4x, H 16, c 0.97) ', 16, 9.0, 0.97, 4),
            ('sinc 4x, H 16, beta 9, cutoff 1       ', 16, 9.0, 1.0, 4),
            ('sinc 4x, H 32, beta 8, cutoff 1       ', 32, 8.0, 1.0, 4),
            ('sinc 4x, H 20, beta 6, cutoff 1       ', 20, 6.0, 1.0, 4),
            ('sinc 8x, H 64, beta 9, cutoff 1       ', 64, 9.0, 1.0, 8)):
        print(f'{name}   {reading_db(x, sinc_phases(half, beta, cutoff, over)):8.3f} dBTP')


if __name__ == '__main__':
    main()

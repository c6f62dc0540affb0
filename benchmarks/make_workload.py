#!/usr/bin/python3
# Copied from the project's shared bench/make_workload.py so that a GPU machine (which sees only
# the working tree) can generate the workload. One change: `soundfile` is used only to write the
# --flac copies, so it is imported only for --flac; the default path needs numpy and scipy only.
"""Deterministic synthetic reference song for performance baselines.

Writes into OUTDIR:
  8 stereo stems, 48 kHz, 24-bit PCM WAV:  kick snare hats bass keys pad vocal fx
  ir.wav      stereo reverb impulse response, 3.0 s, 48 kHz, float32 WAV
              (exponentially decaying noise, different per channel, early reflections)
  ir_L.txt, ir_R.txt   the IR's channels as text coefficients (one per line, for sox 'fir')
  eq_entries.txt  ffmpeg firequalizer gain_entry list of the 4-band reference EQ (RBJ low shelf
              +3 dB @100 Hz, bell -2 dB @400 Hz Q 1, bell +2 dB @3 kHz Q 1, high shelf +1.5 dB
              @10 kHz), magnitude sampled at 1/3-octave points
  MANIFEST.txt  sizes, peaks and RMS of everything written

usage: make_workload.py OUTDIR [SECONDS=180] [--flac] [--seed N]
  --flac   also write each stem as 24-bit FLAC (stems_flac/NAME.flac)
  --seed N seed the noise generator with N (a non-negative integer) instead of the fixed default
           (20240601): different noise in every stem and in the IR, and the song moved to another
           key (-5..+6 semitones, never 0), same arrangement and levels (a catalog of distinct songs:
           one seed per song). Without --seed (or with --seed 20240601) the output is the standard
           workload, byte for byte.
Only Debian packages: python3-numpy, python3-scipy (and python3-soundfile for --flac).
Same arguments -> same bytes (fixed seed, no time-dependent input).
"""
import os
import sys

import numpy as np
from scipy import signal

SR = 48000
BPM = 120.0
SEED = 20240601


def write_wav(path, x, sr, fmt):
    """WAVE_FORMAT_EXTENSIBLE file with the speaker mask set (FL|FR for stereo), no extra chunks,
    so tools see a real channel layout and the bytes are reproducible. fmt: 'pcm24' or 'float32'"""
    import struct
    ch = x.shape[1]
    if fmt == 'pcm24':
        q = np.clip(np.round(x.astype(np.float64) * 8388608.0), -8388608, 8388607).astype('<i4')
        data, bits, sub = q.view(np.uint8).reshape(-1, 4)[:, :3].tobytes(), 24, 1
    else:
        data, bits, sub = x.astype('<f4').tobytes(), 32, 3
    mask = {1: 0x4, 2: 0x3}.get(ch, 0)
    guid = struct.pack('<I', sub) + bytes.fromhex('000010008000' + '00aa00389b71')
    fmtc = struct.pack('<HHIIHHHHI', 0xFFFE, ch, sr, sr * ch * bits // 8, ch * bits // 8, bits, 22, bits, mask) + guid
    with open(path, 'wb') as fh:
        fh.write(b'RIFF' + struct.pack('<I', 4 + 8 + len(fmtc) + 8 + len(data)) + b'WAVE')
        fh.write(b'fmt ' + struct.pack('<I', len(fmtc)) + fmtc + b'data' + struct.pack('<I', len(data)))
        fh.write(data)


def rbj(kind, f0, g, q=0.707):
    """RBJ cookbook biquad (b, a) for a bell or shelf"""
    A = 10 ** (g / 40); w = 2 * np.pi * f0 / SR; al = np.sin(w) / (2 * q); c = np.cos(w)
    if kind == 'bell':
        return [1 + al * A, -2 * c, 1 - al * A], [1 + al / A, -2 * c, 1 - al / A]
    sa = 2 * np.sqrt(A) * al
    if kind == 'low':
        return ([A * ((A + 1) - (A - 1) * c + sa), 2 * A * ((A - 1) - (A + 1) * c), A * ((A + 1) - (A - 1) * c - sa)],
                [(A + 1) + (A - 1) * c + sa, -2 * ((A - 1) + (A + 1) * c), (A + 1) + (A - 1) * c - sa])
    return ([A * ((A + 1) + (A - 1) * c + sa), -2 * A * ((A - 1) + (A + 1) * c), A * ((A + 1) + (A - 1) * c - sa)],
            [(A + 1) - (A - 1) * c + sa, 2 * ((A - 1) - (A + 1) * c), (A + 1) - (A - 1) * c - sa])


EQ_BANDS = [('low', 100, 3.0), ('bell', 400, -2.0, 1.0), ('bell', 3000, 2.0, 1.0), ('high', 10000, 1.5)]


def eq_entries():
    f = np.concatenate([[10], 20 * 2 ** (np.arange(0, 31) / 3), [23999]])
    f = f[f < 24000]
    H = np.ones(len(f))
    for b in EQ_BANDS:
        bb, aa = rbj(*b)
        H = H * np.abs(signal.freqz(bb, aa, worN=f, fs=SR)[1])
    return ';'.join('entry(%g,%.2f)' % (x, y) for x, y in zip(f, 20 * np.log10(H)))


def parse_seed(argv):
    """(argv without --seed N / --seed=N, the seed); the default seed when absent"""
    rest, seed, i = [], SEED, 0
    while i < len(argv):
        a = argv[i]
        if a == '--seed' or a.startswith('--seed='):
            if a == '--seed':
                if i + 1 >= len(argv):
                    sys.exit('make_workload.py: --seed needs a value')
                v, i = argv[i + 1], i + 2
            else:
                v, i = a[len('--seed='):], i + 1
            if not v.isdigit():
                sys.exit('make_workload.py: --seed takes a non-negative integer, not %r' % v)
            seed = int(v)
        else:
            rest.append(a)
            i += 1
    return rest, seed


def main():
    argv, seed = parse_seed(sys.argv[1:])
    args = [a for a in argv if not a.startswith('--')]
    if not args:
        print(__doc__)
        sys.exit(2)
    out = args[0]
    dur = float(args[1]) if len(args) > 1 else 180.0
    want_flac = '--flac' in argv
    if want_flac:
        import soundfile as sf
    os.makedirs(out, exist_ok=True)
    n = int(round(dur * SR))
    t = np.arange(n) / SR
    beat = 60.0 / BPM
    bar = 4 * beat
    rng = np.random.default_rng(seed)

    def since(onsets):
        """seconds since the latest onset (inf before the first), and the onset's index"""
        onsets = np.asarray(onsets, dtype=np.float64)
        idx = np.searchsorted(onsets, t, side='right') - 1
        ts = np.where(idx >= 0, t - onsets[np.maximum(idx, 0)], np.inf)
        return ts, idx

    def bandnoise(lo, hi, order=4):
        x = rng.standard_normal(n)
        if lo and hi:
            sos = signal.butter(order, [lo, hi], 'bandpass', fs=SR, output='sos')
        elif hi:
            sos = signal.butter(order, hi, 'lowpass', fs=SR, output='sos')
        else:
            sos = signal.butter(order, lo, 'highpass', fs=SR, output='sos')
        return signal.sosfilt(sos, x)

    def harmonic(f0, nharm, tilt=1.0, vib_depth=0.0, vib_rate=5.5, formants=None):
        """sum of harmonics of an instantaneous frequency f0 (array), band-limited to 20 kHz"""
        f0 = np.broadcast_to(np.asarray(f0, dtype=np.float64), (n,))
        if vib_depth:
            vib_ph = 2 * np.pi * vib_rate * t + 0.3 * np.sin(2 * np.pi * 0.21 * t)
            f0 = f0 * (1.0 + vib_depth * np.sin(vib_ph))
        ph = 2 * np.pi * np.cumsum(f0) / SR
        y = np.zeros(n)
        for k in range(1, nharm + 1):
            a = 1.0 / k ** tilt
            if formants is not None:
                fk = k * f0
                a = a * sum(g * np.exp(-0.5 * ((fk - fc) / bw) ** 2) for fc, g, bw in formants) + 0.02 / k
            a = np.where(k * f0 < 20000.0, a, 0.0)
            y += a * np.sin(k * ph + 0.7 * k)
        return y

    def pan(x, p, delay_s=0.0, width=0.0):
        """p in [-1, 1]; delay_s delays the right channel; width blends in a decorrelated copy"""
        gl, gr = np.cos((p + 1) * np.pi / 4), np.sin((p + 1) * np.pi / 4)
        r = x
        if delay_s:
            d = int(delay_s * SR)
            r = np.concatenate([np.zeros(d), x[:-d]])
        if width:
            r = (1 - width) * r + width * np.roll(x, int(0.0137 * SR))
        return np.stack([gl * x, gr * r], 1)

    # song grid: 120 BPM, 4/4, 8-bar sections; chord roots i-VI-III-VII in A minor
    beats = np.arange(0, dur, beat)
    eighths = np.arange(0, dur, beat / 2)
    sixteenths = np.arange(0, dur, beat / 4)
    bars = np.arange(0, dur, bar)
    # --seed N (other than the default) also moves the song to another key, so that the tonal
    # stems (bass keys pad vocal) differ per seed too; a separate generator leaves rng's stream as is
    key = 0 if seed == SEED else int(np.random.default_rng([seed, 7]).choice([-5, -4, -3, -2, -1, 1, 2, 3, 4, 5, 6]))
    roots = np.array([45, 41, 48, 43]) + key         # MIDI: A2 F2 C3 G2 (+ key)
    bar_root = roots[(np.floor(t / bar).astype(int)) % 4]
    section = (np.floor(t / (8 * bar)).astype(int)) % 4  # 0 verse, 1 chorus, 2 verse, 3 break
    midi_hz = lambda m: 440.0 * 2 ** ((np.asarray(m, dtype=np.float64) - 69) / 12)

    stems = {}
    # kick: pitch-dropping sine + click, four on the floor, skipped in the break
    ts, _ = since(beats)
    f = 48 + 110 * np.exp(-ts / 0.03)
    ph = 2 * np.pi * np.cumsum(np.where(np.isfinite(ts), f, 0)) / SR
    kick = np.sin(ph) * np.exp(-ts / 0.18) + 0.3 * bandnoise(1000, 6000) * np.exp(-ts / 0.004)
    kick *= np.where(section == 3, 0.15, 1.0)
    stems['kick'] = pan(kick, 0.0)
    # snare: band-passed noise burst + 185 Hz body on beats 2 and 4, ghost notes on some 16ths
    ts, _ = since(beats[1::2])
    body = np.sin(2 * np.pi * 185 * t) * np.exp(-ts / 0.07)
    snare = 0.8 * bandnoise(180, 9000) * np.exp(-ts / 0.12) + 0.5 * body
    gh = sixteenths[(np.arange(len(sixteenths)) % 16 == 11)]
    tg, _ = since(gh)
    snare += 0.2 * bandnoise(300, 7000) * np.exp(-tg / 0.05)
    stems['snare'] = pan(snare, 0.05, 0.0004, 0.15)
    # hats: high-passed noise on 8ths with accents, an open hat before each bar
    ts, idx = since(eighths)
    acc = np.where(idx % 2 == 0, 1.0, 0.55)
    dec = np.where(idx % 8 == 7, 0.25, 0.035)
    hats = bandnoise(7000, None) * acc * np.exp(-ts / dec)
    stems['hats'] = pan(hats, 0.35, 0.0007, 0.3)
    # bass: 6-harmonic tone following the roots, 8th-note envelope, slight glide, tanh drive
    ts, idx = since(eighths)
    f0 = midi_hz(bar_root - 12 + 12 * (idx % 8 == 6))
    f0 = signal.lfilter([0.002], [1, -0.998], f0, zi=[f0[0] * 0.998])[0]   # portamento
    bass = np.tanh(1.8 * harmonic(f0, 10, tilt=1.2)) * (0.55 + 0.45 * np.exp(-ts / 0.12))
    stems['bass'] = pan(bass, 0.0)
    # keys: triads (root, minor/major third, fifth) re-struck every half bar, ADSR-ish envelope
    ts, idx = since(np.arange(0, dur, bar / 2))
    third = np.where(np.isin((bar_root - key) % 12, [9, 4]), 3, 4)
    env = np.minimum(ts / 0.008, 1.0) * (0.35 + 0.65 * np.exp(-ts / 0.4))
    keys = sum(g * harmonic(midi_hz(bar_root + 12 + iv), 12, tilt=1.6)
               for iv, g in [(0, 1.0), (third, 0.8), (7, 0.7)]) * env
    stems['keys'] = pan(keys, -0.3, 0.0011, 0.25)
    # pad: detuned harmonic chord with slow swells and a chorus-like wide image
    sw = 0.5 - 0.5 * np.cos(2 * np.pi * t / (2 * bar))
    padL = sum(harmonic(midi_hz(bar_root + 24 + iv) * (1 + dt), 8, tilt=2.0)
               for iv in (0, 7, 15) for dt in (-0.003, 0.004))
    padR = sum(harmonic(midi_hz(bar_root + 24 + iv) * (1 + dt), 8, tilt=2.0)
               for iv in (0, 7, 15) for dt in (-0.005, 0.002))
    stems['pad'] = np.stack([padL * sw, padR * sw], 1) * np.where(section == 1, 1.0, 0.6)[:, None]
    # vocal-like: melody with vibrato, formant-shaped harmonics, phrase envelopes, breath noise
    mel = np.array([0, 3, 5, 7, 5, 3, 0, -2, 0, 7, 10, 12, 10, 7, 5, 3])
    ts, idx = since(np.arange(0, dur, beat))
    f0 = midi_hz(57 + key + 12 + mel[idx % 16])
    f0 = signal.lfilter([0.004], [1, -0.996], f0, zi=[f0[0] * 0.996])[0]
    forms = [(700, 1.0, 130), (1220, 0.6, 150), (2600, 0.35, 250)]
    voice = harmonic(f0, 40, tilt=0.9, vib_depth=0.012, formants=forms)
    phrase = np.clip(np.sin(2 * np.pi * t / (2 * bar)) * 1.6, 0, 1) ** 0.7
    voice = voice * phrase * (0.75 + 0.25 * np.exp(-ts / 0.2)) + 0.03 * bandnoise(2000, 9000) * phrase
    stems['vocal'] = pan(voice, 0.0, 0.0, 0.05)
    # fx: resonant noise risers over the last 2 bars of every 8, plus a 16th-note shaker
    pos = (t % (8 * bar)) / (8 * bar)
    rise = np.clip((pos - 0.75) / 0.25, 0, 1) ** 2
    fc = 400 + 7000 * rise
    nz = rng.standard_normal(n)
    # time-varying one-pole low-pass (cheap, deterministic), then emphasise with rise
    a = np.exp(-2 * np.pi * fc / SR)
    lp = np.empty(n)
    blk = 4800
    state = 0.0
    for s in range(0, n, blk):       # block-constant coefficient keeps it vectorised
        aa = a[s]
        y, zf = signal.lfilter([1 - aa], [1, -aa], nz[s:s + blk], zi=[state * aa])
        lp[s:s + blk] = y
        state = y[-1]
    ts, idx = since(sixteenths)
    shaker = bandnoise(4000, 12000) * np.exp(-ts / 0.02) * np.where(idx % 4 == 2, 1.0, 0.5)
    fxl = 1.5 * lp * rise + 0.25 * shaker
    fxr = 1.5 * np.roll(lp, 331) * rise + 0.25 * np.roll(shaker, 97)
    stems['fx'] = np.stack([fxl, fxr], 1)

    lines = []
    peaks_db = {'kick': -3, 'snare': -4, 'hats': -10, 'bass': -4, 'keys': -8, 'pad': -12,
                'vocal': -5, 'fx': -9}
    for name, x in stems.items():
        x = x / np.max(np.abs(x)) * 10 ** (peaks_db[name] / 20)
        x = x.astype(np.float32)
        write_wav(os.path.join(out, name + '.wav'), x, SR, 'pcm24')
        if want_flac:
            os.makedirs(os.path.join(out, 'stems_flac'), exist_ok=True)
            sf.write(os.path.join(out, 'stems_flac', name + '.flac'), x, SR, subtype='PCM_24')
        rms = 20 * np.log10(np.sqrt(np.mean(x.astype(np.float64) ** 2)) + 1e-30)
        lines.append(f'{name}.wav  {x.shape[0]} frames x {x.shape[1]} ch  peak {peaks_db[name]} dBFS  rms {rms:.1f} dBFS')

    # reverb IR: 3.0 s stereo, pre-delay, early reflections (different per channel),
    # exponentially decaying noise tail (RT60 ~2.4 s) whose high end decays faster
    L = int(3.0 * SR)
    ti = np.arange(L) / SR
    ir = np.zeros((L, 2))
    for ch in range(2):
        nz = rng.standard_normal(L)
        hi = signal.sosfilt(signal.butter(2, 4000, 'highpass', fs=SR, output='sos'), nz)
        lo = nz - hi
        tail = lo * np.exp(-ti * 6.91 / 2.4) + hi * np.exp(-ti * 6.91 / 1.2)
        tail *= np.clip((ti - 0.012) / 0.03, 0, 1)          # diffuse part builds up after ~12 ms
        ir[:, ch] = 0.35 * tail
        refl = [(0.0031, 1.0), (0.0093, 0.55), (0.0141, -0.42), (0.0207, 0.36), (0.0283, -0.3), (0.0377, 0.24)]
        for k, (d, g) in enumerate(refl):
            d = d * (1.0 + 0.11 * ch * (-1) ** k)            # channel-dependent arrival times
            ir[int(d * SR), ch] += g * (1 if ch == 0 else (-1) ** (k + 1))
    ir /= np.sqrt(np.sum(ir ** 2, 0))                        # unit energy per channel
    ir = ir.astype(np.float32)
    write_wav(os.path.join(out, 'ir.wav'), ir, SR, 'float32')
    for ch, tag in enumerate('LR'):
        np.savetxt(os.path.join(out, f'ir_{tag}.txt'), ir[:, ch], fmt='%.9g')
    with open(os.path.join(out, 'eq_entries.txt'), 'w') as fh:
        fh.write(eq_entries() + '\n')
    corr = np.corrcoef(ir[:, 0], ir[:, 1])[0, 1]
    lines.append(f'ir.wav  {L} frames x 2 ch  float32  unit energy/channel  L/R correlation {corr:.3f}')
    with open(os.path.join(out, 'MANIFEST.txt'), 'w') as fh:
        fh.write(f'seed {seed}  duration {dur} s  rate {SR} Hz' + (f'  key {key:+d}' if key else '') + '\n' + '\n'.join(lines) + '\n')
    print('\n'.join(lines))


if __name__ == '__main__':
    main()

// The series a render records for its HTML report (`--html`; docs/architecture.md "Reports"):
// loudness every 100 ms before and after the finishing, the limiter's gain reduction per 100 ms
// step, each stem's and group's compressor's largest reduction per 100 ms step (host path; the
// device render records none), 1/3-octave long-term spectra before and after, the ten highest
// true peaks. All of it goes
// into the JSON report (master.series), which is all the HTML page is built from.
#pragma once

#include <vector>

#include <nlohmann/json.hpp>

#include "host/loudness.hpp"
#include "kernels/cpu/audio_buffer.hpp"
#include "kernels/cpu/thread_pool.hpp"

namespace lq {

// The 1/3-octave long-term spectrum of `audio`: bands at the base-10 centres 10^(k/10) Hz from 25 Hz
// to 20 kHz (centres up to 0.45 fs), each the mean square per channel of the band's part of the
// signal in dB (a full-scale sine in a band reads -3.01 dB): Hann frames of 4096 samples (about
// 85 ms at 48 kHz) every eighth frame's length, so an eighth of the song is read, evenly spread;
// per-bin powers summed over the band's edges (centre * 2^(+-1/6)). {"hz": [...], "db": [...]},
// null where a band holds no energy. Bit-identical for any thread count.
nlohmann::json third_octave_spectrum(const AudioBuffer& audio, cpu::ThreadPool& pool);

// The master's series: `before` (the master bus at the output rate before the loudness gain) and
// `after` (what is delivered) measured by the render; `gain_db` the loudness gain between them.
// The limiter's gain reduction in step k is the K-weighted energy the finishing took from it:
// 10 log10(before_k) + gain_db - 10 log10(after_k), 0 where the step (after the gain) is under
// -70 LUFS or comes out louder (dither). Loudness values under -70 LUFS (silence) are null. Values
// to 0.001 dB (LU); the peaks exact.
nlohmann::json master_series(const LoudnessMeasurement& before, const LoudnessMeasurement& after, double gain_db,
                             nlohmann::json spectrum_before, nlohmann::json spectrum_after);

}  // namespace lq

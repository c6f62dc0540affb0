// The `lacquer` command. User errors are caught here, once, and printed as one line.
// Exit codes: 0 success, 1 render failed (bad input, I/O), 2 usage error.
#include <CLI/CLI.hpp>
#include <malloc.h>

#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <iostream>

#include "cli/commands.hpp"
#include "host/errors.hpp"

int main(int argc, char** argv) {
  // Buffers up to 16 MiB (the stems' spans, transform frames, scratch) come from one heap and are
  // reused once freed, instead of fresh mmap'd pages that the kernel zero-fills page by page;
  // longer ones (the buses, the master: a channel of a 3-minute song is 33 MiB) are mapped and
  // returned when freed, so that peak memory is what is live, not the heap's fragmented high-water
  // mark. Timed by hand (2 cores, 2026-12-02, standard session): 180 s 2.04-2.12 s wall, 294-363 MB
  // with every buffer on the heap, 2.17-2.25 s and 263-268 MB this way; 600 s 1071 -> 734 MB.
  mallopt(M_MMAP_THRESHOLD, 16 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_ARENA_MAX, 1);
  // CLI::Range lets NaN through (its comparisons are false): every number must also be finite.
  const CLI::Validator finite(
      [](std::string& text) {
        try {
          size_t used = 0;
          const double v = std::stod(text, &used);
          if (!std::isfinite(v)) return std::string("must be a finite number, not '") + text + "'";
        } catch (const std::exception&) {
          return std::string("'") + text + "' is not a number";
        }
        return std::string();
      },
      "FINITE");
  CLI::App app{"Lacquer: GPU-accelerated offline stem mastering"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("lacquer ") + LQ_VERSION);

  lq::cli::RenderArgs render;
  auto* render_cmd = app.add_subcommand(
      "render", "Render a song: SESSION.toml, or a folder of stems with the default preset");
  render_cmd->add_option("inputs", render.inputs,
                         "Session file (.toml) or folder of stems; several: one master each into the folder -o")
      ->required();
  render_cmd->add_option("-o,--output", render.output,
                         "Master file (.wav or .flac); with several inputs or --album, the output folder")
      ->required();
  render_cmd->add_flag("--album", render.album,
                       "The inputs are one album: one loudness gain for all, the album's loudness at the target");
  render_cmd->add_option("--format", render.format, "wav or flac, for the masters written into a folder")
      ->check(CLI::IsMember({"wav", "flac"}));
  render_cmd->add_option("--report", render.report, "JSON report path (default: OUTPUT with .json)");
  render_cmd->add_flag("--no-report", render.no_report, "Do not write a JSON report");
  render_cmd->add_flag("--html", render.html,
                       "Also write an HTML report beside each master (OUTPUT with .html): loudness over time, limiting, "
                       "spectra, true peaks, codecs");
  render_cmd->add_option("--target-lufs", render.target_lufs, "Integrated loudness target, LUFS")
      ->check(finite)->check(CLI::Range(-40.0, -5.0));
  render_cmd->add_option("--ceiling-dbtp", render.ceiling_dbtp, "True-peak ceiling, dBTP")
      ->check(finite)->check(CLI::Range(-20.0, 0.0));
  render_cmd->add_option("--threads", render.threads, "Worker threads (0: all cores)")->check(CLI::Range(0, 1024));
  render_cmd->add_option("--backend", render.backend, "cpu, cuda or auto (cuda-host: the GPU path on the CPU, a test aid)")
      ->check(CLI::IsMember({"cpu", "cuda", "auto", "cuda-host"}));
  render_cmd->add_flag("-q,--quiet", render.quiet, "Print nothing but errors");

  lq::cli::MeasureArgs measure;
  auto* measure_cmd = app.add_subcommand(
      "measure", "Loudness (BS.1770-4 / EBU R128), loudness range, peaks and true peak of files");
  measure_cmd->add_option("files", measure.files, "Audio files")->required();
  measure_cmd->add_flag("--json", measure.json, "Print JSON");
  measure_cmd->add_flag("--album", measure.album,
                        "Also the files as one album: their blocks gated together, each file against it");
  measure_cmd->add_option("--threads", measure.threads, "Worker threads (0: all cores)")->check(CLI::Range(0, 1024));

  lq::cli::QcArgs qc;
  auto* qc_cmd = app.add_subcommand(
      "qc", "Delivery checks of masters: loudness, range, true peak and its bound, codec round trips");
  qc_cmd->add_option("files", qc.files, "Audio files")->required();
  qc_cmd->add_option("--codecs", qc.codecs, "Codec round trips, e.g. aac_256,mp3_320,opus_160,vorbis_320")
      ->delimiter(',');
  qc_cmd->add_flag("--json", qc.json, "Print JSON");
  qc_cmd->add_option("--target-lufs", qc.target_lufs, "Fail a file whose integrated loudness is off this target")
      ->check(finite)->check(CLI::Range(-70.0, 0.0));
  qc_cmd->add_option("--tolerance-lu", qc.tolerance_lu, "How far off the target a file may be (default 0.5 LU)")
      ->check(finite)->check(CLI::Range(0.0, 10.0));
  qc_cmd->add_option("--ceiling-dbtp", qc.ceiling_dbtp, "Fail a file, or a codec's decoding, whose true peak is over it")
      ->check(finite)->check(CLI::Range(-20.0, 6.0));
  qc_cmd->add_option("--threads", qc.threads, "Worker threads (0: all cores)")->check(CLI::Range(0, 1024));

  auto* devices_cmd = app.add_subcommand("devices", "List the backends and GPUs, or say why none is usable");

  lq::cli::BatchArgs batch;
  auto* batch_cmd = app.add_subcommand(
      "batch", "Render a catalog: a folder of song folders, or a .csv/.jsonl manifest (resumable, shardable)");
  batch_cmd->add_option("catalog", batch.catalog, "Folder of song folders, or manifest (.csv, .jsonl)")->required();
  batch_cmd->add_option("-o,--output", batch.output, "Output folder: OUT/<song>/master.<ext>, report.json")->required();
  batch_cmd->add_option("--preset", batch.preset, "Session file without [stems] for songs without session.toml");
  batch_cmd->add_option("--jobs", batch.jobs, "Songs in flight (0: min(8, max(2, cores/2)))")->check(CLI::Range(0, 256));
  batch_cmd->add_option("--threads", batch.threads, "CPU threads in all (0: every core), shared by the songs in flight")
      ->check(CLI::Range(0, 1024));
  batch_cmd->add_option("--backend", batch.backend, "cpu, cuda or auto (cuda-host: the GPU path on the CPU, a test aid)")
      ->check(CLI::IsMember({"cpu", "cuda", "auto", "cuda-host"}));
  batch_cmd->add_option("--format", batch.format, "wav or flac")->check(CLI::IsMember({"wav", "flac"}));
  batch_cmd->add_flag("--force", batch.force, "Render songs again even when their output is complete");
  batch_cmd->add_flag("--export-groups", batch.export_groups, "Also write each processed group bus (OUT/<song>/groups/)");
  batch_cmd->add_flag("--html", batch.html, "Also write OUT/<song>/report.html per song and OUT/summary.html");
  batch_cmd->add_option("--shard", batch.shard, "Render shard I of N (I/N); default: Slurm's array variables");
  batch_cmd->add_option("--shard-count", batch.shard_count, "Shards, with JOB_COMPLETION_INDEX (Kubernetes Indexed Jobs)")
      ->check(CLI::Range(1, 1000000));
  batch_cmd->add_option("--max-inflight-gib", batch.max_inflight_gib, "Memory for songs in flight (0: half the RAM)")
      ->check(finite)->check(CLI::Range(0.0, 1e6));
  batch_cmd->add_option("--max-device-gib", batch.max_device_gib,
                        "Device memory for songs in flight on cuda or cuda-host (0: 90 % of the GPU's free memory)")
      ->check(finite)->check(CLI::Range(0.0, 1e6));
  batch_cmd->add_flag("--album-loudness", batch.album_loudness,
                     "Songs in an album take one gain: the album's loudness at the target (as [master] loudness = \"album\")");
  batch_cmd->add_flag("-q,--quiet", batch.quiet, "Print nothing but errors");
  batch_cmd->add_flag("--json-log", batch.json_log, "One JSON object per song and one for the summary, on stdout");

  lq::cli::SummaryArgs summary;
  auto* summary_cmd = app.add_subcommand("summary", "Merge the shard summaries of an output folder into summary.json/.csv");
  summary_cmd->add_option("out_dir", summary.out_dir, "The batch output folder")->required();
  summary_cmd->add_flag("-q,--quiet", summary.quiet, "Print nothing but errors");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    std::cerr << "lacquer: " << lq::one_line(e.what()) << " (see lacquer --help)\n";  // one line, exit 2
    return 2;
  }
  try {
    if (render_cmd->parsed()) return lq::cli::run_render(render);
    if (measure_cmd->parsed()) return lq::cli::run_measure(measure);
    if (devices_cmd->parsed()) return lq::cli::run_devices();
    if (qc_cmd->parsed()) return lq::cli::run_qc(qc);
    if (batch_cmd->parsed()) return lq::cli::run_batch(batch);
    if (summary_cmd->parsed()) return lq::cli::run_summary(summary);
  } catch (const lq::UsageError& e) {
    std::cerr << "lacquer: " << e.what() << "\n";
    return 2;
  } catch (const lq::UserError& e) {
    std::cerr << "lacquer: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "lacquer: internal error: " << e.what() << "\n";
    return 1;
  }
  return 2;
}

// The `lacquer` command. User errors are caught here, once, and printed as one line.
// Exit codes: 0 success, 1 render failed (bad input, I/O), 2 usage error.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>
#include <filesystem>
#include <iostream>

#include "cli/commands.hpp"
#include "host/errors.hpp"

int main(int argc, char** argv) {
  CLI::App app{"Lacquer: GPU-accelerated offline stem mastering"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("lacquer ") + LQ_VERSION);

  lq::cli::RenderArgs render;
  auto* render_cmd = app.add_subcommand(
      "render", "Render a song: SESSION.toml, or a folder of stems with the default preset");
  render_cmd->add_option("input", render.input, "Session file (.toml) or folder of stems")->required();
  render_cmd->add_option("-o,--output", render.output, "Master file (.wav or .flac)")->required();
  render_cmd->add_option("--report", render.report, "JSON report path (default: OUTPUT with .json)");
  render_cmd->add_flag("--no-report", render.no_report, "Do not write a JSON report");
  render_cmd->add_option("--target-lufs", render.target_lufs, "Integrated loudness target, LUFS")
      ->check(CLI::Range(-40.0, -5.0));
  render_cmd->add_option("--ceiling-dbtp", render.ceiling_dbtp, "True-peak ceiling, dBTP")
      ->check(CLI::Range(-20.0, 0.0));
  render_cmd->add_option("--threads", render.threads, "Worker threads (0: all cores)")->check(CLI::Range(0, 1024));
  render_cmd->add_option("--backend", render.backend, "cpu, cuda or auto")
      ->check(CLI::IsMember({"cpu", "cuda", "auto"}));
  render_cmd->add_flag("-q,--quiet", render.quiet, "Print nothing but errors");

  lq::cli::MeasureArgs measure;
  auto* measure_cmd = app.add_subcommand(
      "measure", "Loudness (BS.1770-4 / EBU R128), loudness range, peaks and true peak of files");
  measure_cmd->add_option("files", measure.files, "Audio files")->required();
  measure_cmd->add_flag("--json", measure.json, "Print JSON");
  measure_cmd->add_option("--threads", measure.threads, "Worker threads (0: all cores)")->check(CLI::Range(0, 1024));

  auto* devices_cmd = app.add_subcommand("devices", "List the backends and GPUs, or say why none is usable");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  try {
    if (render_cmd->parsed()) return lq::cli::run_render(render);
    if (measure_cmd->parsed()) return lq::cli::run_measure(measure);
    if (devices_cmd->parsed()) return lq::cli::run_devices();
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

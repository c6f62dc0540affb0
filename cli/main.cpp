// The `lacquer` command. User errors are caught here, once, and printed as one line.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>
#include <iostream>

#include "host/devices.hpp"

int main(int argc, char** argv) {
  CLI::App app{"Lacquer: GPU-accelerated offline stem mastering"};
  app.require_subcommand(1);
  auto* devices = app.add_subcommand("devices", "List the backends and GPUs, or say why none is usable");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return e.get_exit_code() == 0 ? app.exit(e) : (app.exit(e), 2);
  }
  try {
    if (devices->parsed()) {
      std::cout << lq::describe_devices();
      return 0;
    }
  } catch (const std::exception& e) {
    std::cerr << "lacquer: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

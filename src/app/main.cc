// bulwark: one binary, subcommands (SPEC F7.1). This file only parses the command line and
// hands over to the subcommands.

#include <CLI/CLI.hpp>
#include <iostream>

#include "app/config_command.h"
#include "app/serve_command.h"

int main(int argc, char** argv) {
  using namespace bulwark;
  CLI::App cli{"bulwark: security gateway (auth, proxy, attack detection, tamper-evident audit)"};
  cli.require_subcommand(1);

  core::SettingSources sources;
  auto addCommonOptions = [&](CLI::App* command) {
    command->add_option("--config", sources.config_file, "TOML config file (BULWARK_CONFIG)");
    app::addSettingFlags(*command, sources.flags);
  };

  auto* serve = cli.add_subcommand("serve", "run the gateway");
  addCommonOptions(serve);

  auto* config = cli.add_subcommand("config", "check or document the configuration");
  config->require_subcommand(1);
  auto* check = config->add_subcommand("check", "validate settings; exit 1 listing each problem");
  addCommonOptions(check);
  auto* templ = config->add_subcommand("template", "print .env.security.template");

  CLI11_PARSE(cli, argc, argv);
  sources.env = core::environmentSettings();

  if (serve->parsed()) return app::runServe(sources);
  if (check->parsed()) return app::runConfigCheck(sources, std::cout, std::cerr);
  if (templ->parsed()) return app::runConfigTemplate(std::cout);
  return 2;
}

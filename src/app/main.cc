// bulwark: one binary, subcommands (SPEC F7.1). This file only parses the command line and
// hands over to the subcommands.

#include <CLI/CLI.hpp>
#include <iostream>

#include "app/audit_command.h"
#include "app/config_command.h"
#include "app/db_command.h"
#include "app/serve_command.h"
#include "app/token_command.h"
#include "app/users_command.h"

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

  app::AuditCommands audit_commands(cli, addCommonOptions);

  auto* db = cli.add_subcommand("db", "manage the PostgreSQL database");
  db->require_subcommand(1);
  auto* migrate =
      db->add_subcommand("migrate", "apply pending schema migrations; print the version");
  addCommonOptions(migrate);

  auto* token = cli.add_subcommand("token", "check access tokens");
  token->require_subcommand(1);
  app::TokenVerifyOptions verify_options;
  auto* verify = token->add_subcommand(
      "verify", "verify the token on stdin: print its claims (exit 0) or the reason (exit 1)");
  verify->add_option("--jwks", verify_options.jwks_file, "JWK Set file of the issuer")->required();
  verify->add_option("--issuer", verify_options.issuer, "required iss (default: any)");
  verify->add_option("--audience", verify_options.audiences, "accepted aud (default: any)");
  verify->add_option("--typ", verify_options.typ, "typ policy: at+jwt (default), jwt, optional");
  verify->add_flag("--signature-only", verify_options.signature_only,
                   "check the JWS layer alone (any payload)");

  auto* keys = cli.add_subcommand("keys", "manage the token signing keys");
  keys->require_subcommand(1);
  keys->fallthrough();     // setting flags (--data-dir, ...) before or after rotate/list/jwks
  addCommonOptions(keys);  // data_dir and access_token_ttl, as `serve` reads them
  std::string keys_algorithm;
  auto* rotate = keys->add_subcommand("rotate", "create a new signing key, retire the old one");
  rotate->add_option("--algorithm", keys_algorithm, "EdDSA (default), ES256 or HS256");
  auto* list = keys->add_subcommand("list", "list keys: kid alg status created retired until");
  auto* jwks = keys->add_subcommand("jwks", "print the published JWK Set");

  auto* users = cli.add_subcommand("users", "administer accounts (on the configured store)");
  users->require_subcommand(1);
  app::UsersOptions users_options;
  auto addUserCommand = [&](const char* name, const char* description) {
    auto* command = users->add_subcommand(name, description);
    command->add_option("name", users_options.username, "username")->required();
    addCommonOptions(command);
    return command;
  };
  auto* user_add = addUserCommand("add", "create an account; the password is read from stdin");
  user_add->add_option("--role", users_options.roles, "role to grant (repeatable; default: user)")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  auto* user_lock = addUserCommand("lock", "lock an account and revoke all its sessions");
  auto* user_unlock = addUserCommand("unlock", "unlock an account");

  CLI11_PARSE(cli, argc, argv);
  sources.env = core::environmentSettings();

  if (serve->parsed()) return app::runServe(sources);
  if (check->parsed()) return app::runConfigCheck(sources, std::cout, std::cerr);
  if (templ->parsed()) return app::runConfigTemplate(std::cout);
  if (auto code = audit_commands.run(sources, std::cout, std::cerr)) return *code;
  if (migrate->parsed()) return app::runDbMigrate(sources, std::cout, std::cerr);
  if (verify->parsed()) return app::runTokenVerify(verify_options, std::cin, std::cout, std::cerr);
  if (keys->parsed()) {
    const auto options = app::keysOptions(sources, keys_algorithm, std::cerr);
    if (!options) return 2;
    if (rotate->parsed()) return app::runKeysRotate(*options, std::cout, std::cerr);
    if (list->parsed()) return app::runKeysList(*options, std::cout, std::cerr);
    if (jwks->parsed()) return app::runKeysJwks(*options, std::cout, std::cerr);
  }
  if (user_add->parsed()) {
    return app::runUsersAdd(sources, users_options, std::cin, std::cout, std::cerr);
  }
  if (user_lock->parsed() || user_unlock->parsed()) {
    return app::runUsersLock(sources, users_options, user_lock->parsed(), std::cout, std::cerr);
  }
  return 2;
}

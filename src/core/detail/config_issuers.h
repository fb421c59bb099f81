#pragma once
// The [[external_issuer]] tables of the config file (SPEC F2.7): identity providers whose access
// tokens the gateway accepts besides its own. Read like [[route]] tables, each problem named
// "external_issuer[N].key" with its fix. Private to core/config.cc.

#include <toml++/toml.h>

#include <string>
#include <vector>

#include "core/config.h"
#include "core/detail/config_production.h"

namespace bulwark::core::detail {

// Reads the value of the file's `external_issuer` key (`where` names its line). Appends each
// complete issuer to `out` and each problem to `problems`.
void loadExternalIssuers(const toml::node& node, const std::string& where,
                         std::vector<ExternalIssuerConfig>& out, std::vector<Problem>& problems);

// Checks what needs the merged settings: no issuer twice, none equal to token_issuer (our own
// tokens are verified with our own keys only).
void checkExternalIssuers(const Settings& settings, const SettingNames& names,
                          std::vector<Problem>& problems);

// Production rule: every JWKS URL is https:// (a local file is fine).
void externalIssuerJwksTls(const Settings& settings, const SettingNames& names,
                           std::vector<Problem>& problems);

}  // namespace bulwark::core::detail

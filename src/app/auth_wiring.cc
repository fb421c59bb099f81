#include "app/auth_wiring.h"

#include <pthread.h>
#include <sys/stat.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

#include "auth/account_service.h"
#include "auth/external_issuers.h"
#include "auth/http_api.h"
#include "auth/jwt_bridge.h"
#include "auth/lockout.h"
#include "auth/password_hasher.h"
#include "auth/session_service.h"
#include "auth/settings.h"
#include "auth/token_authenticator.h"
#include "auth/worker_pool.h"
#include "core/log.h"
#include "crypto/random.h"
#include "jwt/key_ring.h"
#include "jwt/signer.h"
#include "jwt/verifier.h"
#include "store/revocation_store.h"
#include "store/session_store.h"
#include "store/user_store.h"

namespace bulwark::app {
namespace {

namespace fs = std::filesystem;

// Revocations written by another process on the same database reach this node within this
// (SPEC F2.5: < 1 s across nodes).
constexpr std::chrono::milliseconds kSyncInterval{500};
// Expired sessions and retired keys past their last token are removed this often.
constexpr std::chrono::hours kPurgeInterval{1};
// Auth request bodies are a few hundred bytes; this bounds what a client can make us parse.
constexpr std::size_t kApiMaxBodyBytes = 64 * 1024;
constexpr const char* kKeyRingManifest = "keyring.json";

fs::file_time_type modifiedTime(const fs::path& path) {
  std::error_code error;
  const auto time = fs::last_write_time(path, error);
  return error ? fs::file_time_type::min() : time;
}

}  // namespace

struct AuthWiring::Runtime {
  std::shared_ptr<auth::WorkerPool> pool;
  store::RevocationStorePtr revocations;
  store::SessionStorePtr sessions;
  jwt::KeyRingPtr ring;
  fs::path manifest;
  core::Clock* clock = nullptr;
  audit::SinkPtr audit;

  std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;  // guarded by mutex
  std::thread maintenance;

  ~Runtime() { stop(); }

  void stop() {
    {
      std::lock_guard lock(mutex);
      stopping = true;
    }
    wake.notify_all();
    if (maintenance.joinable()) {
      maintenance.join();
    }
    if (pool) {
      pool->stop();
    }
  }

  // The maintenance loop. It blocks on the database by design, on its own thread rather than
  // the pool's: a flood of logins filling the pool must not delay revocations from other nodes.
  void run() {
    pthread_setname_np(pthread_self(), "auth-maint");
    auto last_purge = std::chrono::steady_clock::now();
    auto manifest_time = modifiedTime(manifest);
    bool sync_failing = false;
    bool current = true;
    std::unique_lock lock(mutex);
    while (!wake.wait_for(lock, kSyncInterval, [this] { return stopping; })) {
      lock.unlock();
      syncRevocations(sync_failing);
      watchRevocationFeed(current);
      if (const auto modified = modifiedTime(manifest); modified != manifest_time) {
        manifest_time = modified;
        reloadKeys();
      }
      if (std::chrono::steady_clock::now() - last_purge >= kPurgeInterval) {
        last_purge = std::chrono::steady_clock::now();
        purge();
      }
      lock.lock();
    }
  }

  void syncRevocations(bool& failing) {
    auto synced = revocations->sync(clock->systemTime());
    if (!synced && !failing) {
      core::log(core::LogLevel::kWarn, "revocation sync failing; retrying",
                {{"error", synced.error().message()}});
    } else if (synced && failing) {
      core::log(core::LogLevel::kInfo, "revocation sync recovered");
    }
    failing = !synced;
  }

  // While the shared revocation set cannot be vouched for (Redis down or its feed lost), the
  // gateway refuses protected routes (503, DESIGN decision 9); the loss is a security incident,
  // recorded once per outage.
  void watchRevocationFeed(bool& current) {
    const bool now_current = revocations->isCurrent();
    if (now_current == current) return;
    current = now_current;
    if (!current) {
      core::log(core::LogLevel::kError,
                "revocation feed lost: protected routes answer 503 until it is back");
      audit::Event event;
      event.type = audit::EventType::kSecurityIncident;
      event.severity = audit::Severity::kHigh;
      event.outcome = audit::Outcome::kFailure;
      event.time = clock->systemTime();
      event.target = "revocation_store";
      event.details = {{"reason", "revocation_feed_lost"},
                       {"action", "protected_routes_refused"}};
      audit->record(std::move(event));
    } else {
      core::log(core::LogLevel::kInfo, "revocation feed restored: protected routes served again");
    }
  }

  // Another process (`bulwark keys rotate`) changed the ring: sign and verify with it now.
  void reloadKeys() {
    if (auto reloaded = ring->reload(); !reloaded) {
      core::log(core::LogLevel::kError, "signing keys not reloaded; keeping the previous ones",
                {{"error", reloaded.error().message}});
      return;
    }
    const auto* signing = ring->keys()->signingKey();
    core::log(core::LogLevel::kInfo, "signing keys reloaded",
              {{"kid", signing != nullptr ? std::string_view(signing->kid) : "none"}});
  }

  void purge() {
    const auto purged = sessions->purgeExpired(clock->systemTime());
    if (!purged) {
      core::log(core::LogLevel::kWarn, "expired sessions not purged",
                {{"error", purged.error().message()}});
    }
    const auto pruned = ring->prune();
    if (!pruned) {
      core::log(core::LogLevel::kWarn, "retired keys not pruned",
                {{"error", pruned.error().message}});
    }
    core::log(core::LogLevel::kInfo, "auth housekeeping",
              {{"sessions_purged", purged ? std::to_string(*purged) : "-"},
               {"keys_pruned", pruned ? std::to_string(*pruned) : "-"}});
  }
};

AuthWiring::AuthWiring() = default;
AuthWiring::AuthWiring(AuthWiring&&) noexcept = default;
AuthWiring& AuthWiring::operator=(AuthWiring&&) noexcept = default;
AuthWiring::~AuthWiring() { stop(); }

void AuthWiring::stop() {
  if (runtime_) {
    runtime_->stop();
  }
}

std::filesystem::path signingKeysDirectory(const core::Settings& settings) {
  return settings.keys_dir.empty() ? fs::path(settings.data_dir) / "keys"
                                   : fs::path(settings.keys_dir);
}

AuthWiring buildAuth(const core::Settings& settings, const Backends& backends,
                     audit::SinkPtr audit, core::Clock& clock) {
  const auth::AuthConfigs configs = auth::authConfigs(settings);
  crypto::Random& random = crypto::systemRandom();
  const auto& users = backends.users;
  const auto& session_store = backends.sessions;
  const auto& revocations = backends.revocations;

  jwt::KeyRingConfig ring_config;
  ring_config.directory = signingKeysDirectory(settings);
  ring_config.algorithm = crypto::Algorithm::kEdDSA;
  ring_config.max_token_ttl = configs.sessions.access_ttl;
  ring_config.leeway = std::chrono::ceil<std::chrono::seconds>(settings.token_leeway);
  ring_config.create_if_empty = true;
  auto ring = jwt::KeyRing::open(ring_config, clock, random);
  if (!ring) {
    throw std::runtime_error("signing keys: " + ring.error().message);
  }

  auto runtime = std::make_unique<AuthWiring::Runtime>();
  AuthWiring wiring;
  try {
    jwt::SignerConfig signer_config;
    signer_config.issuer = settings.token_issuer;
    signer_config.audiences = {settings.token_audience};
    signer_config.ttl = configs.sessions.access_ttl;  // = the ring's max_token_ttl
    std::shared_ptr<const jwt::TokenSigner> signer =
        jwt::TokenSigner::create(signer_config, *ring, clock, random);

    jwt::IssuerConfig ours;
    ours.issuer = settings.token_issuer;
    ours.audiences = {settings.token_audience};
    ours.typ = jwt::TypPolicy::kAccessToken;
    ours.required_claims = {"sub", "jti", "sid", "iat"};  // what revocation keys on
    ours.keys = *ring;
    jwt::VerifierConfig verifier_config;
    verifier_config.issuers = {ours};
    verifier_config.leeway = std::chrono::ceil<std::chrono::seconds>(settings.token_leeway);
    // Identity providers configured as [[external_issuer]] join ours in the one verifier.
    auth::ExternalIssuersConfig external_config;
    external_config.issuers = settings.external_issuers;
    external_config.allow_plain_http_loopback = settings.mode == core::Mode::kDevelopment;
    std::shared_ptr<const auth::ExternalIssuers> external =
        auth::ExternalIssuers::start(external_config, clock);
    verifier_config.issuers.insert(verifier_config.issuers.end(), external->issuers().begin(),
                                   external->issuers().end());
    std::shared_ptr<const jwt::Verifier> verifier = jwt::Verifier::create(verifier_config, clock);
    wiring.metrics = [verifier, external] {
      std::string out;
      auth::appendVerifierMetrics(verifier->stats(), out);
      external->appendMetrics(out);
      return out;
    };

    auto sessions = auth::SessionService::create(
        configs.sessions,
        {session_store, users, revocations, auth::makeJwtAccessTokenIssuer(signer), audit}, clock,
        random);
    auto lockout = std::make_shared<auth::Lockout>(configs.lockout, clock, backends.lockouts);
    auto accounts = auth::AccountService::create(
        configs.accounts,
        {users, auth::makeArgon2idHasher(configs.password_hash), lockout, sessions, audit}, clock,
        random);

    runtime->pool = std::make_shared<auth::WorkerPool>(configs.workers);
    auth::HttpApiDeps api;
    api.accounts = accounts;
    api.sessions = sessions;
    api.pool = runtime->pool;
    api.verifier = verifier;
    api.key_ring = *ring;
    api.clock = &clock;
    api.issuer = settings.token_issuer;
    api.revocations = revocations;
    api.audit = audit;
    auto handler = auth::makeHttpApi(std::move(api));
    for (const char* prefix :
         {"/auth/", "/.well-known/jwks.json", "/admin/users/", "/admin/keys/"}) {
      wiring.api_mounts.push_back({prefix, handler, kApiMaxBodyBytes});
    }
    wiring.authenticator = auth::makeTokenAuthenticator(verifier, sessions, revocations);
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(std::string("auth configuration: ") + e.what());
  }

  runtime->revocations = revocations;
  runtime->sessions = session_store;
  runtime->ring = *ring;
  runtime->manifest = ring_config.directory / kKeyRingManifest;
  runtime->clock = &clock;
  runtime->audit = audit;
  runtime->maintenance = std::thread([r = runtime.get()] { r->run(); });
  wiring.runtime_ = std::move(runtime);

  const auto* signing = (*ring)->keys()->signingKey();
  core::log(core::LogLevel::kInfo, "auth ready",
            {{"issuer", settings.token_issuer},
             {"audience", settings.token_audience},
             {"kid", signing != nullptr ? std::string_view(signing->kid) : "none"},
             {"sign_up", configs.accounts.open_sign_up ? "open" : "closed"},
             {"workers", std::to_string(configs.workers.threads)},
             {"accounts", backends.accounts_store},
             {"revocations", backends.shared_state_store}});
  return wiring;
}

}  // namespace bulwark::app

#include "auth/external_issuers.h"

#include <fmt/format.h>
#include <pthread.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "core/log.h"
#include "http/client.h"

namespace bulwark::auth {
namespace {

// The fetch thread looks at the sources at least this often, so a due refresh (measured on the
// injected clock) is never later than this.
constexpr std::chrono::seconds kLongestSleep{1};

jwt::TypPolicy typPolicy(core::IssuerTyp typ) {
  switch (typ) {
    case core::IssuerTyp::kAccessToken:
      return jwt::TypPolicy::kAccessToken;
    case core::IssuerTyp::kAccessTokenOrJwt:
      return jwt::TypPolicy::kAccessTokenOrJwt;
    case core::IssuerTyp::kOptional:
      return jwt::TypPolicy::kOptional;
  }
  return jwt::TypPolicy::kAccessToken;
}

// Prometheus label values: escape backslash, quote and newline (issuers come from the config).
std::string label(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\n') {
      out += "\\n";
    } else {
      if (c == '\\' || c == '"') {
        out += '\\';
      }
      out += c;
    }
  }
  return out;
}

// Wakes the fetch thread. Shared with the sources' wake callbacks, which the verifier may call
// after the ExternalIssuers object is gone.
struct Wakeup {
  std::mutex mutex;
  std::condition_variable cv;
  bool woken = false;     // guarded by mutex
  bool stopping = false;  // guarded by mutex

  void wake() {
    {
      std::lock_guard lock(mutex);
      woken = true;
    }
    cv.notify_one();
  }
};

jwt::JwksFetcher httpFetcher(std::string url, http::FetchOptions options) {
  return [url = std::move(url), options = std::move(options)]() -> jwt::KeyResult<std::string> {
    auto response = http::fetch(url, options);
    if (!response) {
      return jwt::KeyError{response.error().code.message() + ": " + response.error().detail};
    }
    if (response->status != 200) {
      return jwt::KeyError{"HTTP status " + std::to_string(response->status)};
    }
    return jwt::KeyResult<std::string>(boost::system::in_place_value, std::move(response->body));
  };
}

class ExternalIssuersImpl final : public ExternalIssuers {
 public:
  ExternalIssuersImpl(const ExternalIssuersConfig& config, core::Clock& clock) {
    for (const core::ExternalIssuerConfig& settings : config.issuers) {
      jwt::IssuerConfig issuer;
      issuer.issuer = settings.issuer;
      issuer.audiences = settings.audiences;
      issuer.typ = typPolicy(settings.typ);
      issuer.required_claims = {"sub"};  // the principal the upstream is told about
      issuer.roles_claim = settings.roles_claim;
      if (settings.jwksIsUrl()) {
        issuer.keys = remoteSource(config, settings, clock);
      } else {
        issuer.keys = fileSource(settings, clock);
      }
      names_.push_back(settings.issuer);
      issuers_.push_back(std::move(issuer));
    }
  }

  ~ExternalIssuersImpl() override {
    {
      std::lock_guard lock(wakeup_->mutex);
      wakeup_->stopping = true;
    }
    wakeup_->cv.notify_all();
    if (thread_.joinable()) {
      thread_.join();
    }
  }

  void start() {
    for (const auto& source : remote_) {
      (void)source->refresh();  // a failure is logged; the thread retries after refetch_interval
    }
    if (!remote_.empty()) {
      thread_ = std::thread([this] { run(); });
    }
  }

  const std::vector<jwt::IssuerConfig>& issuers() const override { return issuers_; }

  void appendMetrics(std::string& out) const override {
    out +=
        "# HELP bulwark_jwks_keys Keys an external issuer's JWKS provides now.\n"
        "# TYPE bulwark_jwks_keys gauge\n";
    for (std::size_t i = 0; i < issuers_.size(); ++i) {
      fmt::format_to(std::back_inserter(out), "bulwark_jwks_keys{{issuer=\"{}\"}} {}\n",
                     label(names_[i]), issuers_[i].keys->keys()->entries().size());
    }
    struct Counter {
      const char* name;
      const char* type;
      const char* help;
      std::string labels;
      double (*get)(const jwt::RemoteJwksStats&);
    };
    const Counter counters[] = {
        {"bulwark_jwks_fetches_total", "counter", "JWKS fetches, by issuer and result.",
         ",result=\"ok\"",
         [](const jwt::RemoteJwksStats& s) { return double(s.fetches - s.fetch_failures); }},
        {"bulwark_jwks_fetches_total", "", "", ",result=\"error\"",
         [](const jwt::RemoteJwksStats& s) { return double(s.fetch_failures); }},
        {"bulwark_jwks_key_set_changes_total", "counter",
         "New key sets published from a JWKS fetch.", "",
         [](const jwt::RemoteJwksStats& s) { return double(s.key_set_changes); }},
        {"bulwark_jwks_unknown_kid_total", "counter",
         "Tokens naming a kid the JWKS lacked: fetch started, or throttled by refetch_interval.",
         ",action=\"fetch\"",
         [](const jwt::RemoteJwksStats& s) { return double(s.unknown_kid_fetches); }},
        {"bulwark_jwks_unknown_kid_total", "", "", ",action=\"throttled\"",
         [](const jwt::RemoteJwksStats& s) { return double(s.unknown_kid_throttled); }},
        {"bulwark_jwks_last_success_timestamp_seconds", "gauge",
         "Unix time of the last successful JWKS fetch (0: none yet).", "",
         [](const jwt::RemoteJwksStats& s) {
           return s.last_success
                      ? std::chrono::duration<double>(s.last_success->time_since_epoch()).count()
                      : 0.0;
         }},
    };
    std::vector<jwt::RemoteJwksStats> stats;
    for (const auto& source : remote_) {
      stats.push_back(source->stats());
    }
    for (const Counter& counter : counters) {
      if (*counter.type != '\0') {
        fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", counter.name,
                       counter.help, counter.name, counter.type);
      }
      for (std::size_t i = 0; i < remote_.size(); ++i) {
        fmt::format_to(std::back_inserter(out), "{}{{issuer=\"{}\"{}}} {}\n", counter.name,
                       label(remote_names_[i]), counter.labels, counter.get(stats[i]));
      }
    }
  }

 private:
  jwt::KeySourcePtr remoteSource(const ExternalIssuersConfig& config,
                                 const core::ExternalIssuerConfig& settings, core::Clock& clock) {
    http::FetchOptions options;
    options.headers = {{"Accept", "application/json"}};
    options.timeout = config.fetch_timeout;
    options.max_response_bytes = config.max_jwks_bytes;
    options.ca_file = settings.ca_file;
    options.allow_plain_http_loopback = config.allow_plain_http_loopback;
    jwt::RemoteJwksConfig remote;
    remote.url = settings.jwks;
    remote.refetch_interval = std::chrono::ceil<std::chrono::seconds>(settings.refetch_interval);
    remote.refresh_interval = std::chrono::ceil<std::chrono::seconds>(settings.refresh_interval);
    auto source = jwt::RemoteJwksSource::create(
        remote, httpFetcher(settings.jwks, std::move(options)),
        [wakeup = wakeup_] { wakeup->wake(); }, clock);
    remote_.push_back(source);
    remote_names_.push_back(settings.issuer);
    return source;
  }

  static jwt::KeySourcePtr fileSource(const core::ExternalIssuerConfig& settings,
                                      core::Clock& clock) {
    jwt::FileJwksConfig file;
    file.path = settings.jwks;
    file.min_refresh_interval = std::chrono::ceil<std::chrono::seconds>(settings.refetch_interval);
    file.jwks.skip_unusable = true;
    auto source = jwt::FileJwksSource::create(std::move(file), clock);
    if (!source) {
      throw std::runtime_error("external issuer " + settings.issuer +
                               ": JWKS: " + source.error().message);
    }
    return *source;
  }

  // The fetch thread: sleeps until a source is due or an unknown kid wakes it.
  void run() {
    pthread_setname_np(pthread_self(), "jwks");
    std::unique_lock lock(wakeup_->mutex);
    while (!wakeup_->stopping) {
      auto sleep = std::chrono::duration_cast<core::MonotonicTime::duration>(kLongestSleep);
      for (const auto& source : remote_) {
        sleep = std::min(sleep, source->untilDue());
      }
      wakeup_->cv.wait_for(lock, sleep, [this] { return wakeup_->stopping || wakeup_->woken; });
      wakeup_->woken = false;
      if (wakeup_->stopping) {
        break;
      }
      lock.unlock();
      for (const auto& source : remote_) {
        source->refreshIfDue();
      }
      lock.lock();
    }
  }

  std::vector<jwt::IssuerConfig> issuers_;
  std::vector<std::string> names_;
  std::vector<jwt::RemoteJwksSourcePtr> remote_;
  std::vector<std::string> remote_names_;
  std::shared_ptr<Wakeup> wakeup_ = std::make_shared<Wakeup>();
  std::thread thread_;
};

}  // namespace

std::unique_ptr<ExternalIssuers> ExternalIssuers::start(ExternalIssuersConfig config,
                                                        core::Clock& clock) {
  auto issuers = std::make_unique<ExternalIssuersImpl>(config, clock);
  issuers->start();
  return issuers;
}

void appendVerifierMetrics(const jwt::VerifierStats& stats, std::string& out) {
  fmt::format_to(std::back_inserter(out),
                 "# HELP bulwark_tokens_verified_total Access tokens that passed verification.\n"
                 "# TYPE bulwark_tokens_verified_total counter\n"
                 "bulwark_tokens_verified_total {}\n"
                 "# HELP bulwark_token_cache_hits_total Tokens found in the verified-token cache.\n"
                 "# TYPE bulwark_token_cache_hits_total counter\n"
                 "bulwark_token_cache_hits_total {}\n"
                 "# HELP bulwark_token_cache_misses_total Tokens whose signature had to be "
                 "checked.\n"
                 "# TYPE bulwark_token_cache_misses_total counter\n"
                 "bulwark_token_cache_misses_total {}\n"
                 "# HELP bulwark_token_cache_evictions_total Cached tokens dropped (space, expiry, "
                 "key gone).\n"
                 "# TYPE bulwark_token_cache_evictions_total counter\n"
                 "bulwark_token_cache_evictions_total {}\n"
                 "# HELP bulwark_token_cache_entries Tokens in the verified-token cache.\n"
                 "# TYPE bulwark_token_cache_entries gauge\n"
                 "bulwark_token_cache_entries {}\n"
                 "# HELP bulwark_tokens_rejected_total Access tokens refused, by reason.\n"
                 "# TYPE bulwark_tokens_rejected_total counter\n",
                 stats.verified, stats.cache_hits, stats.cache_misses, stats.cache_evictions,
                 stats.cache_entries);
  for (std::size_t reason = 1; reason < stats.rejected.size(); ++reason) {
    if (stats.rejected[reason] != 0) {
      fmt::format_to(std::back_inserter(out), "bulwark_tokens_rejected_total{{reason=\"{}\"}} {}\n",
                     jwt::verifyErrorName(static_cast<jwt::VerifyError>(reason)),
                     stats.rejected[reason]);
    }
  }
}

}  // namespace bulwark::auth

#include "app/audit_command.h"

#include <pwd.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <thread>

#include "app/audit_setup.h"
#include "audit/detail/line_reader.h"
#include "audit/file_store.h"
#include "audit/postgres_store.h"
#include "audit/query.h"
#include "audit/record.h"
#include "audit/verifier.h"

namespace bulwark::app {

struct AuditCommands::Options {
  CLI::App* verify = nullptr;
  CLI::App* tail = nullptr;
  CLI::App* exported = nullptr;
  std::string dir;
  std::string key_file;
  std::string checkpoint;
  std::size_t lines = 10;
  bool follow = false;
  std::vector<std::string> types;
  std::string actor;
  std::string request_id;
  std::string since;
  std::string until;
  std::uint64_t from_seq = 1;
  std::uint64_t limit = 0;
};

namespace {

constexpr int kIntact = 0;
constexpr int kDamaged = 1;
constexpr int kUsage = 2;

std::string currentUser() {
  if (const passwd* entry = ::getpwuid(::geteuid()); entry != nullptr && entry->pw_name) {
    return entry->pw_name;
  }
  return "uid-" + std::to_string(::geteuid());
}

bool hasSegments(const std::string& dir) {
  auto segments = audit::detail::listSegments(dir);
  return segments && !segments->empty();
}

// The trails under `dir`: itself when it holds segments, else its node subdirectories.
std::vector<std::string> trailsUnder(const std::string& dir) {
  if (hasSegments(dir)) return {dir};
  std::vector<std::string> trails;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.is_directory() && hasSegments(entry.path().string())) {
      trails.push_back(entry.path().string());
    }
  }
  std::sort(trails.begin(), trails.end());
  return trails;
}

// The node a trail belongs to: from its last record, else the directory's name.
std::string trailNode(const audit::Store& store, const std::string& dir) {
  if (auto last = store.lastSeq(); last && *last != 0) {
    if (auto cursor = store.read(*last)) {
      if (auto next = (*cursor)->next(); next && *next) {
        audit::RecordHeader header;
        if (audit::parseRecordHeader((*next)->line, header)) return std::string(header.node);
      }
    }
  }
  return std::filesystem::path(dir).filename().string();
}

std::string lastLine(const std::string& text) {
  std::string_view view(text);
  while (!view.empty() && (view.back() == '\n' || view.back() == '\r' || view.back() == ' ')) {
    view.remove_suffix(1);
  }
  const auto newline = view.rfind('\n');
  return std::string(newline == std::string_view::npos ? view : view.substr(newline + 1));
}

void printReport(const std::string& dir, const audit::VerifyReport& report,
                 const std::optional<audit::ExternalCheckpoint>& checkpoint, std::ostream& out) {
  if (!report.intact()) {
    const audit::Finding& finding = *report.finding;
    out << "audit trail DAMAGED: " << dir << "\n"
        << "  " << audit::damageName(finding.kind) << " at " << finding.file << " line "
        << finding.line << ", seq " << finding.seq << ": " << finding.detail << "\n";
    if (report.records > 0) {
      out << "  verified before it: " << report.records << " record(s), seq " << report.first_seq
          << ".." << report.last_seq << "\n";
    }
    return;
  }
  out << "audit trail intact: " << dir << "\n";
  if (report.records == 0) {
    out << "  no records\n";
  } else {
    out << "  node " << report.node << ": records " << report.first_seq << ".." << report.last_seq
        << " (" << report.records << "), ";
    if (dir.starts_with("postgres:")) {
      out << "table audit_records, ";
    } else {
      out << report.segments << " segment file(s), ";
    }
    out << report.bytes << " bytes\n";
    if (report.checkpoints > 0) {
      out << "  checkpoints: " << report.checkpoints << ", last at seq "
          << report.last_checkpoint_seq << " (" << report.last_checkpoint_time << ")\n";
    } else {
      out << "  checkpoints: none (a cut-off tail would not show without one kept elsewhere)\n";
    }
    out << "  keys:";
    for (const auto& key : report.keys) {
      out << " " << key.kid;
      if (key.last_epoch != 0)
        out << " (epochs " << key.first_epoch << ".." << key.last_epoch << ")";
      out << " " << key.records << " record(s);";
    }
    out << "\n  head: seq " << report.last_seq << " mac " << report.head_mac << "\n";
  }
  if (checkpoint) {
    out << "  external checkpoint: seq " << checkpoint->seq << " matches\n";
  }
  for (const auto& note : report.notes) out << "  note: " << note << "\n";
}

}  // namespace

AuditCommands::AuditCommands(CLI::App& cli, const std::function<void(CLI::App*)>& add_common)
    : options_(std::make_unique<Options>()) {
  Options& o = *options_;
  auto* audit =
      cli.add_subcommand("audit", "verify, tail or export the tamper-evident audit trail");
  audit->require_subcommand(1);

  o.verify = audit->add_subcommand(
      "verify",
      "check the trail's MAC chain; exit 0 intact, 1 damaged (naming the first bad "
      "record), 2 usage/IO error");
  o.verify->add_option("--dir", o.dir, "trail directory (default <data_dir>/audit/<node_id>)");
  o.verify->add_option("--key-file", o.key_file,
                       "key file to verify with (e.g. the initial key kept offline)");
  o.verify->add_option("--checkpoint", o.checkpoint,
                       "a checkpoint kept elsewhere: a file holding a trail line, or JSON "
                       "{\"seq\":N,\"mac\":\"hex\"}; a cut-off tail then shows");
  add_common(o.verify);

  const auto add_filters = [&](CLI::App* command) {
    command->add_option("--dir", o.dir, "trail directory (default <data_dir>/audit/<node_id>)");
    command->add_option("--type", o.types, "event type, e.g. LOGIN_FAILED (repeatable, or a,b)")
        ->delimiter(',');
    command->add_option("--actor", o.actor, "actor (user id)");
    command->add_option("--request-id", o.request_id, "request id");
    command->add_option("--since", o.since, "from this UTC time/date, or e.g. 15m, 2h, 7d ago");
    command->add_option("--until", o.until, "before this UTC time/date, or a duration ago");
    add_common(command);
  };
  o.tail = audit->add_subcommand("tail", "print the last records as NDJSON");
  o.tail->add_option("-n,--lines", o.lines, "how many (default 10)");
  o.tail->add_flag("-f,--follow", o.follow, "keep printing new records");
  add_filters(o.tail);
  o.exported = audit->add_subcommand("export", "print matching records as NDJSON");
  o.exported->add_option("--from-seq", o.from_seq, "first sequence number");
  o.exported->add_option("--limit", o.limit, "at most this many records");
  add_filters(o.exported);
}

AuditCommands::~AuditCommands() = default;

namespace {

// Appends the DATA_EXPORT record of this read to `trail` (a store object of its own, for
// writing: the trail of `node`, described by `target`), or says why it could not.
void recordExport(const core::Settings& settings, const std::string& target,
                  const std::string& node, audit::StorePtr trail, const audit::Query& query,
                  const char* command, std::ostream& err) {
  const auto note = [&](const std::string& why) {
    err << "note: the DATA_EXPORT record of this read was not written: " << why << "\n";
  };
  auto keys = loadAuditKeys(settings, false);
  if (!keys) {
    note(keys.error().message);
    return;
  }
  audit::WriterConfig config = auditWriterConfig(settings, node, keys->file);
  config.durability = audit::Durability::kSync;
  config.checkpoint_on_close = false;
  audit::WriterDeps deps;
  deps.store = std::move(trail);
  deps.keys = std::move(keys->ring);
  deps.clock = &core::realClock();
  deps.random = &crypto::systemRandom();
  auto writer = audit::Writer::open(config, std::move(deps));
  if (!writer) {
    if (writer.error().code == make_error_code(audit::Errc::kLocked)) {
      note(writer.error().message +
           "; a running server audits the reads made through its /admin/audit API");
    } else {
      note(writer.error().message);
    }
    return;
  }
  audit::Event event;
  event.type = audit::EventType::kDataExport;
  event.severity = audit::Severity::kLow;
  event.outcome = audit::Outcome::kSuccess;
  event.time = core::realClock().systemTime();
  event.actor = "cli:" + currentUser();
  event.client_address = "local";
  event.target = target;
  event.details = audit::queryDetails(query);
  event.details.emplace_back("command", command);
  event.details.emplace_back("pid", std::to_string(::getpid()));
  const std::uint64_t seq = (*writer)->append(std::move(event));
  if (!(*writer)->waitDurable(seq, std::chrono::seconds(10))) {
    note("the audit writer did not confirm it");
  }
  (*writer)->close();
}

}  // namespace

std::optional<int> AuditCommands::run(const core::SettingSources& sources, std::ostream& out,
                                      std::ostream& err) {
  Options& o = *options_;
  const bool verify = o.verify->parsed();
  const bool tail = o.tail->parsed();
  const bool exported = o.exported->parsed();
  if (!verify && !tail && !exported) return std::nullopt;
  const char* name = verify ? "verify" : tail ? "tail" : "export";
  const auto fail = [&](const std::string& message) {
    err << "bulwark audit " << name << ": " << message << "\n";
    return kUsage;
  };

  auto loaded = core::loadSettings(sources);
  const core::Settings& settings = loaded.settings;
  const std::string dir = o.dir.empty() ? auditTrailDirectory(settings) : o.dir;
  // audit_store = postgres (and no --dir): the node's rows in the database, through one pool.
  store::PostgresPoolPtr pool;
  if (o.dir.empty() && settings.audit_store == core::AuditStore::kPostgres) {
    auto opened = openAuditPool(settings);
    if (!opened) return fail(opened.error().message);
    pool = std::move(*opened);
  }

  if (verify) {
    audit::KeyRing keys;
    if (!o.key_file.empty()) {
      auto ring = audit::loadKeyFile(o.key_file);
      if (!ring) return fail(ring.error().message);
      keys = std::move(*ring);
    } else {
      auto loaded_keys = loadAuditKeys(settings, false);
      if (!loaded_keys) return fail(loaded_keys.error().message + " (or give --key-file)");
      keys = std::move(loaded_keys->ring);
    }
    std::optional<audit::ExternalCheckpoint> checkpoint;
    if (!o.checkpoint.empty()) {
      std::string text = o.checkpoint;
      if (text.front() != '{') {
        std::ifstream in(o.checkpoint, std::ios::binary);
        if (!in) return fail("cannot read checkpoint file " + o.checkpoint);
        text = lastLine(std::string(std::istreambuf_iterator<char>(in), {}));
      }
      auto parsed = audit::parseExternalCheckpoint(text, &keys);
      if (!parsed) return fail("checkpoint: " + parsed.error().message);
      checkpoint = *parsed;
    }
    if (pool) {
      auto trail = openAuditStore(settings, settings.node_id, pool);
      if (!trail) return fail(trail.error().message);
      audit::VerifyOptions options;
      options.store = trail->get();
      options.keys = &keys;
      options.checkpoint = checkpoint;
      auto report = audit::verifyTrail(options);
      if (!report) return fail(report.error().message);
      printReport((*trail)->describe(), *report, checkpoint, out);
      return report->intact() ? kIntact : kDamaged;
    }
    const auto trails = trailsUnder(dir);
    if (trails.empty()) return fail("no audit trail (segment-*.ndjson) at " + dir);
    if (checkpoint && trails.size() > 1) {
      return fail("--checkpoint belongs to one node's trail; give that trail's --dir");
    }
    int code = kIntact;
    for (const auto& trail : trails) {
      audit::VerifyOptions options;
      options.directory = trail;
      options.keys = &keys;
      options.checkpoint = checkpoint;
      auto report = audit::verifyTrail(options);
      if (!report) return fail(report.error().message);
      printReport(trail, *report, checkpoint, out);
      if (!report->intact()) code = kDamaged;
    }
    return code;
  }

  audit::Query query;
  query.types = o.types;
  query.actor = o.actor;
  query.request_id = o.request_id;
  if (const auto unknown = audit::unknownTypes(query); !unknown.empty()) {
    return fail("unknown event type '" + unknown.front() + "'");
  }
  const auto parseTime = [&](const std::string& text, std::optional<core::SystemTime>& into) {
    if (text.empty()) return true;
    core::SystemTime time;
    if (!audit::parseTimeArgument(text, core::realClock(), time)) return false;
    into = time;
    return true;
  };
  if (!parseTime(o.since, query.since)) {
    return fail("--since '" + o.since + "': use 2026-01-31T12:00:00Z, 2026-01-31 or 15m/2h/7d");
  }
  if (!parseTime(o.until, query.until)) {
    return fail("--until '" + o.until + "': use 2026-01-31T12:00:00Z, 2026-01-31 or 15m/2h/7d");
  }
  audit::StorePtr store;
  std::string target = dir;
  std::string node;
  // The DATA_EXPORT record goes to the trail read, through a store object of its own.
  std::function<audit::StorePtr()> export_trail;
  if (pool) {
    node = settings.node_id;
    store = audit::makePostgresStore(pool, node);
    target = store->describe();
    export_trail = [&] { return audit::makePostgresStore(pool, node); };
  } else {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) return fail("no audit trail at " + dir);
    store = audit::makeFileStore({dir, settings.audit_segment_size});
    node = trailNode(*store, dir);
    export_trail = [&] { return audit::makeFileStore({dir, settings.audit_segment_size}); };
  }

  if (exported) {
    query.from_seq = std::max<std::uint64_t>(o.from_seq, 1);
    query.limit = o.limit;
    recordExport(settings, target, node, export_trail(), query, "export", err);
    auto stats = audit::runQuery(*store, query, [&](std::string_view line, const audit::Record&) {
      out << line << '\n';
      return static_cast<bool>(out);
    });
    if (!stats) return fail(stats.error().message);
    out.flush();
    return 0;
  }

  recordExport(settings, target, node, export_trail(), query, "tail", err);
  auto lines = audit::tailQuery(*store, query, o.lines);
  if (!lines) return fail(lines.error().message);
  for (const auto& line : *lines) out << line << '\n';
  out.flush();
  if (!o.follow) return 0;
  auto last = store->lastSeq();
  if (!last) return fail(last.error().message);
  audit::Follower follower(*store, query, *last + 1);
  for (;;) {
    auto polled = follower.poll([&](std::string_view line, const audit::Record&) {
      out << line << '\n';
      return static_cast<bool>(out);
    });
    if (!polled) return fail(polled.error().message);
    out.flush();
    if (!out) return 0;  // the reader went away
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
}

}  // namespace bulwark::app

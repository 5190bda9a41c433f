#include "bench/apply_cost.h"

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include <boost/json.hpp>

#include "chat/command.h"
#include "db/chat_store.h"
#include "db/read_reply.h"

namespace qc::bench {

namespace fs = std::filesystem;

namespace {

double cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

raft::entry entry(std::uint64_t index, const chat::command& c) {
  return raft::entry{1, index, raft::entry_type::normal, chat::encode_command(c)};
}

/// `reads` history reads of `limit` messages over the 64 conversations the
/// sends filled, eight to a read transaction; CPU µs per read.
double measure_reads(db::chat_store& store, std::uint64_t reads, std::size_t limit, int users, std::string& err) {
  constexpr std::uint64_t batch = 8;
  db::read_query q;
  q.kind = chat::op::history;
  q.head = R"({"id":1,"ok":true)";
  q.limit = limit;
  std::size_t bytes = 0;
  const double c0 = cpu_seconds();
  for (std::uint64_t i = 0; i < reads;) {
    store.read_together([&] {
      for (std::uint64_t k = 0; k < batch && i < reads; ++k, ++i) {
        const auto u = static_cast<int>(i % static_cast<std::uint64_t>(users));
        q.user = "u" + std::to_string(u);
        q.with = "u" + std::to_string((u * 7 + 3) % users);
        bytes += db::answer_read(store, q).size();
      }
    });
  }
  const double c1 = cpu_seconds();
  if (reads > 0 && bytes < reads * 40) err = "history reads came back empty";
  return (c1 - c0) * 1e6 / static_cast<double>(std::max<std::uint64_t>(reads, 1));
}

}  // namespace

apply_cost measure_apply_cost(std::uint64_t sends, std::size_t body, const std::string& dir, std::string& err) {
  constexpr int users = 64;
  // Batches as the apply actor gets them; a commit per ~second's worth of
  // entries at the rates the cluster benchmarks reach.
  constexpr std::uint64_t batch = 50, commit_every = 2000;
  const fs::path root = fs::path(dir) / ("qc-apply-cost-" + std::to_string(::getpid()));
  std::error_code ec;
  fs::remove_all(root, ec);
  fs::create_directories(root, ec);
  apply_cost out;
  {
    db::open_error oe;
    auto store = db::chat_store::open(root / "chat.db", oe);
    if (!store) {
      err = oe.message;
      return out;
    }
    std::uint64_t index = 0;
    std::vector<raft::entry> entries;
    for (int u = 0; u < users; ++u)
      entries.push_back(entry(++index, chat::cmd_create_account{"u" + std::to_string(u), "hash", 1}));
    store->apply_batch(entries);
    store->commit();
    const std::string text(body, 'x');
    const double c0 = cpu_seconds();
    const auto w0 = std::chrono::steady_clock::now();
    for (std::uint64_t i = 0; i < sends;) {
      entries.clear();
      for (std::uint64_t k = 0; k < batch && i < sends; ++k, ++i) {
        const auto from = "u" + std::to_string(i % users), to = "u" + std::to_string((i * 7 + 3) % users);
        entries.push_back(entry(++index, chat::cmd_send{from, to, text, "n" + std::to_string(i), 1'700'000'000'000}));
      }
      for (const auto& r : store->apply_batch(entries))
        if (r.code != db::apply_code::ok) {
          err = "send at index " + std::to_string(r.index) + " was refused";
          return out;
        }
      if (store->uncommitted() >= commit_every) store->commit();
    }
    store->commit();
    const auto w1 = std::chrono::steady_clock::now();
    const double c1 = cpu_seconds();
    out.sends = sends;
    out.cpu_us_per_send = (c1 - c0) * 1e6 / static_cast<double>(std::max<std::uint64_t>(sends, 1));
    out.wall_us_per_send =
        std::chrono::duration<double, std::micro>(w1 - w0).count() / static_cast<double>(std::max<std::uint64_t>(sends, 1));
    out.reads = sends;
    out.cpu_us_per_read_20 = measure_reads(*store, sends, 20, users, err);
    out.cpu_us_per_read_1 = measure_reads(*store, sends, 1, users, err);
  }
  fs::remove_all(root, ec);
  return out;
}

std::string render(const apply_cost& c) {
  char line[320];
  std::snprintf(line, sizeof line,
                "applied %llu sends: %.1f µs CPU, %.1f µs wall per send\n"
                "answered %llu history reads of each size: %.1f µs CPU per read of 20 messages, %.1f of 1\n",
                static_cast<unsigned long long>(c.sends), c.cpu_us_per_send, c.wall_us_per_send,
                static_cast<unsigned long long>(c.reads), c.cpu_us_per_read_20, c.cpu_us_per_read_1);
  return line;
}

boost::json::object to_json(const apply_cost& c) {
  return boost::json::object{
      {"apply_cost",
       boost::json::object{
           {"sends", c.sends},
           {"cpu_us_per_send", c.cpu_us_per_send},
           {"wall_us_per_send", c.wall_us_per_send},
           {"reads", c.reads},
           {"cpu_us_per_read_20", c.cpu_us_per_read_20},
           {"cpu_us_per_read_1", c.cpu_us_per_read_1}}}};
}

}  // namespace qc::bench

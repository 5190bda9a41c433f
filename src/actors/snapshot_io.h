// The snapshot I/O worker: every blocking file operation of a snapshot
// stream runs on its thread — the sender's open and reads, the receiver's
// create, writes, fsync, rename and directory fsync — so a 300 MB catch-up
// never holds the event loop (heartbeats, clients) behind the disk. The
// replicator asks with messages; each result comes back to the loop as a
// snapshot_io_result. Streams are named by ids the replicator hands out,
// so a result of a stream it has given up is recognised and dropped.
//
// Owned by: its worker thread (the open files); tell() from the loop
// thread (the replicator).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <variant>

#include <boost/asio/io_context.hpp>

#include "actors/mailbox.h"

namespace qc::actors {

/// The header in front of every snapshot chunk frame (big-endian u64s).
struct snapshot_chunk_header {
  static constexpr std::size_t bytes = 24;
  std::uint64_t index = 0;   ///< the snapshot's index
  std::uint64_t offset = 0;  ///< of the chunk's first byte in the file
  std::uint64_t total = 0;   ///< file size
};

/// The header of a chunk frame; nullopt if the frame is too short.
std::optional<snapshot_chunk_header> decode_chunk_header(const std::string& frame);

namespace snapshot_io_msg {
/// Sender: open `file` for stream `stream`; answers `opened` with its size.
struct open_read {
  std::uint64_t stream = 0;
  std::filesystem::path file;
};
/// Sender: read `n` bytes at `offset` and frame them as a chunk of the
/// snapshot at `index` (`total` bytes); answers `chunk`.
struct read_chunk {
  std::uint64_t stream = 0;
  std::uint64_t index = 0;
  std::uint64_t offset = 0;
  std::size_t n = 0;
  std::uint64_t total = 0;
};
/// Receiver: create (or truncate) `part` for stream `stream`.
struct open_write {
  std::uint64_t stream = 0;
  std::filesystem::path part;
};
/// Receiver: write the payload of chunk frame `frame`; answers `written`
/// with the end offset of what is written so far.
struct write_chunk {
  std::uint64_t stream = 0;
  std::string frame;
};
/// Receiver: fsync and close the file, rename it to `final_file`, fsync
/// the directory; answers `finished`.
struct finish_write {
  std::uint64_t stream = 0;
  std::filesystem::path final_file;
};
/// Either side: forget the stream (a receiver's unfinished file is deleted).
struct close {
  std::uint64_t stream = 0;
};
}  // namespace snapshot_io_msg

/// Everything the worker accepts.
using snapshot_io_message =
    std::variant<snapshot_io_msg::open_read, snapshot_io_msg::read_chunk, snapshot_io_msg::open_write,
                 snapshot_io_msg::write_chunk, snapshot_io_msg::finish_write, snapshot_io_msg::close>;

/// One answer of the worker, on the loop thread.
struct snapshot_io_result {
  enum class kind { opened, chunk, written, finished, failed };
  std::uint64_t stream = 0;
  kind what = kind::failed;
  std::uint64_t value = 0;                   ///< opened: file size; written: end offset
  std::shared_ptr<const std::string> frame;  ///< chunk: the frame to send
  std::error_code ec;                        ///< failed: db::errc (disk_full or io_error)
  std::string error;                         ///< failed: names the file and the error
};

/// The worker.
class snapshot_io {
 public:
  /// `on_result` runs on the loop thread, once per answer, in order.
  snapshot_io(boost::asio::io_context& io, std::function<void(snapshot_io_result)> on_result,
              failure_handler on_failure);
  ~snapshot_io();

  /// Queues a request. Any thread (the replicator calls it on the loop).
  void tell(snapshot_io_message m) { inbox_->push(std::move(m)); }

  /// Finishes queued requests, then stops the thread.
  void stop() { inbox_->stop(); }

 private:
  /// A stream's file (worker thread only).
  struct open_file {
    int fd = -1;
    std::filesystem::path path;
    bool writing = false;       ///< a receiver's .part
    std::uint64_t written = 0;  ///< receiver: end offset written so far
  };
  void handle(snapshot_io_message& m);
  void post(snapshot_io_result r);
  void fail(std::uint64_t stream, int err, const std::string& what);

  boost::asio::io_context& io_;
  std::function<void(snapshot_io_result)> on_result_;
  std::map<std::uint64_t, open_file> files_;  ///< worker thread only
  std::unique_ptr<thread_mailbox<snapshot_io_message>> inbox_;  // last: its thread uses the above
};

}  // namespace qc::actors

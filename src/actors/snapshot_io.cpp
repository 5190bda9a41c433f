#include "actors/snapshot_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <boost/asio/post.hpp>

#include "common/overloaded.h"
#include "db/errc.h"
#include "db/fsync.h"
#include "db/sqlite_util.h"

namespace qc::actors {

namespace fs = std::filesystem;

namespace {
void put_u64(std::string& s, std::uint64_t v) {
  for (int i = 7; i >= 0; --i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
std::uint64_t get_u64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}
}  // namespace

std::optional<snapshot_chunk_header> decode_chunk_header(const std::string& frame) {
  if (frame.size() < snapshot_chunk_header::bytes) return std::nullopt;
  return snapshot_chunk_header{get_u64(frame.data()), get_u64(frame.data() + 8), get_u64(frame.data() + 16)};
}

snapshot_io::snapshot_io(boost::asio::io_context& io, std::function<void(snapshot_io_result)> on_result,
                         failure_handler on_failure)
    : io_(io), on_result_(std::move(on_result)) {
  inbox_ = std::make_unique<thread_mailbox<snapshot_io_message>>(
      "snapshot I/O",
      [this](std::vector<snapshot_io_message>&& batch) {
        for (auto& m : batch) handle(m);
      },
      std::move(on_failure));
}

snapshot_io::~snapshot_io() {
  stop();
  for (auto& [stream, f] : files_) ::close(f.fd);
}

void snapshot_io::post(snapshot_io_result r) {
  boost::asio::post(io_, [this, r = std::move(r)]() mutable { on_result_(std::move(r)); });
}

void snapshot_io::fail(std::uint64_t stream, int err, const std::string& what) {
  auto it = files_.find(stream);
  if (it != files_.end()) {
    ::close(it->second.fd);
    std::error_code ec;
    if (it->second.writing) fs::remove(it->second.path, ec);  // an unfinished transfer is no snapshot
    files_.erase(it);
  }
  snapshot_io_result r;
  r.stream = stream;
  r.what = snapshot_io_result::kind::failed;
  r.ec = db::from_errno(err);
  r.error = what + ": " + std::strerror(err);
  post(std::move(r));
}

void snapshot_io::handle(snapshot_io_message& msg) {
  using kind = snapshot_io_result::kind;
  std::visit(
      overloaded{
          [&](snapshot_io_msg::open_read& m) {
            const int fd = ::open(m.file.c_str(), O_RDONLY | O_CLOEXEC);
            struct stat st {};
            if (fd < 0 || ::fstat(fd, &st) != 0) {
              const int e = errno;
              if (fd >= 0) ::close(fd);
              fail(m.stream, e, "cannot read " + m.file.string());
              return;
            }
            files_[m.stream] = open_file{fd, m.file, false, 0};
            post({m.stream, kind::opened, static_cast<std::uint64_t>(st.st_size), nullptr, {}, {}});
          },
          [&](snapshot_io_msg::read_chunk& m) {
            auto it = files_.find(m.stream);
            if (it == files_.end()) return;  // closed meanwhile
            auto frame = std::make_shared<std::string>();
            frame->reserve(snapshot_chunk_header::bytes + m.n);
            put_u64(*frame, m.index);
            put_u64(*frame, m.offset);
            put_u64(*frame, m.total);
            frame->resize(snapshot_chunk_header::bytes + m.n);
            std::size_t got = 0;
            while (got < m.n) {
              const auto r = ::pread(it->second.fd, frame->data() + snapshot_chunk_header::bytes + got, m.n - got,
                                     static_cast<off_t>(m.offset + got));
              if (r < 0 && errno == EINTR) continue;
              if (r <= 0) {
                fail(m.stream, r == 0 ? EIO : errno, "cannot read " + it->second.path.string());
                return;
              }
              got += static_cast<std::size_t>(r);
            }
            post({m.stream, kind::chunk, m.offset + m.n, std::move(frame), {}, {}});
          },
          [&](snapshot_io_msg::open_write& m) {
            std::error_code ec;
            fs::create_directories(m.part.parent_path(), ec);
            const int fd = ::open(m.part.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
            if (fd < 0) {
              fail(m.stream, errno, "cannot create " + m.part.string());
              return;
            }
            files_[m.stream] = open_file{fd, m.part, true, 0};
          },
          [&](snapshot_io_msg::write_chunk& m) {
            auto it = files_.find(m.stream);
            if (it == files_.end()) return;  // failed or closed before
            const auto h = decode_chunk_header(m.frame);
            if (!h) {
              fail(m.stream, EINVAL, "bad chunk for " + it->second.path.string());
              return;
            }
            const char* p = m.frame.data() + snapshot_chunk_header::bytes;
            std::size_t left = m.frame.size() - snapshot_chunk_header::bytes;
            off_t at = static_cast<off_t>(h->offset);
            while (left > 0) {
              const auto w = ::pwrite(it->second.fd, p, left, at);
              if (w < 0 && errno == EINTR) continue;
              if (w <= 0) {
                fail(m.stream, w == 0 ? EIO : errno, "cannot write " + it->second.path.string());
                return;
              }
              p += w;
              at += w;
              left -= static_cast<std::size_t>(w);
            }
            it->second.written = static_cast<std::uint64_t>(at);
            post({m.stream, kind::written, it->second.written, nullptr, {}, {}});
          },
          [&](snapshot_io_msg::finish_write& m) {
            auto it = files_.find(m.stream);
            if (it == files_.end()) return;
            // Durable under its final name before the leader hears "done".
            if (::fsync(it->second.fd) != 0) {
              fail(m.stream, errno, "cannot fsync " + it->second.path.string());
              return;
            }
            ::close(it->second.fd);
            const fs::path part = it->second.path;
            files_.erase(it);
            if (::rename(part.c_str(), m.final_file.c_str()) != 0) {
              const int e = errno;
              std::error_code ec;
              fs::remove(part, ec);
              fail(m.stream, e, "cannot rename " + part.string() + " to " + m.final_file.string());
              return;
            }
            if (auto ec = db::fsync_dir(m.final_file.parent_path())) {
              fail(m.stream, ec.value(), "cannot fsync the directory of " + m.final_file.string());
              return;
            }
            post({m.stream, kind::finished, 0, nullptr, {}, {}});
          },
          [&](snapshot_io_msg::close& m) {
            auto it = files_.find(m.stream);
            if (it == files_.end()) return;
            ::close(it->second.fd);
            std::error_code ec;
            if (it->second.writing) fs::remove(it->second.path, ec);
            files_.erase(it);
          },
      },
      msg);
}

}  // namespace qc::actors

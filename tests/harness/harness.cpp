#include "harness/harness.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "ops/cluster_probe.h"

#ifndef QC_BINARY_DIR
#error "QC_BINARY_DIR must point at the build directory holding chatnode"
#endif

namespace qc::test {

int free_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor a(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

std::pair<int, std::string> http_get(int port, const std::string& path) {
  // "http://": plain even where QC_TLS=1 would make a bare address TLS.
  auto r = ops::http_get("http://127.0.0.1:" + std::to_string(port), path, 2s);
  return r ? *r : std::pair<int, std::string>{0, {}};
}

std::string sqlite_shell(const fs::path& db, const std::string& sql) {
  const std::string cmd = "sqlite3 -readonly '" + db.string() + "' \"" + sql + "\" 2>&1";
  std::string out;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[512];
    while (std::fgets(buf, sizeof buf, p)) out += buf;
    ::pclose(p);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

int error_lines(const std::string& log) {
  int n = 0;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) n += line.find(" ERROR ") != std::string::npos;
  return n;
}

std::string chatnode_binary() {
  const char* other = std::getenv("QC_CHATNODE");
  return other && *other ? std::string(other) : std::string(QC_BINARY_DIR) + "/chatnode";
}

// ---- node_proc ------------------------------------------------------------------

void node_proc::start(const std::vector<std::string>& extra) {
  std::vector<std::string> args = {chatnode_binary(), "--config", config.string()};
  args.insert(args.end(), extra.begin(), extra.end());
  pid = ops::spawn_process(args, log_file.string());
}

void node_proc::start_with_nofile(int nofile) {
  pid = ops::spawn_process({"/bin/sh", "-c", "ulimit -n " + std::to_string(nofile) + " && exec \"$0\" \"$@\"",
                            chatnode_binary(), "--config", config.string()},
                           log_file.string());
}

int node_proc::signal(int sig) {
  if (pid <= 0) return -1;
  ::kill(pid, sig);
  if (sig == SIGKILL || sig == SIGTERM || sig == SIGINT) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    pid = -1;
    return status;
  }
  return 0;
}

bool node_proc::alive() const {
  if (pid <= 0) return false;
  siginfo_t info{};
  return ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == 0;
}

json::value node_proc::status() const {
  auto [code, body] = http_get(port, "/status");
  if (code != 200) return nullptr;
  json::error_code ec;
  auto v = json::parse(body, ec);
  return ec ? json::value(nullptr) : v;
}

bool node_proc::wait_healthy(std::chrono::milliseconds timeout) const {
  return eventually([&] { return http_get(port, "/health").first == 200; }, timeout);
}

std::string node_proc::log_text() const {
  std::ifstream in(log_file);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// ---- cluster --------------------------------------------------------------------

cluster::cluster(int n, const std::string& extra_toml, std::string security_extra)
    : security_toml(std::move(security_extra)) {
  std::random_device rd;
  root = fs::temp_directory_path() / ("qc-it-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
  fs::create_directories(root);
  for (int i = 1; i <= n; ++i) {
    node_proc p;
    p.id = "n" + std::to_string(i);
    p.port = unused_port();
    nodes.push_back(p);
  }
  for (auto& p : nodes) write_config(p, true, extra_toml);
}

cluster::~cluster() {
  for (auto& p : nodes)
    if (p.pid > 0) p.signal(SIGKILL);
  if (!std::getenv("QC_KEEP_TEST_DIRS")) {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
}

void cluster::write_config(node_proc& p, bool founding, const std::string& extra_toml, const fs::path& data_dir) {
  p.dir = data_dir.empty() ? root / p.id : data_dir;
  p.config = root / (p.id + ".toml");
  p.log_file = root / (p.id + ".log");
  std::ofstream f(p.config);
  f << "[node]\nid = \"" << p.id << "\"\nlisten = \"" << p.address() << "\"\ndata_dir = \"" << p.dir.string()
    << "\"\n\n[cluster]\nsecret = \"" << secret << "\"\nadmin_token = \"" << admin_token << "\"\nmembers = [\n";
  if (founding)
    for (auto& m : nodes)
      f << "  { id = \"" << m.id << "\", address = \"" << m.address() << "\" },\n";
  // Cheap password hashes (tests log in thousands of times), except for
  // the keys a test sets itself.
  f << "]\n\n[security]\n" << security_toml << "\n";
  std::istringstream cheap(cheap_hashes);
  for (std::string line; std::getline(cheap, line);)
    if (security_toml.find(line.substr(0, line.find(' '))) == std::string::npos) f << line << "\n";
  f << extra_toml;
}

int cluster::unused_port() const {
  for (;;) {
    const int port = free_port();
    if (std::none_of(nodes.begin(), nodes.end(), [&](const node_proc& q) { return q.port == port; })) return port;
  }
}

node_proc& cluster::add_joiner(const std::string& id, const std::string& extra_toml) {
  node_proc p;
  p.id = id;
  p.port = unused_port();
  write_config(p, false, extra_toml);
  nodes.push_back(p);
  return nodes.back();
}

void cluster::start_all() {
  for (auto& p : nodes) p.start();
}

bool cluster::start_healthy() {
  start_all();
  if (nodes[0].wait_healthy()) return true;
  dump_logs();
  return false;
}

node_proc& cluster::node(const std::string& id) {
  for (auto& p : nodes)
    if (p.id == id) return p;
  throw std::runtime_error("no node " + id);
}

std::optional<std::string> cluster::leader() const {
  std::optional<std::string> agreed;
  for (auto& p : nodes) {
    if (p.pid <= 0) continue;
    auto s = p.status();
    if (!s.is_object()) continue;
    auto* l = s.as_object().if_contains("leader");
    if (!l || !l->is_string()) return std::nullopt;
    std::string id(l->as_string());
    if (agreed && *agreed != id) return std::nullopt;
    agreed = id;
  }
  return agreed;
}

std::optional<std::string> cluster::wait_leader(std::chrono::milliseconds timeout) const {
  std::optional<std::string> l;
  if (!eventually([&] { return (l = leader()).has_value(); }, timeout)) dump_logs();
  return l;
}

void cluster::dump_logs() const {
  for (auto& p : nodes) {
    const auto s = p.status();
    std::fprintf(stderr, "==== %s (%s, pid %d, %s) status: %s ====\n%s\n", p.id.c_str(), p.address().c_str(),
                 static_cast<int>(p.pid), p.alive() ? "alive" : "not running",
                 s.is_null() ? "unreachable" : json::serialize(s).c_str(), p.log_text().c_str());
  }
}

// ---- client ---------------------------------------------------------------------

bool client::connect_to(const std::string& address, const std::string& path) {
  const auto e = ws.connect(address, path);
  err = e.what;
  return !e;
}

json::object client::call(json::object req, std::chrono::milliseconds timeout) {
  auto r = ws.request(std::move(req), err, timeout);
  return r ? *r : json::object{};
}

bool client::ok(const json::object& r) {
  auto* v = r.if_contains("ok");
  return v && v->is_bool() && v->as_bool();
}

std::string client::code(const json::object& r) {
  auto* e = r.if_contains("error");
  if (!e || !e->is_object()) return {};
  auto* c = e->as_object().if_contains("code");
  return c && c->is_string() ? std::string(c->as_string()) : std::string();
}

std::string client::signup(const std::string& user, const std::string& pw) {
  call({{"op", "create_account"}, {"user", user}, {"password", pw}});
  auto r = call({{"op", "login"}, {"user", user}, {"password", pw}});
  if (!ok(r)) return {};
  return std::string(r.at("token").as_string());
}

}  // namespace qc::test

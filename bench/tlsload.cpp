// tlsload: TLS connection load for bench/tls.sh, on one core, with epoll and
// non-blocking OpenSSL (Python's ssl cannot saturate a server core with handshakes).
//
//   tlsload rate PORT [--conns N] [--seconds S] [--warmup S] [--resume] [...]
//     Each of N slots loops: connect, TLS 1.3 handshake, GET PATH with
//     "Connection: close", read the whole answer, close. With --resume every
//     slot offers the newest session ticket its server gave it, so all but the
//     first handshake of a slot are resumed (counted from SSL_session_reused).
//     Prints one line:
//       TLSLOAD mode=rate conns= seconds= done= rate= resumed= p50_ms= p99_ms= errors=...
//
//   tlsload hold PORT [--conns N] [--ramp R] [--timeout S] [--seconds S] [...]
//     Opens N keep-alive TLS connections (at most R handshakes in flight), sends
//     one GET PATH on each, reads the answer and then keeps the connection idle.
//     Prints "READY established= failed= pending= seconds=" once every
//     connection is established or has failed (or --ready-timeout passed), then
//     holds them until --seconds or SIGTERM and prints
//       HOLD established= idle_open= pending= closed_by_server= failed= cpu_s=
//     Progress goes to stderr once a second.
//
// Common options:
//   --host 127.0.0.1   the server (loopback only: the benchmarks never leave it)
//   --path /v1/ping    the request target
//   --sources K        bind connections round-robin to K local addresses
//                      127.<b>.<c>.<d> from --source-base (default 127.0.2.1);
//                      spreads the 4-tuples (TIME_WAIT) and looks like K clients
//   --ca FILE          verify the server certificate (default: not verified, so
//                      the generator's core goes to the handshake itself; the
//                      scripts check the certificate with curl first)
//   --cert FILE --key FILE  present this client certificate (PEM chain, leaf
//                      first) and key in every full handshake: mutual TLS, as
//                      every agent endpoint needs (docs/identity.md). A resumed
//                      TLS 1.3 handshake sends no certificate: the server takes
//                      the identity from the ticket.
//   --header "K: V"    an extra request header (repeat)
//   --timeout S        per connection: connect + handshake + answer (default 10)
//
// Build: g++ -std=c++20 -O2 bench/tlsload.cpp -lssl -lcrypto (bench/lib.sh does it).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string mode;
  std::string host = "127.0.0.1";
  int port = 0;
  std::string path = "/v1/ping";
  int conns = 32;
  double seconds = 10;
  double warmup = 2;
  bool resume = false;
  int sources = 1;
  std::string source_base = "127.0.2.1";
  std::string ca;
  std::string cert;
  std::string key;
  std::vector<std::string> headers;
  double timeout = 10;
  int ramp = 500;
  double ready_timeout = 120;
};

enum class State { kConnecting, kHandshake, kWriting, kReading, kIdle, kDone };

struct Conn {
  int fd = -1;
  SSL* ssl = nullptr;
  State state = State::kDone;
  Clock::time_point started;
  std::string request;
  size_t written = 0;
  std::string in;
  int slot = 0;
  SSL_SESSION* session = nullptr;  // rate --resume: the newest ticket of this slot
};

volatile sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "tlsload: %s\n", what.c_str());
  std::exit(2);
}

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Parses a complete HTTP/1.1 answer with Content-Length; returns the status,
// 0 while incomplete, -1 if it cannot be parsed.
int ParseAnswer(const std::string& in) {
  size_t end = in.find("\r\n\r\n");
  if (end == std::string::npos) return in.size() > 65536 ? -1 : 0;
  if (in.compare(0, 9, "HTTP/1.1 ") != 0 && in.compare(0, 9, "HTTP/1.0 ") != 0) return -1;
  int status = std::atoi(in.c_str() + 9);
  size_t length = 0;
  std::string head = in.substr(0, end);
  for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  size_t cl = head.find("\r\ncontent-length:");
  if (cl != std::string::npos) length = std::strtoul(head.c_str() + cl + 17, nullptr, 10);
  return in.size() >= end + 4 + length ? status : 0;
}

class Load {
 public:
  explicit Load(const Options& o) : o_(o) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (!ctx_) Die("SSL_CTX_new failed");
    SSL_CTX_set_min_proto_version(ctx_, TLS1_3_VERSION);
    if (!o_.ca.empty()) {
      if (SSL_CTX_load_verify_locations(ctx_, o_.ca.c_str(), nullptr) != 1) Die("cannot read " + o_.ca);
      SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    }
    if (!o_.cert.empty()) {
      if (SSL_CTX_use_certificate_chain_file(ctx_, o_.cert.c_str()) != 1 ||
          SSL_CTX_use_PrivateKey_file(ctx_, o_.key.c_str(), SSL_FILETYPE_PEM) != 1 ||
          SSL_CTX_check_private_key(ctx_) != 1) {
        Die("cannot load the client certificate " + o_.cert + " and key " + o_.key);
      }
    }
    // Tickets arrive after the handshake; the callback keeps the newest per slot.
    SSL_CTX_set_session_cache_mode(ctx_, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx_, &Load::OnNewSession);
    // 10,000 idle clients in hold mode; in rate mode it would only add allocations.
    if (o_.mode == "hold") SSL_CTX_set_mode(ctx_, SSL_MODE_RELEASE_BUFFERS);
    epfd_ = epoll_create1(0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(o_.port));
    if (inet_pton(AF_INET, o_.host.c_str(), &a.sin_addr) != 1) Die("bad --host " + o_.host);
    server_ = a;
    in_addr base{};
    if (inet_pton(AF_INET, o_.source_base.c_str(), &base) != 1) Die("bad --source-base");
    for (int i = 0; i < o_.sources; ++i) {
      in_addr s{};
      s.s_addr = htonl(ntohl(base.s_addr) + static_cast<uint32_t>(i));
      sources_.push_back(s);
    }
    request_ = "GET " + o_.path + " HTTP/1.1\r\nHost: " + o_.host + "\r\nUser-Agent: tlsload\r\n";
    for (const std::string& h : o_.headers) request_ += h + "\r\n";
    request_ += std::string(o_.mode == "rate" ? "Connection: close\r\n" : "") + "\r\n";
    conns_.resize(static_cast<size_t>(o_.conns));
  }

  int RunRate() {
    for (int i = 0; i < o_.conns; ++i) Start(i);
    auto t0 = Clock::now();
    bool counting = false;
    Clock::time_point t_count;
    while (!g_stop) {
      double t = Since(t0);
      if (!counting && t >= o_.warmup) {
        counting = true;
        t_count = Clock::now();
        latencies_us_.clear();
        done_ = resumed_ = 0;
        errors_.clear();
      }
      if (counting && Since(t_count) >= o_.seconds) break;
      Poll(50);
      Sweep();
    }
    double secs = counting ? Since(t_count) : 0;
    std::sort(latencies_us_.begin(), latencies_us_.end());
    // all_done/all_seconds include the warm-up, for CPU per connection taken
    // from the server's CPU time over the whole run.
    std::printf("TLSLOAD mode=rate resume=%d client_cert=%d conns=%d seconds=%.3f done=%lld rate=%.1f resumed=%lld "
                "p50_ms=%.2f p99_ms=%.2f all_done=%lld all_seconds=%.3f cpu_s=%.2f errors=%s\n",
                o_.resume ? 1 : 0, o_.cert.empty() ? 0 : 1, o_.conns, secs, done_, secs > 0 ? done_ / secs : 0.0, resumed_,
                Percentile(50) / 1000.0, Percentile(99) / 1000.0, all_done_, Since(t0), CpuSeconds(),
                ErrorText().c_str());
    return 0;
  }

  int RunHold() {
    auto t0 = Clock::now();
    int next = 0;
    bool ready = false;
    double last_report = 0;
    while (!g_stop && Since(t0) < o_.seconds) {
      while (next < o_.conns && inflight_ < o_.ramp) Start(next++);
      Poll(100);
      Sweep();
      int pending = o_.conns - established_ - failed_;
      if (!ready && (pending == 0 || Since(t0) >= o_.ready_timeout)) {
        ready = true;
        std::printf("READY established=%d failed=%d pending=%d seconds=%.1f cpu_s=%.2f errors=%s\n",
                    established_, failed_, pending, Since(t0), CpuSeconds(), ErrorText().c_str());
        std::fflush(stdout);
      }
      if (Since(t0) - last_report >= 1) {
        last_report = Since(t0);
        std::fprintf(stderr, "t=%.0f established=%d open=%d inflight=%d failed=%d closed_by_server=%d\n",
                     last_report, established_, open_, inflight_, failed_, closed_by_server_);
      }
    }
    std::printf("HOLD established=%d idle_open=%d pending=%d closed_by_server=%d failed=%d cpu_s=%.2f errors=%s\n",
                established_, established_ - closed_by_server_, inflight_, closed_by_server_, failed_,
                CpuSeconds(), ErrorText().c_str());
    return 0;
  }

 private:
  static int OnNewSession(SSL* ssl, SSL_SESSION* s) {
    auto* c = static_cast<Conn*>(SSL_get_app_data(ssl));
    if (!c) return 0;
    if (c->session) SSL_SESSION_free(c->session);
    c->session = s;
    return 1;  // we keep the reference
  }

  void Error(const std::string& kind) { ++errors_[kind]; }

  // This process's CPU time (user + system): whether the generator was the limit.
  static double CpuSeconds() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
  }

  std::string ErrorText() const {
    if (errors_.empty()) return "-";
    std::string s;
    for (const auto& [k, v] : errors_) s += (s.empty() ? "" : ",") + k + ":" + std::to_string(v);
    return s;
  }

  double Percentile(double p) const {
    if (latencies_us_.empty()) return 0;
    size_t rank = static_cast<size_t>(p / 100.0 * latencies_us_.size() + 0.999999);
    return latencies_us_[std::clamp<size_t>(rank, 1, latencies_us_.size()) - 1];
  }

  // Starts slot i: a new socket bound to one of the source addresses, a
  // non-blocking connect; the handshake starts when the socket is writable.
  void Start(int i) {
    Conn& c = conns_[static_cast<size_t>(i)];
    c.slot = i;
    c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0) Die(std::string("socket: ") + std::strerror(errno) + " (raise ulimit -n)");
    int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(c.fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    sockaddr_in src{};
    src.sin_family = AF_INET;
    src.sin_addr = sources_[static_cast<size_t>(next_source_++ % o_.sources)];
    if (bind(c.fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0) Die(std::string("bind: ") + std::strerror(errno));
    c.started = Clock::now();
    c.in.clear();
    c.written = 0;
    ++inflight_;
    ++open_;
    int r = connect(c.fd, reinterpret_cast<const sockaddr*>(&server_), sizeof server_);
    if (r != 0 && errno != EINPROGRESS) {
      Fail(c, std::string("connect_") + std::to_string(errno));
      return;
    }
    c.state = State::kConnecting;
    epoll_event ev{};
    ev.events = EPOLLOUT;
    ev.data.u32 = static_cast<uint32_t>(i);
    epoll_ctl(epfd_, EPOLL_CTL_ADD, c.fd, &ev);
  }

  void Watch(Conn& c, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u32 = static_cast<uint32_t>(c.slot);
    epoll_ctl(epfd_, EPOLL_CTL_MOD, c.fd, &ev);
  }

  void Close(Conn& c) {
    if (c.ssl) {
      SSL_set_app_data(c.ssl, nullptr);
      SSL_free(c.ssl);
      c.ssl = nullptr;
    }
    if (c.fd >= 0) {
      close(c.fd);
      c.fd = -1;
      --open_;
    }
    c.state = State::kDone;
  }

  // A connection that did not complete: counted, closed, and in rate mode its
  // slot starts again (after the sweep, not in a tight loop).
  void Fail(Conn& c, const std::string& why) {
    Error(why);
    if (c.state != State::kIdle) --inflight_;
    Close(c);
    if (o_.mode == "hold") {
      ++failed_;
    } else {
      restart_.push_back(c.slot);
    }
  }

  void Finished(Conn& c, int status) {
    --inflight_;
    if (status != 200) Error("status_" + std::to_string(status));
    if (o_.mode == "hold") {
      ++established_;
      c.state = State::kIdle;
      c.in.clear();
      c.in.shrink_to_fit();
      c.request.clear();
      Watch(c, EPOLLIN | EPOLLRDHUP);
      return;
    }
    latencies_us_.push_back(static_cast<uint32_t>(Since(c.started) * 1e6));
    ++done_;
    ++all_done_;
    if (SSL_session_reused(c.ssl)) ++resumed_;
    SSL_shutdown(c.ssl);  // close_notify, not waited for
    Close(c);
    Start(c.slot);
  }

  // Drives one connection as far as it can go without blocking.
  void Step(Conn& c, uint32_t events) {
    if (c.state == State::kConnecting) {
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0 || (events & (EPOLLERR | EPOLLHUP))) return Fail(c, "connect");
      c.ssl = SSL_new(ctx_);
      SSL_set_fd(c.ssl, c.fd);
      SSL_set_app_data(c.ssl, o_.resume ? &c : nullptr);
      if (o_.resume && c.session) SSL_set_session(c.ssl, c.session);
      c.state = State::kHandshake;
    }
    if (c.state == State::kHandshake) {
      int r = SSL_connect(c.ssl);
      if (r != 1) return WantOrFail(c, r, "handshake");
      c.state = State::kWriting;
      c.request = request_;
    }
    if (c.state == State::kWriting) {
      while (c.written < c.request.size()) {
        int r = SSL_write(c.ssl, c.request.data() + c.written, static_cast<int>(c.request.size() - c.written));
        if (r <= 0) return WantOrFail(c, r, "write");
        c.written += static_cast<size_t>(r);
      }
      c.state = State::kReading;
    }
    if (c.state == State::kReading || c.state == State::kIdle) {
      char buf[16384];
      for (;;) {
        int r = SSL_read(c.ssl, buf, sizeof buf);
        if (r <= 0) {
          int e = SSL_get_error(c.ssl, r);
          if (e == SSL_ERROR_WANT_READ) return Watch(c, c.state == State::kIdle ? EPOLLIN | EPOLLRDHUP : EPOLLIN);
          if (e == SSL_ERROR_WANT_WRITE) return Watch(c, EPOLLOUT);
          if (c.state == State::kIdle) {  // the server closed an idle connection
            ++closed_by_server_;
            Close(c);
            ERR_clear_error();
            return;
          }
          ERR_clear_error();
          return Fail(c, "read");
        }
        if (c.state == State::kIdle) continue;  // nothing is expected; ignore
        c.in.append(buf, static_cast<size_t>(r));
        int status = ParseAnswer(c.in);
        if (status < 0) return Fail(c, "bad_answer");
        if (status > 0) return Finished(c, status);
      }
    }
  }

  void WantOrFail(Conn& c, int r, const char* what) {
    int e = SSL_get_error(c.ssl, r);
    if (e == SSL_ERROR_WANT_READ) return Watch(c, EPOLLIN);
    if (e == SSL_ERROR_WANT_WRITE) return Watch(c, EPOLLOUT);
    ERR_clear_error();
    Fail(c, what);
  }

  void Poll(int ms) {
    epoll_event evs[512];
    int n = epoll_wait(epfd_, evs, 512, ms);
    for (int k = 0; k < n; ++k) {
      Conn& c = conns_[evs[k].data.u32];
      if (c.fd >= 0) Step(c, evs[k].events);
    }
  }

  // Deadlines are checked by a sweep every poll round instead of a timer per
  // connection; failed rate-mode slots restart here.
  void Sweep() {
    auto now = Clock::now();
    if (now - last_sweep_ < std::chrono::milliseconds(100)) return;
    last_sweep_ = now;
    for (Conn& c : conns_) {
      if (c.fd >= 0 && c.state != State::kIdle &&
          std::chrono::duration<double>(now - c.started).count() > o_.timeout) {
        Fail(c, "timeout");
      }
    }
    std::vector<int> again;
    again.swap(restart_);
    for (int i : again) Start(i);
  }

  Options o_;
  SSL_CTX* ctx_ = nullptr;
  int epfd_ = -1;
  sockaddr_in server_{};
  std::vector<in_addr> sources_;
  size_t next_source_ = 0;
  std::string request_;
  std::vector<Conn> conns_;
  std::vector<int> restart_;
  Clock::time_point last_sweep_ = Clock::now();
  std::vector<uint32_t> latencies_us_;
  std::map<std::string, long long> errors_;
  long long done_ = 0, resumed_ = 0, all_done_ = 0;
  int inflight_ = 0, open_ = 0, established_ = 0, failed_ = 0, closed_by_server_ = 0;
};

Options Parse(int argc, char** argv) {
  if (argc < 3) Die("usage: tlsload rate|hold PORT [options]; see the comment at the top of bench/tlsload.cpp");
  Options o;
  o.mode = argv[1];
  if (o.mode != "rate" && o.mode != "hold") Die("mode must be rate or hold");
  o.port = std::atoi(argv[2]);
  if (o.mode == "hold") o.seconds = 3600;
  for (int i = 3; i < argc; ++i) {
    std::string k = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Die(k + " needs a value");
      return argv[++i];
    };
    if (k == "--host") o.host = value();
    else if (k == "--path") o.path = value();
    else if (k == "--conns") o.conns = std::atoi(value().c_str());
    else if (k == "--seconds") o.seconds = std::atof(value().c_str());
    else if (k == "--warmup") o.warmup = std::atof(value().c_str());
    else if (k == "--resume") o.resume = true;
    else if (k == "--sources") o.sources = std::max(1, std::atoi(value().c_str()));
    else if (k == "--source-base") o.source_base = value();
    else if (k == "--ca") o.ca = value();
    else if (k == "--cert") o.cert = value();
    else if (k == "--key") o.key = value();
    else if (k == "--header") o.headers.push_back(value());
    else if (k == "--timeout") o.timeout = std::atof(value().c_str());
    else if (k == "--ramp") o.ramp = std::max(1, std::atoi(value().c_str()));
    else if (k == "--ready-timeout") o.ready_timeout = std::atof(value().c_str());
    else Die("unknown option " + k);
  }
  if (o.host.rfind("127.", 0) != 0) Die("--host must be a loopback address");
  if (o.port <= 0 || o.conns <= 0) Die("bad PORT or --conns");
  if (o.cert.empty() != o.key.empty()) Die("--cert and --key go together");
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = Parse(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  signal(SIGTERM, OnSignal);
  signal(SIGINT, OnSignal);
  Load load(o);
  return o.mode == "rate" ? load.RunRate() : load.RunHold();
}

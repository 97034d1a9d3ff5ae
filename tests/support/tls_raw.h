// Raw HTTP over TLS for tests that must send what no well-behaved client
// sends (chunked bodies, duplicate headers, pipelined smuggling attempts).
#pragma once

#include <string>
#include <vector>

namespace testing_support {

struct RawExchange {
  std::string data;     // every byte the server sent
  bool closed = false;  // the server closed the connection (vs. timed out)
};

// Connects to 127.0.0.1:port over TLS (no verification: the server is under
// test, not the client), writes `request`, and reads until the server closes
// or nothing arrives for `idle_ms`.
RawExchange TlsExchange(int port, const std::string& request, int idle_ms = 1500);
// Sends each piece as its own TLS record, 200 ms apart, then reads as above.
// (cpp-httplib waits for the socket to become readable between keep-alive
// requests, so pipelined requests in one record are not what a peer sends.)
RawExchange TlsExchange(int port, const std::vector<std::string>& pieces, int idle_ms = 1500);

// The status code of the first response in `data`, or 0.
int FirstStatus(const std::string& data);
// How many HTTP/1.1 status lines `data` holds.
int CountResponses(const std::string& data);

}  // namespace testing_support

// The FastCGI adapter: the only place that touches libfcgi's request state
// (FcgiConnection) and the only place that knows how a router answer becomes
// FastCGI records (FcgiSink for the serving threads, the append_* functions
// for the event loop's non-blocking writer). libfcgi reads requests; every
// output record is written here (issue #16: one owner per wire stream).
#pragma once

#include <fcgiapp.h>

#include <string>

#include "http/message.h"

namespace dashpiff {

// One connection from the web server and libfcgi's request state on it.
// Nothing outside this adapter reads or writes FCGX_Request's fields.
class FcgiConnection {
 public:
  explicit FcgiConnection(int fd);
  // Closes at once: no lingering close (libfcgi's waits up to 2 s for the
  // peer); an idle connection is closed only when the worker stops, and nginx
  // retries a request it finds on a closed kept connection on a fresh one.
  ~FcgiConnection();
  FcgiConnection(const FcgiConnection&) = delete;
  FcgiConnection& operator=(const FcgiConnection&) = delete;

  int fd() const;  // -1 once dropped
  int request_id() const;
  // Reads the next request. False when the web server has closed the
  // connection instead (libfcgi then closes it too).
  bool accept();
  // The request as the router sees it: FastCGI parameters and stdin.
  Request read_request(std::size_t max_body);
  // Before the event loop takes the answer over: reads what is left of stdin
  // (so the next request starts at a record boundary; the loop only writes)
  // and says whether the connection may be kept afterwards.
  bool prepare_handoff();
  // After a thread answered: ends the request (libfcgi writes nothing the
  // sink has not: its stdout is empty), keeping the connection if the web
  // server asked and all went well. False when the connection is closed.
  bool finish();
  // After the event loop wrote the end of the request itself and keeps the
  // connection: libfcgi's streams are dropped unwritten, and the next accept()
  // must not close the connection.
  void reset_after_handoff();
  // Drops the connection now (a failure around the router).
  void drop();

 private:
  friend class FcgiSink;
  FCGX_Request request_;
  bool ended_ = false;  // the sink wrote the records that end the request
};

class FcgiSink final : public ResponseSink {
 public:
  // `buffer` is the calling thread's scratch space: reused from request to
  // request, so collecting small chunks allocates (and page-faults) once per
  // thread rather than once per answer.
  FcgiSink(FCGX_Request& request, std::string& buffer);
  FcgiSink(FcgiConnection& connection, std::string& buffer) : FcgiSink(connection.request_, buffer) {
    connection_ = &connection;
  }

  void begin(int status, const Headers& headers) override;
  bool write(std::string_view chunk) override;
  bool flush() override;
  void end() override;
  void abort() override;
  bool started() const override { return started_; }

 private:
  // Sends what is pending, then `tail`, as FCGI_STDOUT records in one writev.
  bool send(std::string_view tail);

  FCGX_Request& request_;
  FcgiConnection* connection_ = nullptr;  // set: end() writes the end of the request too
  std::string& pending_;  // stdout bytes (head, small body chunks) not yet sent
  bool started_ = false;
  bool failed_ = false;  // the web server side went away
  bool aborted_ = false;
};

// Writes `first` then `second` as FCGI_STDOUT records of request
// `request_id` straight to the connection `fd`, in as few writev calls as
// the records need. False when the peer has gone.
// `trailer` (whole records already framed) follows in the last writev.
bool write_stdout_records(int fd, int request_id, std::string_view first, std::string_view second = {},
                          std::string_view trailer = {});

// For a writer that sends on its own (the event loop's non-blocking sink):
// the CGI head of an answer, FCGI_STDOUT records of `data`, and the records
// that end request `request_id`, appended to `out`.
void append_cgi_head(std::string& out, int status, const Headers& headers);
void append_stdout_records(std::string& out, int request_id, std::string_view data);
void append_end_request(std::string& out, int request_id);
// Breaks an answer off visibly: one record nginx cannot parse, to be sent at
// a record boundary just before the connection is dropped (see the .cpp).
void append_break_record(std::string& out);

// What a connection's receive queue already holds, looked at without taking
// it (MSG_PEEK): a whole request (FCGI_BEGIN_REQUEST, the parameters up to
// their empty record, stdin up to its empty record) and its method and path.
// The event loop answers /healthz from this when every serving thread is busy:
// libfcgi then reads the request from bytes already there, never waiting.
struct PeekedRequest {
  bool complete = false;  // everything up to the empty stdin record is queued
  std::string method;
  std::string path;       // REQUEST_URI up to '?'
};
PeekedRequest peek_request(int fd);
// The same, over bytes already read (what peek_request looks at; unit tests).
PeekedRequest parse_request_records(std::string_view bytes);

// Fills a plain Request from the FastCGI parameters and stdin.
Request to_request(FCGX_Request& request, std::size_t max_body);

}  // namespace dashpiff

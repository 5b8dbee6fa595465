// ResponseSink over a libfcgi request: the only place that knows how a
// router answer becomes FastCGI stdout records.
#pragma once

#include <fcgiapp.h>

#include <string>

#include "http/message.h"

namespace dashpiff {

class FcgiSink final : public ResponseSink {
 public:
  // `buffer` is the calling thread's scratch space: reused from request to
  // request, so collecting small chunks allocates (and page-faults) once per
  // thread rather than once per answer.
  FcgiSink(FCGX_Request& request, std::string& buffer);

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
  std::string& pending_;  // stdout bytes (head, small body chunks) not yet sent
  bool started_ = false;
  bool failed_ = false;  // the web server side went away
  bool aborted_ = false;
};

// Writes `first` then `second` as FCGI_STDOUT records of request
// `request_id` straight to the connection `fd`, in as few writev calls as
// the records need. False when the peer has gone.
bool write_stdout_records(int fd, int request_id, std::string_view first, std::string_view second = {});

// For a writer that sends on its own (the event loop's non-blocking sink):
// the CGI head of an answer, FCGI_STDOUT records of `data`, and the records
// that end request `request_id`, appended to `out`.
void append_cgi_head(std::string& out, int status, const Headers& headers);
void append_stdout_records(std::string& out, int request_id, std::string_view data);
void append_end_request(std::string& out, int request_id);
// Breaks an answer off visibly: one record nginx cannot parse, to be sent at
// a record boundary just before the connection is dropped (see the .cpp).
void append_break_record(std::string& out);

// Fills a plain Request from the FastCGI parameters and stdin.
Request to_request(FCGX_Request& request, std::size_t max_body);

}  // namespace dashpiff

// ResponseSink over a libfcgi request: the only place that knows how a
// router answer becomes FastCGI stdout records.
#pragma once

#include <fcgiapp.h>

#include <string>

#include "http.h"

namespace dashpiff {

class FcgiSink final : public ResponseSink {
 public:
  explicit FcgiSink(FCGX_Request& request) : request_(request) {}

  void begin(int status, const Headers& headers) override;
  bool write(std::string_view chunk) override;
  bool flush() override;
  void end() override;
  void abort() override;
  bool started() const override { return started_; }
  bool aborted() const { return aborted_; }

 private:
  FCGX_Request& request_;
  std::string pending_;  // body bytes collected since the last flush
  bool started_ = false;
  bool failed_ = false;  // the web server side went away
  bool aborted_ = false;
};

// Writes `data` as FCGI_STDOUT records of request `request_id` straight to
// the connection `fd`. False when the peer has gone.
bool write_stdout_records(int fd, int request_id, std::string_view data);

// Fills a plain Request from the FastCGI parameters and stdin.
Request to_request(FCGX_Request& request, std::size_t max_body);

}  // namespace dashpiff

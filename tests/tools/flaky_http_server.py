#!/usr/bin/env python3
"""A file server on 127.0.0.1 for tests/tools/prepare_data.sh: serves a folder with HTTP Range support, logs
every request with its Range header, and can cut a download short the way a dying server does.

  flaky_http_server.py DIR --port-file FILE --log FILE [--cut-after BYTES] [--no-ranges]

It binds a free port and writes its number to --port-file once it accepts connections. --cut-after sends the
full Content-Length but only BYTES of the body, closes the connection, and exits (the server is gone).
--no-ranges answers every request with the whole file (200), as python's http.server does.
"""
import argparse
import os
import re
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("folder")
    p.add_argument("--port-file", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--cut-after", type=int, default=None)
    p.add_argument("--no-ranges", action="store_true")
    return p.parse_args()


def make_handler(options, server_state):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def log_request_line(self):
            with open(options.log, "a") as log:
                log.write(f"{self.command} {self.path} range={self.headers.get('Range', '-')}\n")

        def do_GET(self):
            self.log_request_line()
            path = os.path.join(options.folder, os.path.basename(self.path.split("?")[0]))
            if not os.path.isfile(path):
                self.send_error(404)
                return
            size = os.path.getsize(path)
            start, end = 0, size - 1
            wanted = RANGE.match(self.headers.get("Range", "")) if not options.no_ranges else None
            if wanted:
                start = int(wanted.group(1))
                end = int(wanted.group(2)) if wanted.group(2) else size - 1
                if start >= size:
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{size}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
            else:
                self.send_response(200)
            if not options.no_ranges:
                self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(end - start + 1))
            self.send_header("Content-Type", "application/octet-stream")
            self.end_headers()
            with open(path, "rb") as f:
                f.seek(start)
                body = f.read(end - start + 1)
            if options.cut_after is not None:
                self.wfile.write(body[: options.cut_after])
                self.wfile.flush()
                self.close_connection = True
                server_state["stop"] = True
                return
            self.wfile.write(body)

    return Handler


def main():
    options = parse_args()
    state = {"stop": False}
    server = HTTPServer(("127.0.0.1", 0), make_handler(options, state))
    tmp = options.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(tmp, options.port_file)
    while not state["stop"]:
        server.handle_request()
    server.server_close()


if __name__ == "__main__":
    sys.exit(main())

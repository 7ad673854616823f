#!/usr/bin/env python3
"""ingest_http_server.py: a loopback HTTP server for the silt_ingest tests and benchmark.

Binds 127.0.0.1 on a free port, writes the port to --port-file, and serves until killed
(https with --tls CERT KEY):

  /data.csv          200, text/csv, ETag "v1" + Last-Modified; If-None-Match "v1" -> 304
  /noext             200, text/csv (format from the Content-Type)
  /events            200, application/x-ndjson
  /missing.csv       404
  /redirect/N        302 to /redirect/N-1 ... /redirect/0 -> /data.csv
  /loop              302 to itself
  /to-file           302 to file:///etc/hostname (must be refused)
  /to-ftp            302 to ftp://127.0.0.1/x.csv (must be refused)
  /gzip.csv          Content-Encoding: gzip
  /file.csv.gz       a .gz file served as application/gzip (no Content-Encoding)
  /drop.csv          Content-Length 10000, 200 bytes sent, then the connection is closed
  /drop-chunked.csv  chunked encoding, closed before the last chunk
  /slow.csv          one row a second for a minute (timeouts, interrupts)
  /same-etag.csv     ignores If-None-Match but always sends ETag "same"
  /no-validators.csv no ETag, no Last-Modified
  /files/NAME        NAME from --files-dir, sent with sendfile (benchmark)

--congestion NAME sets the TCP congestion control of the served connections (the benchmark
uses cubic; see bench/README.md, ingest, on BBR's pacing timers over loopback) and prints the
one in effect as "tcp congestion control: NAME" on stdout; without it the system's default
applies.
"""
import argparse
import gzip
import http.server
import os
import socket
import sys
import time

DATA = b"id,name,score\n1,alpha,1.5\n2,beta,2\n3,gamma,\n"
EVENTS = b'{"id":1,"kind":"a"}\n{"id":2,"kind":"b","extra":true}\n'


class Handler(http.server.BaseHTTPRequestHandler):
    late_many_gets = 0  # GETs of /late-many.csv so far
    protocol_version = "HTTP/1.1"
    files_dir = None

    def log_message(self, fmt, *args):  # quiet
        pass

    def send_body(self, body, ctype="text/csv", extra=None, status=200):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def redirect(self, where):
        self.send_response(302)
        self.send_header("Location", where)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        p = self.path.split("?")[0]
        if p == "/data.csv":
            if self.headers.get("If-None-Match") == '"v1"':
                self.send_response(304)
                self.send_header("ETag", '"v1"')
                self.end_headers()
                return
            self.send_body(DATA, extra={"ETag": '"v1"', "Last-Modified": "Mon, 02 Jan 2023 10:00:00 GMT"})
        elif p == "/noext":
            self.send_body(DATA)
        elif p == "/late-many.csv":
            # Three columns, each with a late value that must make it TEXT, at different
            # rows after a 5-record sample: the load must be run again once, not three times.
            Handler.late_many_gets += 1
            rows = "".join("%d,%d,%d,%d\n" % (i, i, i, i) for i in range(1, 21))
            rows += "21,007,1,1\n22,1,+5,1\n23,1,1, 12\n"
            self.send_body(("id,a,b,c\n" + rows).encode())
        elif p == "/late-many-gets.csv":
            self.send_body(("gets\n%d\n" % Handler.late_many_gets).encode())
        elif p == "/late-zero.csv":
            # "007" after a 5-record sample of integers: the load is run again (a second
            # GET) with column v TEXT.
            rows = "".join("%d,%d\n" % (i, i) for i in range(1, 12)) + "12,007\n"
            self.send_body(("id,v\n" + rows).encode())
        elif p == "/events":
            self.send_body(EVENTS, ctype="application/x-ndjson")
        elif p.startswith("/redirect/"):
            n = int(p.rsplit("/", 1)[1])
            self.redirect("/data.csv" if n == 0 else "/redirect/%d" % (n - 1))
        elif p == "/loop":
            self.redirect("/loop")
        elif p == "/to-file":
            self.redirect("file:///etc/hostname")
        elif p == "/to-ftp":
            self.redirect("ftp://127.0.0.1/x.csv")
        elif p == "/gzip.csv":
            self.send_body(gzip.compress(DATA), extra={"Content-Encoding": "gzip"})
        elif p == "/file.csv.gz":
            self.send_body(gzip.compress(DATA), ctype="application/gzip")
        elif p == "/drop.csv":
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.send_header("Content-Length", "10000")
            self.end_headers()
            self.wfile.write(b"id,v\n" + b"1,x\n" * 49)
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
        elif p == "/drop-chunked.csv":
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b"id,v\n" + b"1,x\n" * 20
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
        elif p == "/slow.csv":
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.send_header("Content-Length", str(5 + 4 * 60))
            self.end_headers()
            self.wfile.write(b"id,v\n")
            try:
                for _ in range(60):
                    self.wfile.flush()
                    time.sleep(1)
                    self.wfile.write(b"1,x\n")
            except (BrokenPipeError, ConnectionResetError):
                pass
            self.close_connection = True
        elif p == "/same-etag.csv":
            self.send_body(DATA, extra={"ETag": '"same"'})
        elif p == "/no-validators.csv":
            self.send_body(DATA)
        elif p.startswith("/files/") and self.files_dir:
            name = os.path.basename(p[len("/files/"):])
            path = os.path.join(self.files_dir, name)
            if not os.path.isfile(path):
                self.send_body(b"not found\n", ctype="text/plain", status=404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.send_header("Content-Length", str(os.path.getsize(path)))
            self.end_headers()
            self.wfile.flush()
            # sendfile: the server should cost the benchmark as little CPU as possible
            with open(path, "rb") as f:
                off, size = 0, os.path.getsize(path)
                while off < size:
                    sent = os.sendfile(self.connection.fileno(), f.fileno(), off, min(size - off, 1 << 24))
                    if sent == 0:
                        break
                    off += sent
        else:
            self.send_body(b"not found\n", ctype="text/plain", status=404)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--files-dir")
    ap.add_argument("--congestion", help="TCP congestion control of the served connections (e.g. cubic)")
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"), help="serve https with this certificate")
    args = ap.parse_args()
    Handler.files_dir = args.files_dir
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    if args.congestion:
        # Accepted connections inherit the listening socket's congestion control. A name the
        # kernel refuses (not loaded, or not allowed without CAP_NET_ADMIN) leaves the default,
        # and the line below says which one is in effect.
        try:
            srv.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, args.congestion.encode())
        except OSError as e:
            print(f"cannot set TCP congestion control {args.congestion}: {e}", file=sys.stderr)
        cc = srv.socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, 16).split(b"\0")[0].decode()
        print(f"tcp congestion control: {cc}", flush=True)
    if args.tls:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls[0], args.tls[1])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.replace(tmp, args.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())

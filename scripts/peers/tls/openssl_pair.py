#!/usr/bin/env python3
"""OpenSSL `s_server` and `s_client` (and GnuTLS `gnutls-serv` and `gnutls-cli`) talking once on
loopback, for scripts/record-tls-captures.sh.

    openssl_pair.py SCENARIO --port P --pki DIR --keylog FILE

The client writes the NSS key log (`-keylogfile`, or `SSLKEYLOGFILE` for gnutls-cli) to FILE;
an empty FILE means no keys (`--keylog ''`). PKI: the files scripts/record-tls-captures.sh makes
(`make_pki`): ca.pem (the test CA), rsa.pem/rsa.key and ec.pem/ec.key (leaf certificates for
`localhost` and 127.0.0.1 signed by it), other-ca.pem (a CA nobody uses), chain-leaf.pem,
chain-leaf.key and chain.pem (a leaf with a long SAN list under a long chain of intermediates).

Every step waits for what the peer printed (never a fixed sleep): the server says `ACCEPT`
when it listens; the client ends on its own when the server closes (close_notify then FIN) or
when the handshake fails. Exits non-zero, with both peers' output, if a step does not happen.
"""
import argparse
import os
import subprocess
import sys
import threading
import time

TIMEOUT = 15.0


class Peer:
    """A child process whose stdout and stderr are collected as they come."""

    def __init__(self, name, argv, cwd=None, env=None):
        self.name = name
        self.argv = argv
        self.out = b""
        self.lock = threading.Lock()
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, cwd=cwd, env=env)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        while True:
            chunk = self.proc.stdout.read1(65536)
            if not chunk:
                return
            with self.lock:
                self.out += chunk

    def text(self):
        with self.lock:
            return self.out.decode("utf-8", "replace")

    def wait_for(self, needle, count=1):
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            if self.text().count(needle) >= count:
                return
            if self.proc.poll() is not None and self.text().count(needle) < count:
                self.reader.join(1)
                if self.text().count(needle) >= count:
                    return
                fail(f"{self.name} exited ({self.proc.returncode}) before printing {needle!r}")
            time.sleep(0.01)
        fail(f"{self.name}: timed out waiting for {needle!r}")

    def send(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def close_stdin(self):
        try:
            self.proc.stdin.close()
        except BrokenPipeError:
            pass

    def wait_exit(self):
        try:
            code = self.proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            fail(f"{self.name} did not exit")
        self.reader.join(1)
        return code

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.reader.join(1)


PEERS = []


def fail(msg):
    for p in PEERS:
        sys.stderr.write(f"--- {p.name}: {' '.join(p.argv)}\n{p.text()}\n")
    sys.stderr.write(f"openssl_pair: {msg}\n")
    for p in PEERS:
        if p.proc.poll() is None:
            p.proc.kill()
    sys.exit(1)


def peer(name, argv, **kw):
    p = Peer(name, argv, **kw)
    PEERS.append(p)
    return p


# The body every server sends (s_server -HTTP sends the file as it is, head included).
BODY = b"hello over TLS\n"
RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
            + str(len(BODY)).encode() + b"\r\nConnection: close\r\n\r\n" + BODY)


def request(host="localhost", path="/hello.txt"):
    return (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: openssl-s_client\r\n"
            "Connection: close\r\n\r\n").encode()


class Ctx:
    def __init__(self, args):
        self.port = args.port
        self.pki = args.pki
        self.keylog = args.keylog
        self.www = os.path.join(args.pki, "www")
        os.makedirs(self.www, exist_ok=True)
        with open(os.path.join(self.www, "hello.txt"), "wb") as f:
            f.write(RESPONSE)

    def pem(self, name):
        return os.path.join(self.pki, name)

    def server(self, extra, cert="rsa", naccept=1, host="127.0.0.1", http=True):
        """s_server on host:port, ALPN http/1.1 selected when offered; with http, answers
        GET /hello.txt with RESPONSE (-HTTP)."""
        if cert == "chain":
            certs = ["-cert", self.pem("chain-leaf.pem"), "-key", self.pem("chain-leaf.key"),
                     "-cert_chain", self.pem("chain.pem")]
        else:
            certs = ["-cert", self.pem(f"{cert}.pem"), "-key", self.pem(f"{cert}.key")]
        accept = f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"
        argv = ["openssl", "s_server", "-accept", accept, *certs, "-naccept", str(naccept),
                "-alpn", "http/1.1"]
        if ":" in host:
            argv.append("-6")
        if http:
            argv.append("-HTTP")
        s = peer("s_server", argv + extra, cwd=self.www)
        s.wait_for("ACCEPT")
        return s

    def client(self, extra, host="127.0.0.1", sni="localhost", name="s_client", keylog=True):
        connect = f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"
        argv = ["openssl", "s_client", "-connect", connect]
        argv += ["-servername", sni] if sni else ["-noservername"]
        if keylog and self.keylog:
            argv += ["-keylogfile", self.keylog]
        return peer(name, argv + extra)


def web(ctx, server=(), client=(), cert="rsa", host="127.0.0.1", sni="localhost", alpn=True):
    """One HTTP/1.1 request and response inside TLS; the server closes."""
    s = ctx.server(list(server), cert=cert, host=host)
    c = ctx.client((["-alpn", "http/1.1"] if alpn else []) + ["-ign_eof", *client],
                   host=host, sni=sni)
    c.send(request())
    c.close_stdin()
    if c.wait_exit() != 0:
        fail("s_client failed")
    if BODY.decode() not in c.text():
        fail("the client did not get the response body")
    s.wait_exit()


def resume(ctx, server=(), client=()):
    """Two connections: a full handshake that saves the session, then one that resumes it."""
    sess = os.path.join(ctx.pki, "session.pem")
    if os.path.exists(sess):
        os.remove(sess)
    s = ctx.server(list(server), naccept=2)
    for i, opt in enumerate(["-sess_out", "-sess_in"]):
        c = ctx.client(["-alpn", "http/1.1", "-ign_eof", opt, sess, *client],
                       name=f"s_client{i + 1}")
        c.send(request())
        c.close_stdin()
        if c.wait_exit() != 0:
            fail(f"s_client {i + 1} failed")
        if BODY.decode() not in c.text():
            fail(f"client {i + 1} got no response")
        want = "Reused" if i == 1 else "New"
        if f"{want}, TLS" not in c.text():
            fail(f"client {i + 1}: expected a '{want}' session")
    s.wait_exit()


def alert(ctx, server=(), client=(), expect="", send=True):
    """A handshake that fails with an alert; `expect` is what the client prints about it.
    Without `send`, the client sends no request and waits for the alert with its stdin open
    (a request the server never reads would make its kernel answer with a reset that can
    overtake the alert)."""
    s = ctx.server(list(server))
    c = ctx.client(["-alpn", "http/1.1", *client])
    if send:
        c.send(request())
        c.close_stdin()
    c.wait_exit()
    if expect not in c.text():
        fail(f"the client did not report {expect!r}")
    # s_server goes on to the next accept after a failed handshake: stop it.
    s.stop()


def keyupdate(ctx):
    """Interactive s_server and s_client: three requests and answers, with a KeyUpdate sent by
    the client (`k`: update_not_requested), then one by the server asking for the client's
    (`K`: update_requested, answered by the client's own KeyUpdate)."""
    # -msg: the server prints every handshake message it sends or receives ("KeyUpdate").
    s = ctx.server(["-tls1_3", "-msg"], http=False)
    c = ctx.client(["-alpn", "http/1.1"])
    c.wait_for("Verify return code")
    answer = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\n")

    def exchange(n):
        c.send(f"GET /{n} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
        s.wait_for(f"GET /{n} HTTP/1.1")
        s.send(answer + f"reply{n}\n".encode())
        c.wait_for(f"reply{n}")

    # A command is a line alone: wait until it was acted on before the next data, or the
    # peer reads both in one buffer and takes the data for part of the command.
    exchange(1)
    c.send(b"k\n")                     # client KeyUpdate, no update asked of the server
    c.wait_for("KEYUPDATE")
    exchange(2)                         # the server read the client's KeyUpdate first
    s.wait_for("KeyUpdate", 1)
    s.send(b"K\n")                     # server KeyUpdate asking the client to update too
    s.wait_for("KeyUpdate", 2)
    exchange(3)                         # the client's KeyUpdate goes before GET /3
    s.wait_for("KeyUpdate", 3)
    c.send(b"Q\n")                     # client: close_notify and exit
    c.wait_exit()
    s.stop()


def gnutls(ctx, priority, keylog=True):
    """gnutls-serv --http and gnutls-cli: one HTTP/1.1 request; the client keys via
    SSLKEYLOGFILE."""
    s = peer("gnutls-serv", ["gnutls-serv", "--http", "-p", str(ctx.port),
                             "--x509certfile", ctx.pem("ec.pem"),
                             "--x509keyfile", ctx.pem("ec.key"),
                             "--x509certfile", ctx.pem("rsa.pem"),
                             "--x509keyfile", ctx.pem("rsa.key"), "--priority", priority])
    s.wait_for("listening")
    env = dict(os.environ)
    env.pop("SSLKEYLOGFILE", None)
    if keylog and ctx.keylog:
        env["SSLKEYLOGFILE"] = ctx.keylog
    c = peer("gnutls-cli", ["gnutls-cli", "127.0.0.1", "-p", str(ctx.port),
                            "--sni-hostname", "localhost", "--verify-hostname", "localhost",
                            "--x509cafile", ctx.pem("ca.pem"), "--alpn", "http/1.1",
                            "--priority", priority], env=env)
    c.wait_for("Handshake was completed")
    c.send(request(path="/"))
    c.wait_for("</HTML>")
    c.close_stdin()
    c.wait_exit()
    s.stop()


TLS13 = ["-tls1_3"]
TLS12 = ["-tls1_2"]

SCENARIOS = {
    # TLS 1.3, one suite each.
    "openssl13_aes128gcm": lambda c: web(c, client=TLS13 + ["-ciphersuites", "TLS_AES_128_GCM_SHA256"]),
    "openssl13_aes256gcm": lambda c: web(c, client=TLS13 + ["-ciphersuites", "TLS_AES_256_GCM_SHA384"]),
    "openssl13_chacha20": lambda c: web(c, client=TLS13 + ["-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256"]),
    # TLS 1.2 ECDHE with an RSA certificate.
    "openssl12_aes128gcm": lambda c: web(c, client=TLS12 + ["-cipher", "ECDHE-RSA-AES128-GCM-SHA256"]),
    "openssl12_aes256gcm": lambda c: web(c, client=TLS12 + ["-cipher", "ECDHE-RSA-AES256-GCM-SHA384"]),
    "openssl12_chacha20": lambda c: web(c, client=TLS12 + ["-cipher", "ECDHE-RSA-CHACHA20-POLY1305"]),
    "openssl12_aes128cbc_etm": lambda c: web(c, client=TLS12 + ["-cipher", "ECDHE-RSA-AES128-SHA"]),
    "openssl12_aes128cbc_noetm": lambda c: web(c, client=TLS12 + ["-cipher", "ECDHE-RSA-AES128-SHA", "-no_etm"]),
    "openssl12_aes256cbc_sha384": lambda c: web(c, client=TLS12 + ["-cipher", "ECDHE-RSA-AES256-SHA384"]),
    # The client's key share (X25519) is not one the server accepts (P-256 only).
    "openssl13_hrr": lambda c: web(c, server=["-groups", "P-256"], client=TLS13 + ["-groups", "X25519:P-256"]),
    "openssl13_resume": lambda c: resume(c, client=TLS13),
    "openssl12_resume_ticket": lambda c: resume(c, client=TLS12 + ["-cipher", "ECDHE-RSA-AES128-GCM-SHA256"]),
    "openssl12_resume_id": lambda c: resume(c, server=["-no_ticket"], client=TLS12 + ["-cipher", "ECDHE-RSA-AES128-GCM-SHA256"]),
    "openssl13_keyupdate": keyupdate,
    "alert_no_common_cipher": lambda c: alert(
        c, server=TLS13 + ["-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256"],
        client=TLS13 + ["-ciphersuites", "TLS_AES_128_GCM_SHA256"], expect="alert handshake failure"),
    "alert_unknown_ca": lambda c: alert(
        c, client=TLS13 + ["-verify", "4", "-verify_return_error", "-CAfile", c.pem("other-ca.pem")],
        expect="unable to get local issuer certificate"),
    "alert_unknown_ca_tls12": lambda c: alert(
        c, client=TLS12 + ["-verify", "4", "-verify_return_error", "-CAfile", c.pem("other-ca.pem")],
        expect="unable to get local issuer certificate"),
    # TLS 1.3: the server asks for a client certificate, gets none, and says so after the
    # handshake, in an alert encrypted with its application traffic keys.
    "alert_certificate_required": lambda c: alert(
        c, server=["-Verify", "1", "-CAfile", c.pem("ca.pem")], client=TLS13,
        expect="alert certificate required", send=False),
    "alert_protocol_version": lambda c: alert(
        c, server=TLS13, client=TLS12, expect="alert protocol version"),
    "openssl13_ipv6_nosni": lambda c: web(c, client=TLS13, host="::1", sni=None, alpn=False),
    "openssl12_cert_chain": lambda c: web(c, cert="chain", client=TLS12 + ["-cipher", "ECDHE-RSA-AES128-GCM-SHA256"]),
    "openssl13_cert_chain": lambda c: web(c, cert="chain", client=TLS13),
    "nokeys_tls13": lambda c: web(c, client=TLS13),
    "dsb_tls13": lambda c: web(c, client=TLS13 + ["-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256"]),
    "gnutls13": lambda c: gnutls(c, "NORMAL:-VERS-ALL:+VERS-TLS1.3"),
    "gnutls12_aes128cbc": lambda c: gnutls(
        c, "NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-CBC:-MAC-ALL:+SHA1:-KX-ALL:+ECDHE-ECDSA"),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario", choices=sorted(SCENARIOS))
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pki", required=True)
    ap.add_argument("--keylog", default="")
    args = ap.parse_args()
    try:
        SCENARIOS[args.scenario](Ctx(args))
    finally:
        for p in PEERS:
            p.stop()


if __name__ == "__main__":
    main()

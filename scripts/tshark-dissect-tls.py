#!/usr/bin/env python3
"""Wireshark's dissection of a TLS capture, decrypted with its key log, one JSON line per frame.

    scripts/tshark-dissect-tls.py assets/captures/tls/NAME.pcapng   # writes NAME.tshark.jsonl
    scripts/tshark-dissect-tls.py --check CAPTURE...                # exits 1 if a reference differs
    scripts/tshark-dissect-tls.py --verify CAPTURE...               # decryption summary, see below

The companion of scripts/tshark-dissect.py for assets/captures/tls/ (the format is documented in
assets/captures/tls/README.md). Keys: `NAME.keys` beside the capture when it exists (passed as
`-o tls.keylog_file:NAME.keys`), else whatever the pcapng carries in a Decryption Secrets Block
(tshark reads it by itself), else none. Every TCP port that a ClientHello was sent to is decoded
as HTTP inside TLS (`-d tls.port==P,http`; tshark would otherwise only follow ALPN), and every
plaintext port that carries HTTP as in tshark-dissect.py. The other settings are tshark-dissect.py's
(TCP reassembly on, HTTP body reassembly off); TLS record and handshake reassembly are on (the
defaults), so a record is reported at the frame that completes it.

Each line has the fields of tshark-dissect.py (frame, stream, sport, dport, flags, seq, ack, len,
win, analysis, http, ws), the `http` and `ws` items being those decrypted from TLS when a
connection is encrypted, and `tls`: the records the frame completes, in order:

    {"content_type":"application_data","version":"TLS 1.2","length":53,"inner":"handshake",
     "handshakes":[{"handshake_type":"finished","length":32}]}

`inner`: only for a record that was encrypted and that tshark decrypted (TLS 1.3: the inner
content type; TLS 1.2: the record's own type, after ChangeCipherSpec); an encrypted record tshark
could not decrypt has `"encrypted":true` and nothing from inside. Whether tshark decrypted a record
comes from its TLS debug log (`-o tls.debug_file`), matched record by record with the JSON tree.

`--verify` prints, per capture, the records seen, encrypted, decrypted, and what tshark flagged
(expert warnings such as "Ignored Unknown Record", malformed packets), and exits 1 when a
capture that has keys still has an encrypted record tshark could not decrypt, or when a
WebSocket 101's Sec-WebSocket-Accept is not the one its request's key asks for (tshark does not
check it).
"""
import base64
import concurrent.futures
import hashlib
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
_spec = importlib.util.spec_from_file_location(
    "tshark_dissect", os.path.join(os.path.dirname(os.path.abspath(__file__)), "tshark-dissect.py"))
base = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(base)

CONTENT_TYPES = {20: "change_cipher_spec", 21: "alert", 22: "handshake", 23: "application_data",
                 24: "heartbeat"}
VERSIONS = {0x0300: "SSL 3.0", 0x0301: "TLS 1.0", 0x0302: "TLS 1.1", 0x0303: "TLS 1.2",
            0x0304: "TLS 1.3"}
# RFC 8446 §4 and RFC 5246 §7.4 names.
HANDSHAKE_TYPES = {
    0: "hello_request", 1: "client_hello", 2: "server_hello", 4: "new_session_ticket",
    5: "end_of_early_data", 8: "encrypted_extensions", 11: "certificate",
    12: "server_key_exchange", 13: "certificate_request", 14: "server_hello_done",
    15: "certificate_verify", 16: "client_key_exchange", 20: "finished", 21: "certificate_url",
    22: "certificate_status", 24: "key_update", 254: "message_hash",
}
# RFC 8446 §6 and RFC 5246 §7.2 names.
ALERT_LEVELS = {1: "warning", 2: "fatal"}
ALERT_DESCRIPTIONS = {
    0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 21: "decryption_failed",
    22: "record_overflow", 30: "decompression_failure", 40: "handshake_failure",
    41: "no_certificate", 42: "bad_certificate", 43: "unsupported_certificate",
    44: "certificate_revoked", 45: "certificate_expired", 46: "certificate_unknown",
    47: "illegal_parameter", 48: "unknown_ca", 49: "access_denied", 50: "decode_error",
    51: "decrypt_error", 60: "export_restriction", 70: "protocol_version",
    71: "insufficient_security", 80: "internal_error", 86: "inappropriate_fallback",
    90: "user_canceled", 100: "no_renegotiation", 109: "missing_extension",
    110: "unsupported_extension", 111: "certificate_unobtainable", 112: "unrecognized_name",
    113: "bad_certificate_status_response", 114: "bad_certificate_hash_value",
    115: "unknown_psk_identity", 116: "certificate_required", 120: "no_application_protocol",
}
# The ServerHello.random of a HelloRetryRequest (RFC 8446 §4.1.3).
HRR_RANDOM = "cf:21:ad:74:e5:9a:61:11:be:1d:8c:02:1e:65:b8:91:c2:a2:11:16:7a:bb:8c:5e:07:9e:09:e2:c8:a8:33:9c"

_VALUES = {}


def value_names(field):
    """tshark's own names for a field's values (`tshark -G values`), e.g. the IANA cipher suite
    names. The TLS tables are shared with DTLS, whose copy is the one tshark lists."""
    if not _VALUES:
        for line in base.tshark(["-G", "values"]).splitlines():
            parts = line.split("\t")
            if len(parts) == 4 and parts[0] == "V" and parts[1].startswith("dtls.handshake."):
                _VALUES.setdefault(parts[1], {})[int(parts[2], 0)] = parts[3]
    return _VALUES.get(field.replace("tls.", "dtls.", 1), {})


def name_of(table, value):
    return table.get(value, value)


def version_name(v):
    n = int(v, 0)
    return VERSIONS.get(n, f"0x{n:04x}")


def suite_name(v):
    n = int(v, 0)
    return value_names("tls.handshake.ciphersuite").get(n, f"0x{n:04x}")


def group_name(v):
    n = int(v, 0)
    return value_names("tls.handshake.extensions_supported_group").get(n, f"0x{n:04x}")


def all_of(node, key):
    found = []
    base.walk(node, lambda k: k == key, found)
    out = []
    for _, v in found:
        out.extend(base.as_list(v))
    return out


def first(node, key):
    v = all_of(node, key)
    return v[0] if v else None


def extension(hs, ext_type):
    """The extension dict of type ext_type in a handshake message (keys "Extension: NAME ...")."""
    for k, v in hs.items():
        if k.startswith("Extension: ") and isinstance(v, dict):
            if v.get("tls.handshake.extension.type") == str(ext_type):
                return v
    return None


def certificates(hs):
    out = []
    trees = all_of(hs, "tls.handshake.certificate_tree")
    lengths = all_of(hs, "tls.handshake.certificate_length")
    for i, tree in enumerate(trees):
        cert = {"length": int(lengths[i])} if i < len(lengths) else {}
        subject = first(tree, "x509af.subject_tree")
        cn = None
        if subject is not None:
            for rdn in all_of(subject, "x509if.RelativeDistinguishedName_item_element"):
                if rdn.get("x509if.oid") == "2.5.4.3":
                    strings = rdn.get("x509sat.DirectoryString_tree", {})
                    cn = next(iter(strings.values()), None)
        if cn is not None:
            cert["subject_cn"] = cn
        san = all_of(tree, "x509ce.dNSName")
        if san:
            cert["san_dns"] = san
        out.append(cert)
    return out


def handshake(hs, record):
    t = int(hs["tls.handshake.type"])
    out = {"handshake_type": name_of(HANDSHAKE_TYPES, t)}
    if "tls.handshake.length" in hs:
        out["length"] = int(hs["tls.handshake.length"])
    if t == 2 and hs.get("tls.handshake.random") == HRR_RANDOM:
        out["handshake_type"] = "hello_retry_request"
    if t == 1:
        sni = first(hs, "tls.handshake.extensions_server_name")
        if sni is not None:
            out["sni"] = sni
        alpn = all_of(hs, "tls.handshake.extensions_alpn_str")
        if alpn:
            out["alpn"] = alpn
        versions = all_of(extension(hs, 43) or {}, "tls.handshake.extensions.supported_version")
        if versions:
            out["supported_versions"] = [version_name(v) for v in versions]
        out["cipher_suites"] = [suite_name(s) for s in all_of(hs, "tls.handshake.ciphersuite")]
        groups = all_of(extension(hs, 51) or {}, "tls.handshake.extensions_key_share_group")
        if groups:
            out["key_share_groups"] = [group_name(g) for g in groups]
        if extension(hs, 41) is not None:
            out["pre_shared_key"] = True
        elif extension(hs, 35) is not None and extension(hs, 35).get(
                "tls.handshake.extension.len", "0") != "0":
            out["session_ticket"] = True
    elif t == 2:
        sv = first(extension(hs, 43) or {}, "tls.handshake.extensions.supported_version")
        out["version"] = version_name(sv if sv is not None else hs["tls.handshake.version"])
        out["cipher_suite"] = suite_name(hs["tls.handshake.ciphersuite"])
        alpn = all_of(hs, "tls.handshake.extensions_alpn_str")
        if alpn:
            out["alpn"] = alpn
        group = first(extension(hs, 51) or {}, "tls.handshake.extensions_key_share_selected_group")
        if group is None:
            group = first(extension(hs, 51) or {}, "tls.handshake.extensions_key_share_group")
        if group is not None:
            out["key_share_group"] = group_name(group)
        if extension(hs, 41) is not None:
            out["pre_shared_key"] = True
        if extension(hs, 22) is not None:
            out["encrypt_then_mac"] = True
    elif t == 8:
        alpn = all_of(hs, "tls.handshake.extensions_alpn_str")
        if alpn:
            out["alpn"] = alpn
    elif t == 11:
        out["certificates"] = certificates(hs)
    elif t == 24:
        # tshark 4.0 puts this field beside the handshake message, in the record.
        req = first(hs, "tls.handshake.key_update.request_update")
        if req is None:
            req = record.get("tls.handshake.key_update.request_update")
        if req is not None:
            out["request_update"] = int(req) == 1
    return out


def debug_records(path):
    """Per frame, the records tshark's TLS dissector went through, in order, each as
    (content type, state): "plain" (no decryption was attempted: no cipher yet), "decrypted", or
    "failed" (decryption attempted and rejected)."""
    frames = {}
    cur = None
    rec = None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = re.match(r"dissect_ssl enter frame #(\d+)", line)
            if m:
                cur = frames.setdefault(int(m.group(1)), [])
                rec = None
                continue
            m = re.match(r"dissect_ssl3_record: content_type (\d+)", line)
            if m and cur is not None:
                rec = [int(m.group(1)), "plain"]
                cur.append(rec)
                continue
            if rec is None:
                continue
            if line.startswith("ssl_decrypt_record ciphertext len"):
                rec[1] = "failed"
            elif line.startswith(("auth_tag(OK)", "ssl_decrypt_record: mac ok")):
                rec[1] = "decrypted"
            elif line.startswith("ssl_decrypt_record: mac failed") or "auth_tag(wrong)" in line:
                rec[1] = "failed"
    return frames


def keylog_of(capture):
    keys = os.path.splitext(capture)[0] + ".keys"
    return keys if os.path.exists(keys) else None


def ports(path):
    """(HTTP ports, TLS ports): TCP ports whose first payload byte in either direction looks
    like an HTTP start line (as tshark-dissect.py's http_ports), and ports a segment starting
    with a ClientHello record (16 03 0x .. .. 01) was sent to."""
    out = base.tshark(["-r", path, "-Y", "tcp.len > 0", "-T", "fields", "-e", "tcp.srcport",
                       "-e", "tcp.dstport", "-e", "tcp.payload",
                       "-o", "tcp.desegment_tcp_streams:FALSE"])
    http, tls = set(), set()
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) < 3 or not parts[2]:
            continue
        head = bytes.fromhex(parts[2][:16])
        if head.startswith(b"HTTP/1."):
            http.add(int(parts[0]))
        elif head.split(b" ")[0] in (b"GET", b"POST", b"PUT", b"HEAD", b"DELETE", b"OPTIONS",
                                     b"PATCH", b"CONNECT", b"TRACE"):
            http.add(int(parts[1]))
        elif len(head) >= 6 and head[0] == 0x16 and head[1] == 3 and head[5] == 1:
            tls.add(int(parts[1]))
    return sorted(http), sorted(tls)


class Dissection:
    def __init__(self, capture):
        self.capture = capture
        self.keys = keylog_of(capture)
        args = ["-r", capture, "-o", "http.desegment_body:FALSE", "-T", "json",
                "--no-duplicate-keys", "-J", "frame tcp tls http websocket _ws.expert"]
        if self.keys:
            args += ["-o", f"tls.keylog_file:{self.keys}"]
        http, tls = ports(capture)
        for p in http:
            args += ["-d", f"tcp.port=={p},http"]
        for p in tls:
            args += ["-d", f"tls.port=={p},http"]
        with tempfile.TemporaryDirectory() as tmp:
            dbg = os.path.join(tmp, "tls-debug.txt")
            self.packets = json.loads(base.tshark(args + ["-o", f"tls.debug_file:{dbg}"]) or "[]")
            self.debug = debug_records(dbg) if os.path.exists(dbg) else {}
        self.counts = {"records": 0, "encrypted": 0, "decrypted": 0, "undecrypted": 0}
        self.expert = []
        # tcp.stream -> Sec-WebSocket-Key, and the Sec-WebSocket-Accept values that came back.
        self.ws_keys = {}
        self.ws_accepts = []
        self.lines = []
        # (stream, source port) -> the direction sent ChangeCipherSpec in TLS 1.2 (records after
        # it are encrypted).
        self.ccs = set()
        # Streams whose ServerHello (or HelloRetryRequest) chose TLS 1.3.
        self.tls13 = set()
        for p in self.packets:
            r = self.reduce(p["_source"]["layers"])
            if r is not None:
                self.lines.append(json.dumps(r, separators=(",", ":"), ensure_ascii=False))

    def reduce(self, layers):
        out = base.reduce_frame(layers)
        if out is None:
            return None
        frame = out["frame"]
        found = []
        base.walk(layers, lambda k: k == "_ws.expert", found)
        for _, e in found:
            for item in base.as_list(e):
                if isinstance(item, dict) and int(item.get("_ws.expert.severity", "0")) >= 6291456:
                    self.expert.append((frame, item.get("_ws.expert.message")))
        if "_ws.malformed" in json.dumps(layers):
            self.expert.append((frame, "malformed"))
        for h in base.as_list(layers.get("http", [])):
            for line in all_of(h, "http.request.line") + all_of(h, "http.response.line"):
                name, _, value = line.partition(":")
                if name.lower() == "sec-websocket-key":
                    self.ws_keys[out["stream"]] = value.strip()
                elif name.lower() == "sec-websocket-accept":
                    self.ws_accepts.append((out["stream"], value.strip()))
        records = []
        for layer in base.as_list(layers.get("tls", [])):
            if not isinstance(layer, dict):
                continue
            for rec in base.as_list(layer.get("tls.record", [])):
                if isinstance(rec, dict) and "tls.record.length" in rec:
                    records.append(rec)
        if not records:
            return out
        debug = self.debug.get(frame, [])
        if len(debug) != len(records):
            raise SystemExit(f"{self.capture}: frame {frame}: {len(records)} TLS records in the "
                             f"tree but {len(debug)} in tshark's TLS debug log")
        direction = (out["stream"], out["sport"])
        tls = []
        for rec, (dbg_type, state) in zip(records, debug):
            opaque = rec.get("tls.record.opaque_type")
            wire = int(opaque if opaque is not None else rec["tls.record.content_type"])
            if wire != dbg_type:
                raise SystemExit(f"{self.capture}: frame {frame}: record type {wire} in the tree, "
                                 f"{dbg_type} in the debug log")
            r = {"content_type": name_of(CONTENT_TYPES, wire),
                 "version": version_name(rec["tls.record.version"]),
                 "length": int(rec["tls.record.length"])}
            encrypted = opaque is not None or direction in self.ccs or state != "plain"
            self.counts["records"] += 1
            if encrypted:
                self.counts["encrypted"] += 1
                if state == "decrypted":
                    self.counts["decrypted"] += 1
                    inner = rec.get("tls.record.content_type") if opaque is not None else wire
                    r["inner"] = name_of(CONTENT_TYPES, int(inner))
                else:
                    self.counts["undecrypted"] += 1
                    r["encrypted"] = True
            if not encrypted or state == "decrypted":
                hss = [h for h in base.as_list(rec.get("tls.handshake", []))
                       if isinstance(h, dict) and "tls.handshake.type" in h]
                if hss:
                    r["handshakes"] = [handshake(h, rec) for h in hss]
                    if any(h.get("version") == "TLS 1.3" for h in r["handshakes"]):
                        self.tls13.add(out["stream"])
                am = rec.get("tls.alert_message")
                if isinstance(am, dict) and "tls.alert_message.level" in am:
                    r["alert"] = {
                        "level": name_of(ALERT_LEVELS, int(am["tls.alert_message.level"])),
                        "description": name_of(ALERT_DESCRIPTIONS,
                                               int(am["tls.alert_message.desc"]))}
            if wire == 20 and opaque is None and not encrypted and out["stream"] not in self.tls13:
                # TLS 1.2: what follows in this direction is encrypted (TLS 1.3's
                # compatibility ChangeCipherSpec changes nothing, its records are opaque anyway).
                self.ccs.add(direction)
            tls.append(r)
        out["tls"] = tls
        return out

    def text(self):
        return "\n".join(self.lines) + "\n"


def reference_path(capture):
    return os.path.splitext(capture)[0] + ".tshark.jsonl"


def main(argv):
    check = "--check" in argv
    verify = "--verify" in argv
    paths = [a for a in argv if a not in ("--check", "--verify")]
    if not paths:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        return 2
    bad = []
    value_names("tls.handshake.ciphersuite")      # once, before the threads
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        dissections = list(pool.map(Dissection, paths))
    for capture, d in zip(paths, dissections):
        ref = reference_path(capture)
        if verify:
            c = d.counts
            keys = "keys" if d.keys else "no keys file"
            print(f"{os.path.basename(capture)}: {keys}; {c['records']} records, "
                  f"{c['encrypted']} encrypted, {c['decrypted']} decrypted, "
                  f"{c['undecrypted']} not decrypted; tshark warnings: "
                  f"{[m for _, m in d.expert] or 'none'}")
            if d.keys and c["undecrypted"]:
                bad.append(f"{capture}: {c['undecrypted']} encrypted records not decrypted")
            # tshark does not check the accept key (RFC 6455 §4.2.2): do it here.
            for stream, accept in d.ws_accepts:
                key = d.ws_keys.get(stream, "")
                want = base64.b64encode(hashlib.sha1(
                    (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
                if accept != want:
                    bad.append(f"{capture}: tcp.stream {stream}: Sec-WebSocket-Accept {accept} "
                               f"is not the key's ({want})")
        elif check:
            try:
                with open(ref, encoding="utf-8") as f:
                    if f.read() != d.text():
                        bad.append(f"stale tshark reference: {ref} (re-run "
                                   "scripts/tshark-dissect-tls.py)")
            except FileNotFoundError:
                bad.append(f"missing tshark reference: {ref}")
        else:
            with open(ref, "w", encoding="utf-8") as f:
                f.write(d.text())
    for b in bad:
        print(b, file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

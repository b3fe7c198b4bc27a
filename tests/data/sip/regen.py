#!/usr/bin/env python3
"""Rebuild the signed SIP messages of tests/data/sip/ from the unsigned templates.

Run from the repository root after `cargo build`:
    python3 tests/data/sip/regen.py [path/to/shaken]
Signing is deterministic (RFC 6979, fixed key, iat and origid), so the output is
byte-stable; tests/cli/sip.rs checks that `signed-tel.txt` still matches. Then refresh
the golden JSON reports with `SHAKEN_UPDATE_GOLDEN=1 cargo test --test cli sip::`.
"""
import base64, json, subprocess, sys

D = "tests/data/sip"
BIN = sys.argv[1] if len(sys.argv) > 1 else "target/debug/shaken"
X5U = "https://cert.example.org/sp-chain.pem"
IAT = "1471375418"
ORIGID = "8f1c6a52-3b4e-4d7a-9c2e-5a1b0d3e7f60"


def sign(template):
    return subprocess.run(
        [BIN, "sign", "--sip", f"{D}/{template}", "--key", f"{D}/pki/sp.key.pem",
         "--x5u", X5U, "--attest", "A", "--iat", IAT, "--origid", ORIGID, "--deterministic"],
        check=True, capture_output=True).stdout


def identity_line(msg):
    for line in msg.split(b"\r\n"):
        if line.lower().startswith(b"identity:"):
            return line
    raise SystemExit("no Identity header")


def b64(obj):
    raw = json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=")


def write(name, data):
    with open(f"{D}/{name}", "wb") as f:
        f.write(data)


tel = sign("invite-tel.txt")
write("signed-tel.txt", tel)
good = identity_line(tel)
value = good.split(b":", 1)[1].strip()
token, params = value.split(b";", 1)
h, p, s = token.split(b".")

# A second shaken PASSporT whose signature was altered (one character).
bad_sig = s[:5] + (b"B" if s[5:6] == b"A" else b"A") + s[6:]
tampered = b"Identity: " + h + b"." + p + b"." + bad_sig + b";" + params
write("signed-two-shaken.txt", tel.replace(good + b"\r\n", good + b"\r\n" + tampered + b"\r\n"))

# A div PASSporT (RFC 8946) whose header was rewritten after signing: bad signature.
div_h = b64({"alg": "ES256", "ppt": "div", "typ": "passport", "x5u": X5U})
div = b"Identity: " + div_h + b"." + p + b"." + s + b";info=<" + X5U.encode() + b">;alg=ES256;ppt=div"
write("signed-div.txt", tel.replace(good + b"\r\n", good + b"\r\n" + div + b"\r\n"))

# The Date moved two minutes after signing: 403.
write("signed-date-off.txt",
      tel.replace(b"Date: Tue, 16 Aug 2016 19:23:38 GMT", b"Date: Tue, 16 Aug 2016 19:25:38 GMT"))

# Compact names throughout, Identity as `y:` folded over two lines.
compact = sign("invite-compact.txt")
cgood = identity_line(compact)
cval = cgood.split(b":", 1)[1].strip()
ctok, cparams = cval.split(b";", 1)
write("signed-compact-y.txt", compact.replace(cgood, b"y: " + ctok + b"\r\n   ;" + cparams))

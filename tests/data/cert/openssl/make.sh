#!/bin/sh
# Regenerates the openssl-made SHAKEN test certificates used by tests/cli/cert.rs.
# Run once from this directory; the outputs are committed (CI machines may
# lack openssl). Validity is 100 years from the day it was run; the tests pin
# --now to 2030-01-01 (1893456000). Needs OpenSSL 1.1.1 or 3.x.
#
#   root.pem / ca.pem          STI root ("SHAKEN OpenSSL ROOT") and STI-CA
#   good.pem (+ .key.pem)      leaf CN=SHAKEN 7E57 with TNAuthList SPC 7E57
#   expired.pem                same profile, valid only in January 2020
#   no-tnal.pem                no TNAuthList extension
#   bad-ku.pem                 keyUsage keyAgreement instead of digitalSignature
#   revoked.pem                revoked in crl.pem
#   untrusted.pem              leaf issued by other-root.pem (not a trust anchor)
#   crl.pem                    CRL by the STI-CA (openssl ca -gencrl), revoking revoked.pem
#   *-chain.pem                leaf + STI-CA, as an STI-CR serves it
set -eu
cd "$(dirname "$0")"
rm -rf work && mkdir -p work/new
: > work/index.txt
echo 4a5b6c7d8e9fa0b1c2d3e4f5a6b7c8d9 > work/serial
echo 1000 > work/crlnumber
CNF=openssl.cnf
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }

key root.key.pem
openssl req -config $CNF -new -x509 -key root.key.pem -days 36500 -sha256 \
  -subj "/C=US/O=Shaken OpenSSL Lab/CN=SHAKEN OpenSSL ROOT" -extensions v3_root \
  -set_serial 0x1a2b3c4d5e6f70819293a4b5c6d7e8f9 -out root.pem

key ca.key.pem
openssl req -config $CNF -new -key ca.key.pem -subj "/C=US/O=Shaken OpenSSL Lab/CN=SHAKEN OpenSSL STI-CA" -out work/ca.csr
openssl x509 -req -in work/ca.csr -CA root.pem -CAkey root.key.pem -days 36500 -sha256 \
  -set_serial 0x2b3c4d5e6f708192a3b4c5d6e7f8091a -extfile $CNF -extensions v3_ca -out ca.pem

leaf() { # name extensions [extra openssl ca args]
  name=$1; ext=$2; shift 2
  key "$name.key.pem"
  openssl req -config $CNF -new -key "$name.key.pem" -subj "/C=US/O=Shaken OpenSSL Lab/CN=SHAKEN 7E57" -out "work/$name.csr"
  openssl ca -config $CNF -batch -notext -extensions "$ext" -in "work/$name.csr" -out "$name.pem" "$@"
  cat "$name.pem" ca.pem > "$name-chain.pem"
}
leaf good v3_leaf
leaf expired v3_leaf -startdate 20200101000000Z -enddate 20200201000000Z
leaf no-tnal v3_leaf_no_tnal
leaf bad-ku v3_leaf_bad_ku
leaf revoked v3_leaf
openssl ca -config $CNF -revoke revoked.pem -crl_reason keyCompromise
openssl ca -config $CNF -gencrl -crldays 36500 -out crl.pem

# Another root and a leaf it signs directly: not chained to root.pem.
key other-root.key.pem
openssl req -config $CNF -new -x509 -key other-root.key.pem -days 36500 -sha256 \
  -subj "/C=US/O=Elsewhere/CN=SHAKEN Other ROOT" -extensions v3_root \
  -set_serial 0x3c4d5e6f708192a3b4c5d6e7f8091a2b -out other-root.pem
key untrusted.key.pem
openssl req -config $CNF -new -key untrusted.key.pem -subj "/C=US/O=Elsewhere/CN=SHAKEN 7E57" -out work/untrusted.csr
openssl x509 -req -in work/untrusted.csr -CA other-root.pem -CAkey other-root.key.pem -days 36500 -sha256 \
  -set_serial 0x4d5e6f708192a3b4c5d6e7f8091a2b3c -extfile $CNF -extensions v3_leaf -out untrusted.pem
cp untrusted.pem untrusted-chain.pem

rm -rf work other-root.key.pem root.key.pem ca.key.pem
echo "done: $(ls *.pem | wc -l) files"

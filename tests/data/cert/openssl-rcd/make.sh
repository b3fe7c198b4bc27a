#!/bin/sh
# Regenerates the openssl-made certificates with JWT claim constraints on
# Rich Call Data (issue 16), used by tests/cli/rcd.rs. Run once from this
# directory; the outputs are committed (CI machines may lack openssl).
# Validity is 100 years from the day it was run (2026-12-01); the tests pin
# --now to 1800000000 (2027-01-15). Needs OpenSSL 1.1.1 or 3.x.
#
#   root.pem / ca.pem              STI root and STI-CA ("SHAKEN RCD Lab")
#   rcd-name.pem (+ .key.pem)      leaf: mustInclude rcd, rcd must be {"nam":"Acme Bank"},
#                                  crn must be "Card fraud alert"
#   no-rcd.pem (+ .key.pem)        leaf: mustExclude rcd, crn
#   *-chain.pem                    leaf + STI-CA
set -eu
cd "$(dirname "$0")"
CNF=openssl.cnf
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
key root.key.pem
openssl req -config $CNF -new -x509 -key root.key.pem -days 36500 -sha256 \
  -subj "/C=US/O=Shaken RCD Lab/CN=SHAKEN RCD ROOT" -extensions v3_root -out root.pem
key ca.key.pem
openssl req -config $CNF -new -key ca.key.pem -subj "/C=US/O=Shaken RCD Lab/CN=SHAKEN RCD STI-CA" -out ca.csr
openssl x509 -req -in ca.csr -CA root.pem -CAkey root.key.pem -days 36500 -sha256 \
  -set_serial 0x5e6f708192a3b4c5d6e7f8091a2b3c4d -extfile $CNF -extensions v3_ca -out ca.pem
n=1
for name in rcd-name no-rcd; do
  ext=v3_leaf_$(echo $name | tr - _)
  key "$name.key.pem"
  openssl req -config $CNF -new -key "$name.key.pem" -subj "/C=US/O=Shaken RCD Lab/CN=SHAKEN 7E57" -out "$name.csr"
  openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key.pem -days 36500 -sha256 \
    -set_serial "0x6f708192a3b4c5d6e7f8091a2b3c4d5$n" -extfile $CNF -extensions "$ext" -out "$name.pem"
  cat "$name.pem" ca.pem > "$name-chain.pem"
  n=$((n + 1))
done
rm -f ./*.csr root.key.pem ca.key.pem
echo "done: $(ls ./*.pem | wc -l) files"

#!/bin/sh
# Keys shaken must refuse with an error naming what it found (issue 22 item 4).
# Made once with the openssl CLI (rcgen's ring backend cannot generate RSA);
# rerun from this directory to regenerate. Only p256.sec1-with-params.pem is a usable
# (P-256) key; it is certified by nothing.
set -eu
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.pkcs8.pem
openssl pkey -in rsa.pkcs8.pem -traditional -out rsa.pkcs1.pem   # BEGIN RSA PRIVATE KEY
openssl genpkey -algorithm ED25519 -out ed25519.pem
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out p384.pkcs8.pem
openssl ecparam -name secp384r1 -genkey -noout -out p384.sec1.pem   # BEGIN EC PRIVATE KEY
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-521 -out p521.pkcs8.pem
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out p256.pkcs8.pem
openssl pkcs8 -topk8 -in p256.pkcs8.pem -passout pass:shaken -v2 aes-256-cbc -out p256.encrypted.pem
openssl pkey -in p256.pkcs8.pem -pubout -out p256.public.pem   # BEGIN PUBLIC KEY
rm p256.pkcs8.pem
# The one good key: P-256 in SEC1 after an EC PARAMETERS block, as ecparam writes it.
openssl ecparam -name prime256v1 -genkey -out p256.sec1-with-params.pem
# Certificates with OIDs cert inspect/lint must name (issue 22 item 6).
openssl req -x509 -key rsa.pkcs8.pem -subj "/C=US/O=Lab/CN=SHAKEN RSA" -days 36500 \
  -set_serial 0x1122334455667788 -addext "extendedKeyUsage=serverAuth" -out rsa.cert.pem
openssl req -x509 -key p384.pkcs8.pem -subj "/C=US/O=Lab/CN=SHAKEN P384 ROOT" -days 36500 \
  -set_serial 0x1122334455667789 -out p384.cert.pem

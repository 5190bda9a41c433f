#!/usr/bin/env bash
# Makes a private CA and one node certificate for TLS ([tls] in the TOML):
#   scripts/make-certs.sh DIR [SAN ...]
# SANs default to "IP:127.0.0.1 DNS:localhost"; give every address peers
# and clients dial, e.g. IP:10.77.0.1 IP:10.77.0.2 DNS:chat.example.org.
# Writes DIR/ca.pem, DIR/ca.key (keep it offline), DIR/node.pem, DIR/node.key.
# One certificate may serve every node when it lists all their addresses;
# for per-node certificates run it again with the same DIR: an existing
# ca.pem/ca.key is reused and NAME=n2 writes n2.pem/n2.key.
set -euo pipefail
DIR=${1:?usage: scripts/make-certs.sh DIR [SAN ...]}
shift
NAME=${NAME:-node}
DAYS=${DAYS:-825}
sans=("$@")
[[ ${#sans[@]} -gt 0 ]] || sans=(IP:127.0.0.1 DNS:localhost)
san=$(IFS=,; echo "${sans[*]}")
mkdir -p "$DIR"
command -v openssl >/dev/null || apt-get install -y -q openssl >/dev/null
if [[ ! -f $DIR/ca.pem ]]; then
  openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days "$DAYS" -subj "/CN=Quorum Chat CA" \
    -keyout "$DIR/ca.key" -out "$DIR/ca.pem" 2>/dev/null
fi
openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=$NAME" -keyout "$DIR/$NAME.key" -out "$DIR/$NAME.csr" 2>/dev/null
openssl x509 -req -in "$DIR/$NAME.csr" -CA "$DIR/ca.pem" -CAkey "$DIR/ca.key" -CAcreateserial -days "$DAYS" -sha256 \
  -extfile <(printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$san") \
  -out "$DIR/$NAME.pem" 2>/dev/null
rm -f "$DIR/$NAME.csr" "$DIR/ca.srl"
chmod 600 "$DIR"/*.key
echo "wrote $DIR/ca.pem and $DIR/$NAME.pem ($san); private keys $DIR/ca.key, $DIR/$NAME.key"

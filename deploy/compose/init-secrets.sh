#!/bin/sh
# compose.yaml's first step (service "init"): the secrets of a new installation, each in the
# volume of those who read it, owned by the user who reads it (uid 10001), mode 0400.
#
#   /pki            nats-pki           the CA's key (only this script ever reads it)
#   /nats-tls       nats-tls           tls.crt, tls.key, ca.crt, users.env: the NATS nodes
#   /nats-ca        nats-ca            ca.crt: every role (checks the servers' certificates)
#   /secrets/ROLE   secrets-ROLE       nats-password (+ cookie-secret for the frontend)
#   /nats-data/N    nats-N-data        JetStream store of node N (made writable for uid 10001)
#
# Idempotent: what exists is kept, so every `compose up` may run it. To rotate everything, stop
# the stack and remove the nats-pki, nats-tls, nats-ca and secrets-* volumes, then `up` again.
# Runs as root in the culto image (openssl comes with the base image's ca-certificates).
set -eu
umask 077

APP_UID=10001
ROLES="frontend api worker provision tail admin"
# The NATS servers' names (the routes' and the clients' URLs): nats.conf's cluster routes use
# nats-N.nats-headless, as on Kubernetes. Each is named: OpenSSL (the Python clients) matches no
# wildcard over a single-label parent such as "*.nats-headless".
SANS="DNS:nats,DNS:nats-0.nats-headless,DNS:nats-1.nats-headless,DNS:nats-2.nats-headless"
SANS="$SANS,DNS:*.nats-headless,DNS:localhost,IP:127.0.0.1"
DAYS=3650

say() { echo "init-secrets: $*"; }

random_hex() { openssl rand -hex 32; }

keep() {  # owner-only, readable by the app's user
    chown "$APP_UID:$APP_UID" "$@"
    chmod 0400 "$@"
}

make_pki() {
    if [ -s /pki/ca.key ] && [ -s /nats-tls/tls.crt ] && [ -s /nats-tls/tls.key ]; then
        return
    fi
    say "creating the NATS certificate authority and the servers' certificate"
    work=$(mktemp -d)
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days "$DAYS" \
        -subj "/CN=culto-nats-ca" -keyout /pki/ca.key -out /pki/ca.crt 2>/dev/null
    printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$SANS" > "$work/ext"
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=nats" \
        -keyout "$work/tls.key" -out "$work/tls.csr" 2>/dev/null
    openssl x509 -req -in "$work/tls.csr" -CA /pki/ca.crt -CAkey /pki/ca.key \
        -CAcreateserial -days "$DAYS" -extfile "$work/ext" -out "$work/tls.crt" 2>/dev/null
    cp "$work/tls.key" "$work/tls.crt" /nats-tls/
    rm -rf "$work" /pki/ca.srl
}

make_passwords() {
    for role in $ROLES; do
        dir=/secrets/$role
        [ -d "$dir" ] || continue  # tail has no volume: no compose service connects as it
        [ -s "$dir/nats-password" ] || random_hex > "$dir/nats-password"
    done
    [ -s /secrets/frontend/cookie-secret ] || random_hex > /secrets/frontend/cookie-secret
    # nats-server reads each user's password from its environment (nats.conf: $<ROLE>_PASSWORD).
    : > /nats-tls/users.env.new
    for role in $ROLES; do
        file=/secrets/$role/nats-password
        if [ ! -s "$file" ]; then
            file=/nats-tls/$role.password
            [ -s "$file" ] || random_hex > "$file"
        fi
        upper=$(echo "$role" | tr 'a-z' 'A-Z')
        echo "${upper}_PASSWORD=$(cat "$file")" >> /nats-tls/users.env.new
    done
    mv /nats-tls/users.env.new /nats-tls/users.env
}

make_pki
make_passwords
cp /pki/ca.crt /nats-tls/ca.crt
cp /pki/ca.crt /nats-ca/ca.crt
keep /nats-tls/* /nats-ca/ca.crt
chmod 0444 /nats-ca/ca.crt
for role in $ROLES; do
    if [ -d "/secrets/$role" ]; then keep "/secrets/$role"/*; fi
done
for store in /nats-data/*; do
    chown "$APP_UID:$APP_UID" "$store"
done
say "secrets ready (kept where they existed)"

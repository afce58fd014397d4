#!/usr/bin/env bash
# A local OpenID Connect provider for sign-in tests and development: Keycloak (its Quarkus
# distribution from Maven Central) in development mode with an in-memory database, and the realm
# deploy/local/keycloak/realm-ilrflow.json imported through the admin REST API on every start.
#
#   keycloak.sh install   fetch and unpack the distribution (cached in .stack/cache)
#   keycloak.sh up        install if needed, start, import the realm, wait until the issuer answers
#   keycloak.sh down      stop it and wait for it to exit
#   keycloak.sh status    say whether it runs
#   keycloak.sh issuer    print the realm's issuer URL
#
# Settings (environment): ILRFLOW_STACK_DIR (state: pid, log; default .stack/run),
# ILRFLOW_KEYCLOAK_PORT (default: the Kafka port + 88, so each test stack has its own: 9180),
# ILRFLOW_KEYCLOAK_JAVA_HOME (default: the first JDK 21 or newer under /usr/lib/jvm),
# ILRFLOW_STACK_DEADLINE_S (180 here) bounds the start.
# Development mode only: plain HTTP on 127.0.0.1 and a fixed administrator (admin/admin-password).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$ROOT/deploy/local"
CACHE="$ROOT/.stack/cache"
STATE="${ILRFLOW_STACK_DIR:-$ROOT/.stack/run}"
KEYCLOAK_VERSION=26.5.6
KEYCLOAK_HOME="$CACHE/keycloak-$KEYCLOAK_VERSION"
PORT="${ILRFLOW_KEYCLOAK_PORT:-$(( ${ILRFLOW_KAFKA_PORT:-9092} + 88 ))}"
BASE_URL="http://127.0.0.1:$PORT"
REALM=ilrflow
ADMIN_USER=admin
ADMIN_PASSWORD=admin-password
DEADLINE_S="${ILRFLOW_STACK_DEADLINE_S:-180}"
PIDFILE="$STATE/keycloak.pid"
LOGFILE="$STATE/keycloak.log"

log() { printf '[keycloak] %s\n' "$*" >&2; }

install() {
  if [ -f "$KEYCLOAK_HOME/.complete" ]; then return; fi
  command -v mvn >/dev/null || { log "Maven is missing: apt-get install -y maven"; exit 1; }
  command -v unzip >/dev/null || { log "unzip is missing: apt-get install -y unzip"; exit 1; }
  log "fetching Keycloak $KEYCLOAK_VERSION with Maven (first run only)"
  local download="$CACHE/keycloak-download"
  mvn -B -q org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy \
    "-Dartifact=org.keycloak:keycloak-quarkus-dist:$KEYCLOAK_VERSION:zip" -DoutputDirectory="$download"
  rm -rf "$KEYCLOAK_HOME"
  (cd "$CACHE" && unzip -q "$download/keycloak-quarkus-dist-$KEYCLOAK_VERSION.zip")
  rm -rf "$download"
  touch "$KEYCLOAK_HOME/.complete"
}

# Keycloak 26 needs Java 21 or newer; the Kafka broker runs on the machine's default Java 17.
java_home() {
  if [ -n "${ILRFLOW_KEYCLOAK_JAVA_HOME:-}" ]; then echo "$ILRFLOW_KEYCLOAK_JAVA_HOME"; return; fi
  local candidate major
  for candidate in /usr/lib/jvm/*/; do
    [ -x "$candidate/bin/java" ] || continue
    major=$("$candidate/bin/java" -XshowSettings:properties -version 2>&1 \
      | sed -n 's/^ *java.specification.version = \([0-9]*\).*/\1/p')
    if [ "${major:-0}" -ge 21 ]; then echo "${candidate%/}"; return; fi
  done
  log "no Java 21 or newer under /usr/lib/jvm: install one or set ILRFLOW_KEYCLOAK_JAVA_HOME"
  exit 1
}

pid_alive() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

answers() { curl -fsS -o /dev/null "$1"; }

wait_until() { # wait_until DESCRIPTION COMMAND...
  local what=$1; shift
  local deadline=$((SECONDS + DEADLINE_S))
  until "$@" >/dev/null 2>&1; do
    if ! pid_alive; then log "keycloak exited during start-up; its log:"; tail -n 40 "$LOGFILE" >&2; exit 1; fi
    if [ $SECONDS -ge $deadline ]; then log "$what not ready after ${DEADLINE_S}s; its log:"; tail -n 40 "$LOGFILE" >&2; exit 1; fi
    sleep 0.5
  done
}

admin_token() {
  curl -fsS "$BASE_URL/realms/master/protocol/openid-connect/token" \
    -d grant_type=password -d client_id=admin-cli \
    --data-urlencode "username=$ADMIN_USER" --data-urlencode "password=$ADMIN_PASSWORD" \
    | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p'
}

import_realm() {
  local token
  token=$(admin_token)
  curl -fsS -X POST "$BASE_URL/admin/realms" -H "authorization: Bearer $token" \
    -H 'content-type: application/json' --data-binary "@$HERE/keycloak/realm-ilrflow.json"
}

up() {
  install
  command -v curl >/dev/null || { log "curl is missing: apt-get install -y curl"; exit 1; }
  if pid_alive; then log "keycloak already running (pid $(cat "$PIDFILE"))"; return; fi
  mkdir -p "$STATE"
  log "starting keycloak on $BASE_URL"
  local started=$SECONDS
  # In-memory database: every start is a fresh realm from the committed file. (Keycloak still
  # writes its build and transaction logs under the distribution in .stack/cache, so two stacks
  # should not run it at once.) A small heap and the C1 compiler only: it serves a few tests.
  JAVA_HOME=$(java_home) \
  JAVA_OPTS_KC_HEAP="-Xms64m -Xmx384m" \
  JAVA_OPTS_APPEND="-XX:TieredStopAtLevel=1" \
  KC_BOOTSTRAP_ADMIN_USERNAME=$ADMIN_USER KC_BOOTSTRAP_ADMIN_PASSWORD=$ADMIN_PASSWORD \
    nohup "$KEYCLOAK_HOME/bin/kc.sh" start-dev --db=dev-mem --http-host=127.0.0.1 \
      --http-port="$PORT" --log-level=warn,org.keycloak.quarkus.runtime.KeycloakMain:info \
      >>"$LOGFILE" 2>&1 &
  echo $! > "$PIDFILE"
  wait_until keycloak answers "$BASE_URL/realms/master/.well-known/openid-configuration"
  import_realm
  wait_until "realm $REALM" answers "$BASE_URL/realms/$REALM/.well-known/openid-configuration"
  log "ready in $((SECONDS - started))s: issuer $BASE_URL/realms/$REALM (pid $(cat "$PIDFILE"))"
}

down() {
  pid_alive || { rm -f "$PIDFILE"; return; }
  local pid; pid=$(cat "$PIDFILE")
  log "stopping keycloak (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 60))
  while kill -0 "$pid" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then log "keycloak ignored SIGTERM; killing"; kill -KILL "$pid" 2>/dev/null || true; fi
    sleep 0.2
  done
  rm -f "$PIDFILE"
}

case "${1:-}" in
  install) install ;;
  up) up ;;
  down) down ;;
  status) if pid_alive; then echo "keycloak: running (pid $(cat "$PIDFILE")) at $BASE_URL"; else echo "keycloak: stopped"; fi ;;
  issuer) echo "$BASE_URL/realms/$REALM" ;;
  *) echo "usage: $0 {install|up|down|status|issuer}" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Local infrastructure for ilrflow: a single-node Apache Kafka (KRaft) from the Maven Central jars
# and FerretDB (MongoDB wire protocol) built from its Go module, on SQLite or on a PostgreSQL
# cluster of its own (Debian's postgresql package) under the state directory.
#
#   stack.sh install   resolve the Kafka classpath, build FerretDB and kustomize (cached in .stack/cache)
#   stack.sh up        install if needed, start them, wait until they answer
#   stack.sh down      stop them (and Keycloak, if deploy/local/keycloak.sh started it) and wait
#   stack.sh restart-kafka  SIGKILL the broker (its data stays), start it again, wait until it answers
#   stack.sh status    say what runs
#   stack.sh backend   print FerretDB's storage backend (ILRFLOW_FERRETDB_BACKEND or the default)
#
# Settings (environment): ILRFLOW_STACK_DIR (state: data, logs, pids; default .stack/run),
# ILRFLOW_KAFKA_PORT (9092), ILRFLOW_KAFKA_CONTROLLER_PORT (9093), ILRFLOW_MONGO_PORT (27017),
# ILRFLOW_FERRETDB_BACKEND (sqlite, the default, or postgresql: FerretDB's storage, docs/operations.md),
# ILRFLOW_STACK_FRESH=1 wipes the state directory before `up`; ILRFLOW_STACK_DEADLINE_S (120) and
# ILRFLOW_STACK_RESTART_DEADLINE_S (600) bound a start and a restart after SIGKILL.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$ROOT/deploy/local"
CACHE="$ROOT/.stack/cache"
STATE="${ILRFLOW_STACK_DIR:-$ROOT/.stack/run}"
KAFKA_PORT="${ILRFLOW_KAFKA_PORT:-9092}"
CONTROLLER_PORT="${ILRFLOW_KAFKA_CONTROLLER_PORT:-9093}"
MONGO_PORT="${ILRFLOW_MONGO_PORT:-27017}"
KAFKA_LIBS="$CACHE/kafka-libs"
FERRETDB_BIN="$CACHE/bin/ferretdb"
FERRETDB_BACKEND="${ILRFLOW_FERRETDB_BACKEND:-sqlite}"
# FerretDB's Go garbage collector: a collection when the heap has grown 400 % (Go's default is
# 100 %), within a soft limit of 1 GiB. GC was 14-19 % of FerretDB's CPU, the pipeline's
# bottleneck; at 400 the same writes cost ~23 % less CPU for ~60 MB more memory
# (docs/benchmark.md, "FerretDB's garbage collector").
FERRETDB_GOGC="${ILRFLOW_FERRETDB_GOGC:-400}"
FERRETDB_GOMEMLIMIT="${ILRFLOW_FERRETDB_GOMEMLIMIT:-1GiB}"
# host:port for FerretDB's Go profiler (/debug/pprof/), off when empty; make bench sets it.
FERRETDB_PPROF_ADDR="${ILRFLOW_FERRETDB_PPROF_ADDR:-}"
# PostgreSQL listens on a unix socket in its directory only (no TCP port to collide with another
# stack's); the port number merely names the socket file.
POSTGRES_DIR="$STATE/postgres"  # the cluster's data (data/) and its socket
POSTGRES_PORT=5432
# kustomize renders the Kubernetes overlays in the contract tests (no kubectl needed).
KUSTOMIZE_VERSION=v5.8.1
KUSTOMIZE_BIN="$CACHE/bin/kustomize-$KUSTOMIZE_VERSION"
STARTUP_DEADLINE_S="${ILRFLOW_STACK_DEADLINE_S:-120}"
# After a SIGKILL the broker recovers every log segment before it answers: on a busy two-core
# machine that took more than two minutes (the fault run's broker restart failed on the 120 s).
RESTART_DEADLINE_S="${ILRFLOW_STACK_RESTART_DEADLINE_S:-600}"

log() { printf '[stack] %s\n' "$*" >&2; }

install_kafka() {
  if [ -f "$KAFKA_LIBS/.complete" ]; then return; fi
  command -v mvn >/dev/null || { log "Maven is missing: apt-get install -y maven"; exit 1; }
  log "resolving the Kafka broker classpath with Maven (first run only)"
  rm -rf "$KAFKA_LIBS"
  mvn -B -q -f "$HERE/kafka/pom.xml" \
    org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$KAFKA_LIBS"
  touch "$KAFKA_LIBS/.complete"
}

install_ferretdb() {
  # Rebuilt when the wrapper or its patches are newer than the binary.
  if [ -x "$FERRETDB_BIN" ] && [ -z "$(find "$HERE/ferretdb" -newer "$FERRETDB_BIN" -type f)" ]; then return; fi
  command -v go >/dev/null || { log "Go is missing: install Go 1.24 or newer"; exit 1; }
  log "building FerretDB v1.24.2 from its Go module, with deploy/local/ferretdb/patches"
  mkdir -p "$(dirname "$FERRETDB_BIN")"
  # The module source is copied out of Go's read-only module cache, patched, and used through a
  # replace directive in a build-only copy of go.mod (the committed go.mod stays upstream's).
  local src="$CACHE/ferretdb-src" build="$CACHE/ferretdb-build"
  (cd "$HERE/ferretdb" && go mod download github.com/FerretDB/FerretDB)
  rm -rf "$src" "$build"; mkdir -p "$build"
  cp -R "$(cd "$HERE/ferretdb" && go list -m -f '{{.Dir}}' github.com/FerretDB/FerretDB)" "$src"
  chmod -R u+w "$src"
  # git apply, not patch(1), which a fresh machine may lack; the ceiling keeps git from taking
  # the copy for part of this repository.
  # The names of the patches applied are built into the binary, which reports them (buildInfo's
  # buildEnvironment.ilrflowPatches): the services check them (ilrflow.platform.ferretdb).
  local applied=()
  for p in "$HERE"/ferretdb/patches/*.patch; do
    (cd "$src" && GIT_CEILING_DIRECTORIES="$(dirname "$src")" git apply -p1 "$p")
    applied+=("$(basename "$p" .patch)")
  done
  local names; names="$(IFS=,; echo "${applied[*]}")"
  cp "$HERE/ferretdb/go.mod" "$build/go.mod"; cp "$HERE/ferretdb/go.sum" "$build/go.sum"
  (cd "$HERE/ferretdb" && go mod edit -modfile="$build/go.mod" -replace="github.com/FerretDB/FerretDB=$src" \
    && go build -modfile="$build/go.mod" -trimpath -ldflags "-X main.patches=$names" -o "$FERRETDB_BIN.tmp" . \
    && mv "$FERRETDB_BIN.tmp" "$FERRETDB_BIN")
  log "FerretDB built with the patches $names"
}

install_kustomize() {
  if [ -x "$KUSTOMIZE_BIN" ]; then return; fi
  command -v go >/dev/null || { log "Go is missing: install Go 1.24 or newer"; exit 1; }
  log "building kustomize $KUSTOMIZE_VERSION from its Go module (first run only)"
  mkdir -p "$CACHE/gobin"
  GOBIN="$CACHE/gobin" go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
  mv "$CACHE/gobin/kustomize" "$KUSTOMIZE_BIN"
}

# Debian keeps the server programs out of PATH, under /usr/lib/postgresql/<major>/bin; elsewhere
# they are where initdb is.
postgres_bin() {
  local dir; dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$dir" ] && command -v initdb >/dev/null; then dir=$(dirname "$(readlink -f "$(command -v initdb)")"); fi
  [ -n "$dir" ] || { log "PostgreSQL is missing: apt-get install -y postgresql (or make install)"; exit 1; }
  echo "$dir"
}

check_backend() {
  case "$FERRETDB_BACKEND" in
    sqlite|postgresql) ;;
    *) log "ILRFLOW_FERRETDB_BACKEND=$FERRETDB_BACKEND: sqlite or postgresql"; exit 2 ;;
  esac
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

wait_for() { # wait_for DESCRIPTION PIDFILE LOGFILE COMMAND...
  local what=$1 pidfile=$2 logfile=$3; shift 3
  local deadline=$((SECONDS + STARTUP_DEADLINE_S))
  until "$@" >/dev/null 2>&1; do
    if ! pid_alive "$pidfile"; then log "$what exited during start-up; its log:"; tail -n 40 "$logfile" >&2; exit 1; fi
    if [ $SECONDS -ge $deadline ]; then log "$what not ready after ${STARTUP_DEADLINE_S}s; its log:"; tail -n 40 "$logfile" >&2; exit 1; fi
    sleep 0.2
  done
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The log is appended to across starts: only a "started" line after line $2 counts for this start.
started_since() { tail -n +"$2" "$1" 2>/dev/null | grep -q "Kafka Server started"; }

start_kafka() {
  local dir="$STATE/kafka" pidfile="$STATE/kafka.pid" logfile="$STATE/kafka.log"
  if pid_alive "$pidfile"; then log "kafka already running (pid $(cat "$pidfile"))"; return; fi
  mkdir -p "$dir/data"
  sed -e "s#@KAFKA_PORT@#$KAFKA_PORT#g" -e "s#@CONTROLLER_PORT@#$CONTROLLER_PORT#g" \
      -e "s#@DATA_DIR@#$dir/data#g" "$HERE/kafka/server.properties.in" > "$dir/server.properties"
  local jopts=(-Xms256m -Xmx768m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true
               "-Dlog4j2.configurationFile=$HERE/kafka/log4j2.properties" "-Dkafka.logs.dir=$dir/logs")
  if [ ! -f "$dir/data/meta.properties" ]; then
    local cluster_id
    cluster_id=$(java "${jopts[@]}" -cp "$KAFKA_LIBS/*" kafka.tools.StorageTool random-uuid)
    java "${jopts[@]}" -cp "$KAFKA_LIBS/*" kafka.tools.StorageTool format -t "$cluster_id" \
      -c "$dir/server.properties" >>"$logfile" 2>&1
  fi
  log "starting kafka on 127.0.0.1:$KAFKA_PORT"
  local first_line=$(( $(wc -l < "$logfile" 2>/dev/null || echo 0) + 1 ))
  nohup java "${jopts[@]}" -cp "$KAFKA_LIBS/*" kafka.Kafka "$dir/server.properties" >>"$logfile" 2>&1 &
  echo $! > "$pidfile"
  wait_for kafka "$pidfile" "$logfile" started_since "$logfile" "$first_line"
  wait_for kafka "$pidfile" "$logfile" port_open "$KAFKA_PORT"
}

# PostgreSQL refuses to run as root: as root, the cluster belongs to Debian's postgres user.
# setpriv execs (no child process), so $! below is the server's own pid.
AS_POSTGRES=()
if [ "$(id -u)" = 0 ]; then AS_POSTGRES=(setpriv --reuid=postgres --regid=postgres --init-groups); fi

postgres_ready() { "$1/pg_isready" -q -h "$POSTGRES_DIR" -p "$POSTGRES_PORT" -U ferretdb -d postgres; }

start_postgres() {
  local pidfile="$STATE/postgres.pid" logfile="$STATE/postgres.log" bin; bin=$(postgres_bin)
  if pid_alive "$pidfile"; then log "postgres already running (pid $(cat "$pidfile"))"; return; fi
  mkdir -p "$POSTGRES_DIR"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$POSTGRES_DIR"; fi
  if [ ! -f "$POSTGRES_DIR/data/PG_VERSION" ]; then
    # Trust: a development cluster reachable through its socket only, by whoever may open it.
    "${AS_POSTGRES[@]}" "$bin/initdb" -D "$POSTGRES_DIR/data" -U ferretdb --auth=trust -E UTF8 \
      --locale=C --no-sync >>"$logfile" 2>&1
  fi
  log "starting postgres (socket in $POSTGRES_DIR)"
  # synchronous_commit=off: a commit is not flushed to disk before it is acknowledged, as with
  # SQLite's synchronous(normal) (deploy/local/ferretdb/main.go): a crash of the machine can lose
  # the last commits (never corrupt the cluster), a killed FerretDB loses nothing.
  nohup "${AS_POSTGRES[@]}" "$bin/postgres" -D "$POSTGRES_DIR/data" -p "$POSTGRES_PORT" \
    -c "listen_addresses=" -c "unix_socket_directories=$POSTGRES_DIR" \
    -c synchronous_commit=off -c max_connections=200 >>"$logfile" 2>&1 &
  echo $! > "$pidfile"
  wait_for postgres "$pidfile" "$logfile" postgres_ready "$bin"
  if [ -z "$("$bin/psql" -h "$POSTGRES_DIR" -p "$POSTGRES_PORT" -U ferretdb -d postgres \
      -tAc "SELECT 1 FROM pg_database WHERE datname = 'ferretdb'")" ]; then
    "$bin/createdb" -h "$POSTGRES_DIR" -p "$POSTGRES_PORT" -U ferretdb ferretdb
  fi
}

start_ferretdb() {
  local pidfile="$STATE/ferretdb.pid" logfile="$STATE/ferretdb.log"
  if pid_alive "$pidfile"; then log "ferretdb already running (pid $(cat "$pidfile"))"; return; fi
  local storage=(--data-dir "$STATE/ferretdb")
  if [ "$FERRETDB_BACKEND" = postgresql ]; then
    start_postgres
    storage=(--handler postgresql --postgresql-url "postgres://ferretdb@/ferretdb?host=$POSTGRES_DIR&port=$POSTGRES_PORT")
  else
    mkdir -p "$STATE/ferretdb"
  fi
  if [ -n "$FERRETDB_PPROF_ADDR" ]; then storage+=(--pprof-addr "$FERRETDB_PPROF_ADDR"); fi
  log "starting ferretdb ($FERRETDB_BACKEND) on 127.0.0.1:$MONGO_PORT"
  GOGC="$FERRETDB_GOGC" GOMEMLIMIT="$FERRETDB_GOMEMLIMIT" nohup "$FERRETDB_BIN" --listen-addr "127.0.0.1:$MONGO_PORT" "${storage[@]}" >>"$logfile" 2>&1 &
  echo $! > "$pidfile"
  wait_for ferretdb "$pidfile" "$logfile" port_open "$MONGO_PORT"
}

stop_one() { # stop_one NAME [SIGNAL]
  local name=$1 pidfile="$STATE/$1.pid" signal=${2:-TERM}
  pid_alive "$pidfile" || { rm -f "$pidfile"; return; }
  local pid; pid=$(cat "$pidfile")
  log "stopping $name (pid $pid)"
  kill "-$signal" "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 60))
  while kill -0 "$pid" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then log "$name ignored SIG$signal; killing"; kill -KILL "$pid" 2>/dev/null || true; fi
    sleep 0.2
  done
  rm -f "$pidfile"
}

kill_kafka() {
  local pidfile="$STATE/kafka.pid"
  pid_alive "$pidfile" || { log "kafka is not running"; return; }
  local pid; pid=$(cat "$pidfile")
  log "killing kafka (pid $pid) with SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 60))
  while kill -0 "$pid" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]; do
    if [ $SECONDS -ge $deadline ]; then log "kafka (pid $pid) did not exit"; exit 1; fi
    sleep 0.1
  done
  rm -f "$pidfile"
}

case "${1:-}" in
  install) install_kafka; install_ferretdb; install_kustomize ;;
  up)
    check_backend; install_kafka; install_ferretdb
    # Keycloak (deploy/local/keycloak.sh, started by the sign-in tests) keeps its pid file here too.
    if [ "${ILRFLOW_STACK_FRESH:-0}" = 1 ]; then
      stop_one kafka; stop_one ferretdb; stop_one postgres INT; stop_one keycloak; rm -rf "$STATE"
    fi
    mkdir -p "$STATE"
    start_ferretdb; start_kafka
    log "ready: kafka 127.0.0.1:$KAFKA_PORT, mongodb-wire 127.0.0.1:$MONGO_PORT ($FERRETDB_BACKEND; state in $STATE)" ;;
  # SIGINT: PostgreSQL's fast shutdown (SIGTERM would wait for every client to disconnect).
  down) stop_one kafka; stop_one ferretdb; stop_one postgres INT; stop_one keycloak ;;
  restart-kafka) kill_kafka; STARTUP_DEADLINE_S=$RESTART_DEADLINE_S start_kafka ;;
  status)
    for name in kafka ferretdb postgres; do
      if pid_alive "$STATE/$name.pid"; then echo "$name: running (pid $(cat "$STATE/$name.pid"))"; else echo "$name: stopped"; fi
    done ;;
  backend) check_backend; echo "$FERRETDB_BACKEND" ;;
  *) echo "usage: $0 {install|up|down|restart-kafka|status|backend}" >&2; exit 2 ;;
esac

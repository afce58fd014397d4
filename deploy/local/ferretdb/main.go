// Command ferretdb runs FerretDB v1 on its SQLite or PostgreSQL backend through the embeddable
// package.
//
// Building FerretDB's own cmd/ferretdb with `go install` panics at start (upstream issue #2982:
// the generated version.txt is missing). Wrapping the embeddable package makes this module the
// main module, which skips that check.
package main

import (
	"context"
	"flag"
	"log"
	"log/slog"
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof/ on http.DefaultServeMux, served by -pprof-addr
	"os"
	"os/signal"
	"syscall"

	"github.com/FerretDB/FerretDB/build/version"
	"github.com/FerretDB/FerretDB/ferretdb"
)

// patches names the deploy/local/ferretdb/patches this binary was built with, comma-separated
// (deploy/local/stack.sh sets it: -ldflags -X main.patches=...). buildInfo reports it as
// buildEnvironment.ilrflowPatches, and the services refuse a FerretDB that lacks one they rely on
// (ilrflow.platform.ferretdb).
var patches string

func main() {
	addr := flag.String("listen-addr", "127.0.0.1:27017", "TCP address to listen on")
	handler := flag.String("handler", "sqlite", "backend: sqlite or postgresql")
	// With postgresql the data lives in that server; -data-dir and -sqlite-params are unused.
	postgresqlURL := flag.String("postgresql-url", "postgres://127.0.0.1:5432/ferretdb",
		"PostgreSQL URL (pgx syntax) for the postgresql backend")
	dataDir := flag.String("data-dir", "data", "directory holding one SQLite file per database")
	// FerretDB adds busy_timeout(10000), journal_mode(wal) and auto_vacuum(none) unless given.
	// synchronous(normal) in WAL mode: a commit is not fsynced, the WAL is at checkpoints. A
	// killed process (kill -9) loses nothing; an OS crash or power cut can lose the last commits.
	sqliteParams := flag.String("sqlite-params", "_pragma=synchronous(normal)",
		"query string appended to the SQLite URI (modernc.org/sqlite parameters)")
	// Off unless given: make bench sets it to read FerretDB's CPU profile while the pipeline runs
	// at its maximum rate (bench/ferretdb_profile.py), to see where the database's time goes.
	pprofAddr := flag.String("pprof-addr", "", "serve Go's /debug/pprof/ on this address (off if empty)")
	flag.Parse()
	if *pprofAddr != "" {
		go func() { log.Print(http.ListenAndServe(*pprofAddr, nil)) }()
	}
	version.Get().BuildEnvironment.Set("ilrflowPatches", patches)

	config := ferretdb.Config{
		Listener: ferretdb.ListenerConfig{TCP: *addr},
		Handler:  *handler,
		Logger:   slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	switch *handler {
	case "sqlite":
		if err := os.MkdirAll(*dataDir, 0o755); err != nil {
			log.Fatal(err)
		}
		config.SQLiteURL = sqliteURL(*dataDir, *sqliteParams)
	case "postgresql":
		config.PostgreSQLURL = *postgresqlURL
	default:
		log.Fatalf("unknown -handler %q: sqlite or postgresql", *handler)
	}
	f, err := ferretdb.New(&config)
	if err != nil {
		log.Fatal(err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := f.Run(ctx); err != nil {
		log.Fatal(err)
	}
}

func sqliteURL(dataDir, params string) string {
	url := "file:" + dataDir + "/"
	if params != "" {
		url += "?" + params
	}
	return url
}

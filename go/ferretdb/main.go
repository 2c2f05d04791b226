// Command ferretdb runs FerretDB v1 (MongoDB wire protocol) for the embedded flight delay
// platform, on PostgreSQL (the default) or on SQLite (tiny installs).
//
// FerretDB 1.24 on PostgreSQL pushes top-level equality filters down as `_jsonb->'f' @> value`;
// the platform serves them with GIN jsonb_path_ops indexes it creates itself (flightdelay.store).
// On SQLite it pushes down only `{_id: value}`.
//
// Logins: FerretDB 1.x opens each client's PostgreSQL connections with the credentials the client
// gave (authMechanism=PLAIN), and a client that gave none gets the URL's own login. So the URL
// (FERRETDB_POSTGRESQL_URL) must hold no password, and libpq's other sources of one (PGPASSWORD,
// a password file, a service file) are cut off: then a client without valid credentials can
// neither read nor write.
//
// It uses FerretDB's embeddable package instead of `go install`-ing FerretDB's own main, whose
// build panics without the version file that FerretDB's release tooling generates.
package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// sqlitePragmas apply to every connection, on top of FerretDB's own (WAL journal, busy timeout).
// Inserting 20,000 predictions into a 1.5M-document collection: 4,800/s with the defaults,
// 7,000-7,500/s with these (bench/ferretdb_inserts.py).
//   - synchronous(normal): in WAL mode a commit no longer waits for fsync; a crash of the process
//     loses nothing, a power cut may lose the last commits (the scorer re-inserts its newest
//     batches from HDFS when it starts, and imports are re-run from their files);
//   - cache_size(-65536): up to 64 MiB of pages per connection instead of 2 MiB, for the random
//     UUID indexes of a large predictions collection (256 MiB gained nothing more but memory);
//   - wal_autocheckpoint(65536): copy the WAL back every 256 MiB instead of 4 MiB: FerretDB commits
//     every 100 documents, and an index page changed by many commits is then written back once;
//   - journal_size_limit(67108864): after a checkpoint the WAL file shrinks back to 64 MiB.
var sqlitePragmas = url.Values{"_pragma": {
	"synchronous(normal)", "cache_size(-65536)", "wal_autocheckpoint(65536)", "journal_size_limit(67108864)",
}}

// defaultMemoryLimit is FerretDB's soft memory limit unless GOMEMLIMIT is set.
const defaultMemoryLimit = 768 << 20

func main() {
	listenAddr := flag.String("listen-addr", "127.0.0.1:27017", "host:port to accept MongoDB clients on")
	handler := flag.String("handler", "postgresql", "storage backend: postgresql or sqlite")
	dataDir := flag.String("data-dir", "var/ferretdb", "directory holding one SQLite file per database (sqlite)")
	verbose := flag.Bool("debug", false, "log every command")
	flag.Parse()

	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(lazyAttrs{inner: slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})})

	// the files it creates (SQLite databases) are readable by their owner only
	syscall.Umask(0o077)

	// The heap stays small (~100 MiB) and memory is plentiful, while garbage collection took a
	// fifth of the CPU under a steady insert load: collect less often.
	debug.SetGCPercent(400)
	// But a large read (the training's extraction, a full scan) then grew the process to 3.3 GiB
	// and kept it: past this soft limit the runtime collects and returns memory to the system.
	// GOMEMLIMIT overrides it.
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}

	config := &ferretdb.Config{
		Listener: ferretdb.ListenerConfig{TCP: *listenAddr},
		Logger:   logger,
		Handler:  *handler,
	}
	store := ""

	switch *handler {
	case "postgresql":
		config.PostgreSQLURL = os.Getenv("FERRETDB_POSTGRESQL_URL")
		if config.PostgreSQLURL == "" {
			logger.Error("FERRETDB_POSTGRESQL_URL is not set (postgres://host:port/database)")
			os.Exit(2)
		}
		if err := refusePassword(config.PostgreSQLURL); err != nil {
			logger.Error("bad FERRETDB_POSTGRESQL_URL", "error", err)
			os.Exit(2)
		}
		anonymousGetsNoPassword()
		store = "postgresql"
	case "sqlite":
		dir, err := filepath.Abs(*dataDir)
		if err != nil {
			logger.Error("bad data dir", "error", err)
			os.Exit(2)
		}
		if err = os.MkdirAll(dir, 0o700); err != nil {
			logger.Error("cannot create data dir", "error", err)
			os.Exit(2)
		}
		config.SQLiteURL = "file:" + dir + "/?" + sqlitePragmas.Encode()
		store = dir
	default:
		logger.Error("unknown -handler (postgresql or sqlite)", "handler", *handler)
		os.Exit(2)
	}

	db, err := ferretdb.New(config)
	if err != nil {
		logger.Error("cannot start FerretDB", "error", err)
		os.Exit(1)
	}

	// SIGTERM from `flightdelay down` closes the listener and the storage connections cleanly.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	logger.Info("FerretDB listening", "addr", *listenAddr, "handler", *handler, "store", store)
	if err = db.Run(ctx); err != nil {
		logger.Error("FerretDB stopped with an error", "error", err)
		os.Exit(1)
	}
}

// refusePassword fails for a URL that carries a password: anonymous clients would connect with it.
func refusePassword(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("not a URL") // the parse error would quote the URL
	}
	if _, set := u.User.Password(); set || u.Query().Has("password") {
		return errors.New("it holds a password, which every client without credentials would use; " +
			"clients log in with their own (authMechanism=PLAIN)")
	}
	return nil
}

// anonymousGetsNoPassword cuts off the places besides the URL where the PostgreSQL driver (pgx)
// looks for a password.
func anonymousGetsNoPassword() {
	for _, name := range []string{"PGPASSWORD", "PGSERVICE", "PGSERVICEFILE"} {
		os.Unsetenv(name)
	}
	os.Setenv("PGPASSFILE", os.DevNull)
}

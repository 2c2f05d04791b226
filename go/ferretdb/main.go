// Command ferretdb runs FerretDB v1 (MongoDB wire protocol) on its SQLite backend for the
// embedded flight delay platform.
//
// It uses FerretDB's embeddable package instead of `go install`-ing FerretDB's own main, whose
// build panics without the version file that FerretDB's release tooling generates.
package main

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listenAddr := flag.String("listen-addr", "127.0.0.1:27017", "host:port to accept MongoDB clients on")
	dataDir := flag.String("data-dir", "var/ferretdb", "directory holding one SQLite file per database")
	debug := flag.Bool("debug", false, "log every command")
	flag.Parse()

	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	dir, err := filepath.Abs(*dataDir)
	if err != nil {
		logger.Error("bad data dir", "error", err)
		os.Exit(2)
	}
	if err = os.MkdirAll(dir, 0o700); err != nil {
		logger.Error("cannot create data dir", "error", err)
		os.Exit(2)
	}

	db, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *listenAddr},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: "file:" + dir + "/",
	})
	if err != nil {
		logger.Error("cannot start FerretDB", "error", err)
		os.Exit(1)
	}

	// SIGTERM from `flightdelay down` closes the listener and the SQLite files cleanly.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	logger.Info("FerretDB listening", "addr", *listenAddr, "data", dir)
	if err = db.Run(ctx); err != nil {
		logger.Error("FerretDB stopped with an error", "error", err)
		os.Exit(1)
	}
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"text/tabwriter"
	"time"

	"github.com/authserver-dev/authserver/authserver/setup"
	"github.com/authserver-dev/authserver/authserver/storage/sqlstore"
	"github.com/authserver-dev/authserver/config"
)

// serveOptions are what the command line, not the file, decides.
type serveOptions struct {
	// Demo is set when the embedded demo configuration runs (no file given).
	Demo bool
	// DevTLS serves https with a self-signed certificate kept in the data directory.
	DevTLS bool
}

func serve(ctx context.Context, cfg config.Config, opts serveOptions, log *slog.Logger) error {
	app, err := setup.Open(ctx, cfg, setup.Options{Logger: log, Getenv: os.Getenv})
	if err != nil {
		return err
	}
	defer app.Close()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           app.Server,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	log.Info("authserver listening", "issuer", cfg.Issuer, "addr", ln.Addr().String(), "storage", cfg.Storage.Driver)
	log.Info("next: start the sample API with `go run ./cmd/resource` and the demo client with `go run ./cmd/democlient`, then open http://127.0.0.1:9094 (user alice, password alice-password)")
	go app.Server.RunHousekeeping(ctx, cfg.Housekeeping.Interval.Std(), cfg.Housekeeping.BatchSize)
	go app.Server.RunKeyRotation(ctx, cfg.Signing.KeyCheckInterval.Std())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func migrate(ctx context.Context, cfg config.Config, out io.Writer) error {
	store, err := sqlstore.Open(ctx, cfg.Storage.Driver, cfg.Storage.DSN)
	if err != nil {
		return err
	}
	defer store.Close()
	v, err := store.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "schema at version %d\n", v)
	return nil
}

// keysCmd lists the signing keys or advances their rotation one step. It
// works on the database, so a running server picks the change up at its next
// key check (signing.key_check_interval) without a restart.
func keysCmd(ctx context.Context, cfg config.Config, sub string, out io.Writer) error {
	store, err := sqlstore.Open(ctx, cfg.Storage.Driver, cfg.Storage.DSN)
	if err != nil {
		return err
	}
	defer store.Close()
	km, err := setup.KeyManager(ctx, cfg, store, setup.Options{Getenv: os.Getenv})
	if err != nil {
		return err
	}
	switch sub {
	case "list":
	case "rotate":
		if err := km.Advance(ctx); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown command keys %q; use list or rotate", sub)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tALG\tSTATE\tCREATED\tSIGNS FROM\tRETIRED\tUNPUBLISHED AT")
	for _, k := range km.Keys() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Algorithm, k.State, day(k.CreatedAt), day(k.ActivatesAt), day(k.RetiredAt), day(k.ExpiresAt))
	}
	return tw.Flush()
}

func day(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/authserver-dev/authserver/authserver/setup"
	"github.com/authserver-dev/authserver/authserver/tlsserve"
	"github.com/authserver-dev/authserver/config"
)

// serveOptions are what the command line, not the file, decides.
type serveOptions struct {
	// Demo is set when the embedded demo configuration runs (no file given).
	Demo bool
	// DevTLS serves https with a self-signed certificate kept in the data directory.
	DevTLS bool
	// ConfigSource names the configuration (its path, or the embedded demo)
	// in start-up errors about the entries it owns.
	ConfigSource string
}

// serve runs the provider until ctx ends (SIGINT or SIGTERM), then drains
// and closes the store. The process mechanics are package tlsserve's.
func serve(ctx context.Context, cfg config.Config, opts serveOptions, log *slog.Logger) error {
	// Subscribe to SIGHUP first: without a handler it would kill the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	cert, err := certificate(&cfg, opts, log)
	if err != nil {
		return err
	}
	app, err := setup.Open(ctx, cfg, setup.Options{Logger: log, Getenv: os.Getenv, ConfigSource: opts.ConfigSource})
	if err != nil {
		return err
	}
	defer func() {
		if err := app.Close(); err != nil {
			log.Error("closing the store", "err", err)
		}
		log.Info("stopped")
	}()
	srv := &tlsserve.Server{
		Handler: app.Server, Cert: cert, Metrics: app.Metrics, Reload: hup, Log: log,
		Background: []func(context.Context){
			func(ctx context.Context) {
				app.Server.RunHousekeeping(ctx, cfg.Housekeeping.Interval.Std(), cfg.Housekeeping.BatchSize)
			},
			func(ctx context.Context) { app.Server.RunKeyRotation(ctx, cfg.Signing.KeyCheckInterval.Std()) },
			app.Server.RunBackchannelLogout,
		},
	}
	if srv.Listener, err = net.Listen("tcp", cfg.Listen); err != nil {
		return err
	}
	if m := cfg.Observability.MetricsListen; m != config.MetricsOff && app.Metrics != nil {
		if srv.MetricsListener, err = net.Listen("tcp", m); err != nil {
			srv.Listener.Close()
			return fmt.Errorf("observability.metrics_listen: %w", err)
		}
	}
	if cfg.Admin.Listen != "" && app.AdminAPI != nil {
		srv.Admin = app.AdminAPI
		if srv.AdminListener, err = net.Listen("tcp", cfg.Admin.Listen); err != nil {
			srv.Listener.Close()
			if srv.MetricsListener != nil {
				srv.MetricsListener.Close()
			}
			return fmt.Errorf("admin.listen: %w", err)
		}
	}
	log.Info("authserver listening", "issuer", cfg.Issuer, "addr", srv.Listener.Addr().String(), "tls", cert != nil, "storage", cfg.Storage.Driver)
	if opts.Demo {
		log.Info("next: start the sample API with `go run ./cmd/resource` and the demo client with `go run ./cmd/democlient`, then open http://127.0.0.1:9094 (user alice, password alice-password)")
		if cert != nil {
			// Go programs on Linux take their trusted roots from SSL_CERT_FILE.
			log.Info("with --dev-tls, give both of them `--issuer " + cfg.Issuer + "` and run them with SSL_CERT_FILE=" + filepath.Join(filepath.Dir(cfg.KEKFile()), tlsserve.DevCertFile))
		}
	}
	return srv.Run(ctx)
}

// certificate loads tls.cert_file/key_file, or with --dev-tls the
// development certificate, for which it turns a loopback http issuer into
// https before anything (discovery above all) is built from it. nil means
// plain http.
func certificate(cfg *config.Config, opts serveOptions, log *slog.Logger) (*tlsserve.Certificate, error) {
	if !opts.DevTLS {
		if cfg.TLS.CertFile == "" {
			return nil, nil
		}
		return tlsserve.LoadCertificate(cfg.TLS.CertFile, cfg.TLS.KeyFile)
	}
	if cfg.TLS.CertFile != "" {
		return nil, errors.New("--dev-tls and tls.cert_file exclude each other: drop one")
	}
	issuer, ok := tlsserve.DevIssuer(cfg.Issuer)
	if !ok {
		log.Warn("the development certificate covers only 127.0.0.1, ::1 and localhost, not the issuer's host", "issuer", cfg.Issuer)
	}
	cfg.Issuer = issuer
	dc, err := tlsserve.DevCertificate(filepath.Dir(cfg.KEKFile()), time.Now())
	if err != nil {
		return nil, err
	}
	host := strings.TrimPrefix(issuer, "https://")
	host, _, _ = strings.Cut(host, "/")
	log.Info("development TLS certificate (self-signed, for this machine only)", "cert", dc.CertFile, "sha256", dc.SHA256, "created", dc.Created)
	log.Info("trust it: curl --cacert " + dc.CertFile + " " + issuer + "/.well-known/openid-configuration")
	log.Info("or check it: openssl s_client -connect " + host + " -CAfile " + dc.CertFile + " -verify_return_error </dev/null")
	return tlsserve.LoadCertificate(dc.CertFile, dc.KeyFile)
}

func migrate(ctx context.Context, cfg config.Config, out io.Writer) error {
	store, err := setup.OpenStore(ctx, cfg)
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

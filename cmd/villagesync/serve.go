package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"villagesync/election"
	"villagesync/server"
	"villagesync/server/httpapi"
	"villagesync/server/sqlite"
)

// Defaults of the serve command.
const (
	DefaultDataDir     = "./data"
	DefaultAddr        = "127.0.0.1:8080"
	DefaultCountyCode  = "220422"
	shutdownDeadline   = 10 * time.Second
	serverDatabaseFile = "server.db"
)

// ServerConfig configures a central server process.
type ServerConfig struct {
	DataDir string
	Addr    string
	Demo    bool // seed the Dongliao county on start and play its season live
	// DemoPause is the wall time between simulated days of the live demo.
	DemoPause time.Duration
	Logger    *slog.Logger
}

// Server is a running central server: store, service and HTTP listener.
type Server struct {
	cfg     ServerConfig
	store   *sqlite.Store
	service *server.Service
	http    *http.Server
	ln      net.Listener
}

// OpenServer opens the data dir, the store and the service, and binds the
// listen address; Run then serves until ctx ends.
func OpenServer(ctx context.Context, cfg ServerConfig) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	store, svc, err := openService(ctx, cfg.DataDir, cfg.Logger)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, store: store, service: svc}
	if cfg.Demo {
		n, err := svc.Seed(ctx, election.Dongliao())
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("seed demo county: %w", err)
		}
		cfg.Logger.Info("demo county seeded", "records_added", n)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("listen on %s: %w (is another server running? pick another --addr)", cfg.Addr, err)
	}
	s.ln = ln
	s.http = httpapi.NewHTTPServer(ln.Addr().String(), httpapi.New(svc, httpapi.Config{Logger: cfg.Logger}))
	return s, nil
}

// URL is the server's base URL.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() }

// Service exposes the service for in-process tools and tests.
func (s *Server) Service() *server.Service { return s.service }

// Run serves HTTP until ctx is done, then shuts down gracefully.
func (s *Server) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.http.Serve(s.ln) }()
	s.cfg.Logger.Info("villagesync server listening", "url", s.URL(), "data", s.cfg.DataDir)
	demoDone := make(chan struct{})
	if s.cfg.Demo {
		go func() {
			defer close(demoDone)
			liveDemo(ctx, s, s.cfg.Logger, s.cfg.DemoPause)
		}()
	} else {
		close(demoDone)
	}
	defer func() { <-demoDone }()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownDeadline)
	defer cancel()
	if err := s.http.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// Close releases the store. Call it after Run returns.
func (s *Server) Close() error {
	if s.ln != nil && s.http == nil {
		_ = s.ln.Close()
	}
	return s.store.Close()
}

// openService opens the server store in dataDir and the service over it.
func openService(ctx context.Context, dataDir string, logger *slog.Logger) (*sqlite.Store, *server.Service, error) {
	if dataDir == "" {
		return nil, nil, errors.New("--data must name the server's data directory")
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("create data dir: %w", err)
	}
	store, err := sqlite.Open(ctx, filepath.Join(dataDir, serverDatabaseFile), logger)
	if err != nil {
		return nil, nil, fmt.Errorf("open store in %s: %w", dataDir, err)
	}
	svc, err := server.New(ctx, store, server.Config{CountyCode: DefaultCountyCode, Logger: logger})
	if err != nil {
		_ = store.Close()
		return nil, nil, fmt.Errorf("start service: %w", err)
	}
	return store, svc, nil
}

func runServe(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "serve", "--data DIR [--addr HOST:PORT] [--demo]")
	var cfg ServerConfig
	fs.StringVar(&cfg.DataDir, "data", DefaultDataDir, "data directory (embedded SQLite store, keys)")
	fs.StringVar(&cfg.Addr, "addr", DefaultAddr, "listen address")
	fs.BoolVar(&cfg.Demo, "demo", false, "seed the Dongliao county (13 townships, 235 villages) and play its season in the background")
	fs.DurationVar(&cfg.DemoPause, "demo-pace", 2*time.Second, "with --demo: wall time per simulated day")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg.Logger = slog.New(slog.NewTextHandler(e.stderr, nil))
	s, err := OpenServer(ctx, cfg)
	if err != nil {
		return err
	}
	runErr := s.Run(ctx)
	if err := s.Close(); err != nil && runErr == nil {
		runErr = fmt.Errorf("close store: %w", err)
	}
	return runErr
}

package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
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
	// PublicURL is the server's address as devices and browsers reach it
	// (what enrollment QR codes name); an https URL marks session cookies
	// Secure. Default: the listen address over http.
	PublicURL string
	// TrustedProxies are the reverse proxies (CIDRs) whose X-Forwarded-For
	// names the client.
	TrustedProxies []*net.IPNet
	// TLSCert and TLSKey, when set, make the server speak HTTPS itself.
	TLSCert, TLSKey string
	Logger          *slog.Logger
	// Console is where --demo prints the login of the demo county account
	// it creates (once, never into the log); nil = os.Stderr.
	Console io.Writer
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
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		s.Close()
		return nil, errors.New("--tls-cert and --tls-key go together")
	}
	s.cfg = cfg
	limits := httpapi.RateLimits{}
	if cfg.Demo {
		// The demo's 254 laptops all run in this process, on one address.
		limits = httpapi.SharedAddress()
	}
	if cfg.Demo {
		if err := s.demoAccount(ctx); err != nil {
			s.Close()
			return nil, err
		}
	}
	s.http = httpapi.NewHTTPServer(ln.Addr().String(), httpapi.New(svc, httpapi.Config{
		Logger:         cfg.Logger,
		Limits:         limits,
		TrustedProxies: cfg.TrustedProxies,
		PublicURL:      s.PublicURL(),
		SecureCookies:  strings.HasPrefix(s.PublicURL(), "https://"),
	}))
	return s, nil
}

// demoAccountName is the county account --demo creates.
const demoAccountName = "county"

// demoAccount gives a demo server a county account for its web pages, if it
// has no account yet, and prints its one-time random password.
func (s *Server) demoAccount(ctx context.Context) error {
	accounts, err := s.service.Accounts(ctx, nil)
	if err != nil {
		return err
	}
	console := s.cfg.Console
	if console == nil {
		console = os.Stderr
	}
	if len(accounts) > 0 {
		fmt.Fprintf(console, "\n演示账号 demo login: %s/login (accounts exist in %s; a forgotten password: "+
			"villagesync admin account reset-password --data %s --username NAME)\n\n", s.PublicURL(), s.cfg.DataDir, s.cfg.DataDir)
		return nil
	}
	password := rand.Text()
	if _, err := s.service.CreateAccount(ctx, nil, server.NewAccount{
		Username: demoAccountName, Name: "县委组织部（演示）", Password: password, Role: election.RoleCounty,
	}); err != nil {
		return fmt.Errorf("demo account: %w", err)
	}
	fmt.Fprintf(console, "\n演示账号 demo login: %s/login  用户名 username: %s  密码 password: %s\n"+
		"(shown once; villagesync admin account reset-password --data %s --username %s sets another)\n\n",
		s.PublicURL(), demoAccountName, password, s.cfg.DataDir, demoAccountName)
	return nil
}

// URL is the server's base URL on its listen address.
func (s *Server) URL() string {
	if s.cfg.TLSCert != "" {
		return "https://" + s.ln.Addr().String()
	}
	return "http://" + s.ln.Addr().String()
}

// PublicURL is the server's URL as its users reach it.
func (s *Server) PublicURL() string {
	if s.cfg.PublicURL != "" {
		return strings.TrimRight(s.cfg.PublicURL, "/")
	}
	return s.URL()
}

// Service exposes the service for in-process tools and tests.
func (s *Server) Service() *server.Service { return s.service }

// Run serves HTTP until ctx is done, then shuts down gracefully.
func (s *Server) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() {
		if s.cfg.TLSCert != "" {
			errc <- s.http.ServeTLS(s.ln, s.cfg.TLSCert, s.cfg.TLSKey)
			return
		}
		errc <- s.http.Serve(s.ln)
	}()
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
	if s.ln != nil {
		// Shutdown closed it if Run served; otherwise it is still open.
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
	fs.StringVar(&cfg.PublicURL, "public-url", "", "the URL devices and browsers use to reach this server (named in enrollment QR codes; https marks cookies Secure)")
	fs.StringVar(&cfg.TLSCert, "tls-cert", "", "serve HTTPS with this certificate (PEM)")
	fs.StringVar(&cfg.TLSKey, "tls-key", "", "and this private key (PEM)")
	fs.Func("trusted-proxy", "CIDR of a reverse proxy whose X-Forwarded-For names the client (repeatable)", func(v string) error {
		_, n, err := net.ParseCIDR(v)
		if err != nil {
			return fmt.Errorf("want a CIDR like 10.0.0.5/32: %w", err)
		}
		cfg.TrustedProxies = append(cfg.TrustedProxies, n)
		return nil
	})
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

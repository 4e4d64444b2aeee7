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
	"time"

	client "villagesync/client-sdk"
	"villagesync/station"
)

// Timeouts of the station UI's HTTP server. A press of 同步 holds its
// request for as long as the sync runs over a slow link.
const (
	stationUIReadHeaderTimeout = 10 * time.Second
	stationUIReadTimeout       = time.Minute
	stationUIWriteTimeout      = 15 * time.Minute
	stationUIIdleTimeout       = 2 * time.Minute
	stationUIMaxHeaderBytes    = 64 << 10
)

// StationUIConfig configures the station UI process.
type StationUIConfig struct {
	DataDir string
	Addr    string // default station.DefaultAddr
	// AllowRemote lets Addr be a non-loopback address. The UI has no
	// login: whoever reaches it can capture records as this device.
	AllowRemote bool
	Device      client.Options
	Logger      *slog.Logger // nil = a text logger on os.Stderr
}

// StationUI is a running station UI: the device and the HTTP listener.
type StationUI struct {
	cfg    StationUIConfig
	dev    *client.Device
	ln     net.Listener
	http   *http.Server
	base   context.Context // of every request; cancelled when shutdown overruns
	cancel context.CancelFunc
}

// checkUIAddr refuses a listen address that is not loopback unless
// allowRemote.
func checkUIAddr(addr string, allowRemote bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--addr %q: want HOST:PORT, e.g. %s", addr, station.DefaultAddr)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	if allowRemote {
		return nil
	}
	return fmt.Errorf("--addr %s is not a loopback address: the station UI has no login, so anyone who can reach it "+
		"could record ballots as this device; use 127.0.0.1:PORT, or add --allow-remote if the network is really meant to reach it", addr)
}

// OpenStationUI opens the device enrolled in the data dir and binds the
// listen address; Run then serves until ctx ends.
func OpenStationUI(ctx context.Context, cfg StationUIConfig) (*StationUI, error) {
	if cfg.Addr == "" {
		cfg.Addr = station.DefaultAddr
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if err := checkUIAddr(cfg.Addr, cfg.AllowRemote); err != nil {
		return nil, err
	}
	dev, err := client.Open(ctx, cfg.DataDir, cfg.Device)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		_ = dev.Close()
		return nil, fmt.Errorf("listen on %s: %w (is the UI already running? pick another --addr)", cfg.Addr, err)
	}
	ui, err := station.New(dev, station.Config{Addr: ln.Addr().String(), AllowRemote: cfg.AllowRemote, DataDir: cfg.DataDir, Logger: cfg.Logger})
	if err != nil {
		_ = ln.Close()
		_ = dev.Close()
		return nil, err
	}
	base, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &StationUI{cfg: cfg, dev: dev, ln: ln, base: base, cancel: cancel}
	s.http = &http.Server{
		Handler:           ui,
		ReadHeaderTimeout: stationUIReadHeaderTimeout,
		ReadTimeout:       stationUIReadTimeout,
		WriteTimeout:      stationUIWriteTimeout,
		IdleTimeout:       stationUIIdleTimeout,
		MaxHeaderBytes:    stationUIMaxHeaderBytes,
		BaseContext:       func(net.Listener) context.Context { return base },
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// URL is the address to open in the laptop's browser.
func (s *StationUI) URL() string { return "http://" + s.ln.Addr().String() + "/" }

// Run serves the UI until ctx is done, then shuts down gracefully: a sync
// in progress gets shutdownDeadline to finish, then is cancelled (what it
// completed stays committed).
func (s *StationUI) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.http.Serve(s.ln) }()
	s.cfg.Logger.Info("station UI listening", "url", s.URL(), "device", s.dev.ID())
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
		s.cancel()
		_ = s.http.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// Close closes the device. Call it after Run returns.
func (s *StationUI) Close() error {
	s.cancel()
	if s.http != nil {
		_ = s.http.Close()
	}
	return s.dev.Close()
}

func stationUI(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "station ui", "--data DIR [--addr 127.0.0.1:8181] [--allow-remote]")
	var cfg StationUIConfig
	fs.StringVar(&cfg.DataDir, "data", defaultStationDir, "device data directory")
	fs.StringVar(&cfg.Addr, "addr", station.DefaultAddr, "listen address: loopback only, unless --allow-remote")
	fs.BoolVar(&cfg.AllowRemote, "allow-remote", false, "allow a non-loopback --addr (the UI has no login: anyone who reaches it acts as this device)")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg.Logger = slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg.Device = deviceOptions(e)
	s, err := OpenStationUI(ctx, cfg)
	if err != nil {
		return err
	}
	if cfg.AllowRemote {
		fmt.Fprintf(e.stderr, "警告 warning: the station UI on %s has no login; anyone who can reach this address can record as this device\n", cfg.Addr)
	}
	printUIURL(e.stderr, s.URL())
	runErr := s.Run(ctx)
	if err := s.Close(); err != nil && runErr == nil {
		runErr = fmt.Errorf("close device store: %w", err)
	}
	return runErr
}

func printUIURL(w io.Writer, url string) {
	fmt.Fprintf(w, "在本机浏览器中打开 open in this laptop's browser: %s  (Ctrl-C 退出 to stop)\n", url)
}

package bench

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	client "villagesync/client-sdk"
	"villagesync/election"
	"villagesync/server"
	"villagesync/server/httpapi"
	"villagesync/server/sqlite"
)

const serverDB = "server.db"

// servers starts fresh central servers that all begin from one database
// seeded with the Dongliao reference data: seeding takes seconds, copying
// the file does not.
type servers struct {
	dir      string // every server's directory is under it
	template string // the seeded database
	logger   *slog.Logger
}

// newServers seeds the template database under dir.
func newServers(ctx context.Context, dir string, logger *slog.Logger) (*servers, error) {
	tdir := filepath.Join(dir, "template")
	if err := os.MkdirAll(tdir, 0o700); err != nil {
		return nil, fmt.Errorf("template dir: %w", err)
	}
	path := filepath.Join(tdir, serverDB)
	store, err := sqlite.Open(ctx, path, logger)
	if err != nil {
		return nil, fmt.Errorf("open template store: %w", err)
	}
	svc, err := server.New(ctx, store, server.Config{CountyCode: election.DongliaoCode, Logger: logger})
	if err == nil {
		_, err = svc.Seed(ctx, election.Dongliao())
	}
	if cerr := store.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("seed template store: %w", err)
	}
	return &servers{dir: dir, template: path, logger: logger}, nil
}

// testServer is a running central server: the SQLite store on real disk
// (WAL, synchronous=FULL, as in production), the service and the HTTP API
// on a loopback port.
type testServer struct {
	dir   string
	url   string
	store *sqlite.Store
	svc   *server.Service
	http  *http.Server
	done  chan error
}

// start copies the template into dir/name and serves it. limits are the
// HTTP rate limits (every simulated device shares the loopback address);
// now is the service's clock (nil: the real one).
func (ss *servers) start(ctx context.Context, name string, limits httpapi.RateLimits, now func() time.Time) (_ *testServer, err error) {
	dir := filepath.Join(ss.dir, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("server dir: %w", err)
	}
	path := filepath.Join(dir, serverDB)
	for _, suffix := range []string{"", "-wal"} {
		if err := copyFile(path+suffix, ss.template+suffix); err != nil {
			return nil, fmt.Errorf("copy template store: %w", err)
		}
	}
	store, err := sqlite.Open(ctx, path, ss.logger)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	defer func() {
		if err != nil {
			_ = store.Close()
		}
	}()
	svc, err := server.New(ctx, store, server.Config{CountyCode: election.DongliaoCode, Logger: ss.logger, Now: now})
	if err != nil {
		return nil, fmt.Errorf("start service: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	hs := httpapi.NewHTTPServer(ln.Addr().String(), httpapi.New(svc, httpapi.Config{Logger: ss.logger, Limits: limits}))
	s := &testServer{dir: dir, url: "http://" + ln.Addr().String(), store: store, svc: svc, http: hs, done: make(chan error, 1)}
	go func() { s.done <- hs.Serve(ln) }()
	return s, nil
}

// close stops the HTTP server and closes the store.
func (s *testServer) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := s.http.Shutdown(ctx)
	if serr := <-s.done; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if cerr := s.store.Close(); err == nil {
		err = cerr
	}
	return err
}

// enroll enrolls a client-sdk device of role in scope with a fresh code,
// in dir, and syncs it once: at the township office, on enrollment day, it
// pulls the reference data of its scope.
func (s *testServer) enroll(ctx context.Context, role election.Role, scope, dir string, opts client.Options) (*client.Device, error) {
	code, _, err := s.svc.CreateEnrollCode(ctx, role, scope, time.Hour)
	if err != nil {
		return nil, fmt.Errorf("enrollment code for %s %s: %w", role, scope, err)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	d, err := client.Enroll(ctx, dir, s.url, code, opts)
	if err != nil {
		return nil, fmt.Errorf("enroll %s %s: %w", role, scope, err)
	}
	if _, err := d.Sync(ctx); err != nil {
		_ = d.Close()
		return nil, fmt.Errorf("first sync of %s %s: %w", role, scope, err)
	}
	return d, nil
}

// copyFile copies src to dst, if src exists.
func copyFile(dst, src string) error {
	b, err := os.ReadFile(src)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o600)
}

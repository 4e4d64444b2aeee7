package client

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"villagesync/election"
	"villagesync/syncproto"
)

// Attribute keys of log records. Tokens, keys and record bodies are never
// logged.
const (
	logDevice     = "device"
	logRole       = "role"
	logScope      = "scope"
	logRound      = "round"
	logAttempt    = "attempt"
	logWait       = "wait"
	logErr        = "err"
	logSent       = "sent"
	logAcked      = "acked"
	logMore       = "more"
	logPushed     = "pushed"
	logPulled     = "pulled"
	logPending    = "pending"
	logConflicts  = "conflicts"
	logRoundTrips = "round_trips"
	logBytesUp    = "bytes_up"
	logBytesDown  = "bytes_down"
	logThrough    = "through"
	logResend     = "resend"
	logKeyID      = "kid"
	logRecord     = "record"
)

// Device is an enrolled device: its local store, its identity and the
// sync engine. Its methods are safe for concurrent use; Syncs run one at a
// time.
type Device struct {
	st   *store
	api  *api
	opts Options
	log  *slog.Logger

	id     string
	priv   ed25519.PrivateKey
	scope  election.Scope
	server string

	syncMu sync.Mutex // serializes Sync

	keysMu sync.Mutex
	keys   []syncproto.ServerKey // receipt keys known to the device
}

// Enroll creates dir, generates the device's key pair, redeems the
// single-use enrollment code at the server and stores the resulting
// identity in dir. It refuses a dir that already holds an enrolled device.
// If the server refuses the code, nothing is left behind in dir.
func Enroll(ctx context.Context, dir, serverURL, code string, opts Options) (_ *Device, err error) {
	opts = opts.withDefaults()
	server, err := normalizeServer(serverURL)
	if err != nil {
		return nil, fmt.Errorf("enroll: %w", err)
	}
	code = strings.TrimSpace(code)
	if code == "" {
		return nil, errors.New("enroll: the enrollment code is empty: ask the county office for one")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("enroll: %w", err)
	}
	path := filepath.Join(dir, dbFile)
	_, statErr := os.Stat(path)
	created := errors.Is(statErr, fs.ErrNotExist)

	now := func() int64 { return opts.Now().UnixMilli() }
	st, err := openStore(ctx, path, now)
	if err != nil {
		return nil, fmt.Errorf("enroll: %w", err)
	}
	defer func() {
		if err == nil {
			return
		}
		_ = st.close()
		if created {
			for _, p := range []string{path, path + "-wal", path + "-shm"} {
				_ = os.Remove(p)
			}
		}
	}()
	if id, err := metaString(ctx, st.db, metaDevice); err != nil {
		return nil, fmt.Errorf("enroll: %w", err)
	} else if id != "" {
		return nil, fmt.Errorf("enroll: %s already holds enrolled device %s: use another directory", dir, id)
	}

	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("enroll: generate key: %w", err)
	}
	a := newAPI(server, opts.HTTPClient)
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	var resp syncproto.EnrollResponse
	req := syncproto.EnrollRequest{Code: code, PublicKey: syncproto.Bytes(pub), Label: opts.Label}
	if err := a.call(ctx, "POST", "/v1/enroll", "", req, &resp, nil); err != nil {
		return nil, fmt.Errorf("enroll: %w", err)
	}
	scope, err := checkEnrollment(resp, pub)
	if err != nil {
		return nil, fmt.Errorf("enroll: %w", err)
	}
	keys, err := syncproto.Marshal(resp.ServerKeys)
	if err != nil {
		return nil, fmt.Errorf("enroll: %w", err)
	}

	tx, err := st.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("enroll: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	for _, kv := range []struct {
		key   string
		value any
	}{
		{metaDevice, resp.Device},
		{metaPublicKey, []byte(pub)},
		{metaPrivateKey, []byte(priv)},
		{metaRole, string(scope.Role)},
		{metaScope, scope.Code},
		{metaServer, server},
		{metaServerKeys, keys},
		{metaEnrolled, now()},
	} {
		if err := setMeta(ctx, tx, kv.key, kv.value); err != nil {
			return nil, fmt.Errorf("enroll: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("enroll: %w", err)
	}
	d, err := newDevice(ctx, st, a, opts)
	if err != nil {
		return nil, fmt.Errorf("enroll: %w", err)
	}
	d.log.Info("device enrolled", logRole, scope.Role, logScope, scope.Code)
	return d, nil
}

// checkEnrollment checks the server's answer and returns the scope.
func checkEnrollment(resp syncproto.EnrollResponse, pub ed25519.PublicKey) (election.Scope, error) {
	if want := syncproto.DeviceID(pub); resp.Device != want {
		return election.Scope{}, fmt.Errorf("server assigned device id %q, want %q (derived from this device's key)", resp.Device, want)
	}
	role, err := election.ParseRole(resp.Role)
	if err != nil {
		return election.Scope{}, fmt.Errorf("server assigned %w", err)
	}
	scope := election.Scope{Role: role, Code: resp.Scope}
	if err := scope.Validate(); err != nil {
		return election.Scope{}, fmt.Errorf("server assigned an %w", err)
	}
	n := 0
	for _, k := range resp.ServerKeys {
		if k.KeyID != "" && len(k.PublicKey) == ed25519.PublicKeySize {
			n++
		}
	}
	if n == 0 {
		return election.Scope{}, errors.New("server sent no usable receipt key")
	}
	return scope, nil
}

// Open opens the device enrolled in dir.
func Open(ctx context.Context, dir string, opts Options) (_ *Device, err error) {
	opts = opts.withDefaults()
	path := filepath.Join(dir, dbFile)
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("open device: no device in %s: enroll it first (villagesync station enroll)", dir)
		}
		return nil, fmt.Errorf("open device: %w", err)
	}
	st, err := openStore(ctx, path, func() int64 { return opts.Now().UnixMilli() })
	if err != nil {
		return nil, fmt.Errorf("open device: %w", err)
	}
	defer func() {
		if err != nil {
			_ = st.close()
		}
	}()
	d, err := newDevice(ctx, st, nil, opts)
	if err != nil {
		return nil, fmt.Errorf("open device: %s: %w", dir, err)
	}
	return d, nil
}

// newDevice loads the identity from st. a may be nil.
func newDevice(ctx context.Context, st *store, a *api, opts Options) (*Device, error) {
	var id, role, scope, server string
	for _, v := range []struct {
		key string
		dst *string
	}{{metaDevice, &id}, {metaRole, &role}, {metaScope, &scope}, {metaServer, &server}} {
		s, err := metaString(ctx, st.db, v.key)
		if err != nil {
			return nil, err
		}
		*v.dst = s
	}
	if id == "" {
		return nil, errors.New("no device is enrolled here: enroll it first (villagesync station enroll)")
	}
	priv, _, err := metaBytes(ctx, st.db, metaPrivateKey)
	if err != nil {
		return nil, err
	}
	if len(priv) != ed25519.PrivateKeySize {
		return nil, errors.New("device key is missing or damaged")
	}
	pub, _, err := metaBytes(ctx, st.db, metaPublicKey)
	if err != nil {
		return nil, err
	}
	key := ed25519.PrivateKey(priv)
	if !bytes.Equal(pub, key.Public().(ed25519.PublicKey)) || syncproto.DeviceID(pub) != id {
		return nil, errors.New("device key does not match the enrolled identity")
	}
	r, err := election.ParseRole(role)
	if err != nil {
		return nil, err
	}
	sc := election.Scope{Role: r, Code: scope}
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	rawKeys, _, err := metaBytes(ctx, st.db, metaServerKeys)
	if err != nil {
		return nil, err
	}
	var keys []syncproto.ServerKey
	if err := syncproto.Unmarshal(rawKeys, &keys); err != nil {
		return nil, fmt.Errorf("read server keys: %w", err)
	}
	if opts.Server != "" {
		if server, err = normalizeServer(opts.Server); err != nil {
			return nil, err
		}
	}
	if a == nil {
		a = newAPI(server, opts.HTTPClient)
	}
	d := &Device{
		st:     st,
		api:    a,
		opts:   opts,
		log:    opts.Logger.With(logDevice, id),
		id:     id,
		priv:   key,
		scope:  sc,
		server: server,
		keys:   keys,
	}
	if err := d.reindex(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

// normalizeServer checks a server base URL and drops a trailing slash.
func normalizeServer(s string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("invalid server address %q: want http(s)://host[:port]", s)
	}
	u.RawQuery, u.Fragment = "", ""
	return strings.TrimRight(u.String(), "/"), nil
}

// Close closes the device's store. It waits for a Sync in progress: cancel
// the Sync's context first to stop it sooner.
func (d *Device) Close() error {
	d.syncMu.Lock()
	defer d.syncMu.Unlock()
	d.api.close()
	if err := d.st.close(); err != nil {
		return fmt.Errorf("close device: %w", err)
	}
	return nil
}

// ID returns the device id.
func (d *Device) ID() string { return d.id }

// Scope returns what the device may see and author.
func (d *Device) Scope() election.Scope { return d.scope }

// Server returns the server base URL this handle syncs with.
func (d *Device) Server() string { return d.server }

func (d *Device) nowMS() int64 { return d.opts.Now().UnixMilli() }

// Status is a summary of the device's sync state for the operator.
type Status struct {
	Device      string             `json:"device"`
	Role        election.Role      `json:"role"`
	Scope       string             `json:"scope"`
	Server      string             `json:"server"`
	Pending     int                `json:"pending"`  // own changes no receipt covers yet
	LastSeq     uint64             `json:"last_seq"` // highest seq captured
	LastReceipt *syncproto.Receipt `json:"last_receipt,omitempty"`
	Cursor      string             `json:"cursor,omitempty"`
	ClockOffset int64              `json:"clock_offset_ms"` // server minus device clock, ms
	LastSync    time.Time          `json:"last_sync,omitzero"`
	Conflicts   int                `json:"conflicts"` // open conflicts (see Device.Conflicts)
}

// Status reports what is synced and what is pending.
func (d *Device) Status(ctx context.Context) (Status, error) {
	s := Status{Device: d.id, Role: d.scope.Role, Scope: d.scope.Code, Server: d.server}
	tx, err := d.st.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return Status{}, fmt.Errorf("status: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	var lastSeq sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM outbox WHERE acked = 0),
		(SELECT max(seq) FROM outbox),
		(SELECT count(*) FROM conflicts WHERE resolution IS NULL)`).Scan(&s.Pending, &lastSeq, &s.Conflicts); err != nil {
		return Status{}, fmt.Errorf("status: %w", err)
	}
	s.LastSeq = uint64(lastSeq.Int64)
	if s.Cursor, err = metaString(ctx, tx, metaCursor); err != nil {
		return Status{}, fmt.Errorf("status: %w", err)
	}
	if s.ClockOffset, err = metaInt(ctx, tx, metaClockOffset); err != nil {
		return Status{}, fmt.Errorf("status: %w", err)
	}
	last, err := metaInt(ctx, tx, metaLastSync)
	if err != nil {
		return Status{}, fmt.Errorf("status: %w", err)
	}
	if last != 0 {
		s.LastSync = time.UnixMilli(last)
	}
	raw, ok, err := metaBytes(ctx, tx, metaReceipt)
	if err != nil {
		return Status{}, fmt.Errorf("status: %w", err)
	}
	if ok {
		var r syncproto.Receipt
		if err := syncproto.Unmarshal(raw, &r); err != nil {
			return Status{}, fmt.Errorf("status: last receipt: %w", err)
		}
		s.LastReceipt = &r
	}
	return s, nil
}

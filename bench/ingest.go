package bench

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
	_ "modernc.org/sqlite" // the raw SQLite baseline

	"villagesync/election"
	"villagesync/server/httpapi"
	"villagesync/syncproto"
)

// IngestResult is the central server's ingest under many devices pushing
// at once, and a raw SQLite baseline measured in the same run.
//
// The server is the real one (SQLite store on disk, WAL, synchronous=FULL;
// the service; the HTTP API) on a loopback port. Each device is a station
// of its own village, enrolled over HTTP, holding a token; it pushes runs
// of Batch signed ballots of its village's election (prev on the first,
// the signature on the last, zstd-compressed, as the SDK sends them) and
// reads the answer, one push at a time. Request bodies are built and
// signed before the clock starts, so the figures are the server's: HTTP,
// decompression, chain and signature checks, validation, scope, the durable
// commit, the signed receipt. The per-device rate limit is off: 200
// devices pushing flat out exceed 20 requests a second each, which is the
// limit working, not ingest.
//
// Saturation: every device pushes its batches back to back; ChangesPerS is
// the changes acknowledged over the whole run's wall time. Paced: the
// devices then push at a steady offered load (the SPEC's 50,000 changes/s,
// or 80% of the saturation figure if that is lower), each on its own
// schedule with a random phase; a push's latency runs from when it was due,
// so a server falling behind shows (no coordinated omission). Raw: the same
// rows as the saturation run inserted into one plain SQLite table (primary
// key device, seq) in the same durability mode, one transaction per batch,
// by one writer: what the disk and SQLite allow with no protocol at all.
type IngestResult struct {
	Devices int `json:"devices"`
	Batch   int `json:"batch"` // changes per push

	Changes     int     `json:"changes"` // acknowledged in the saturation run
	ElapsedS    float64 `json:"elapsed_s"`
	ChangesPerS float64 `json:"changes_per_s"`
	// Latency of a push (request sent to answer read) in the saturation
	// run, ms.
	SaturatedP50MS float64 `json:"saturated_p50_ms"`
	SaturatedP99MS float64 `json:"saturated_p99_ms"`

	PacedLoad     float64 `json:"paced_load_changes_per_s"` // offered
	PacedPushes   int     `json:"paced_pushes"`
	PacedAchieved float64 `json:"paced_achieved_changes_per_s"`
	PacedP50MS    float64 `json:"paced_p50_ms"`
	PacedP99MS    float64 `json:"paced_p99_ms"`

	RawChanges     int     `json:"raw_changes"`
	RawElapsedS    float64 `json:"raw_elapsed_s"`
	RawChangesPerS float64 `json:"raw_changes_per_s"`
}

// ingestDevice is one simulated station pushing ballots.
type ingestDevice struct {
	id    string
	priv  ed25519.PrivateKey
	token string

	election   election.Election
	round      int
	seq        uint64
	head       syncproto.Hash
	clock      syncproto.Clock
	batches    [][]byte // compressed sync requests, not yet pushed
	lastAnswer []byte   // the body of the last answer, decompressed
}

// rawRow is one change as the raw baseline stores it.
type rawRow struct {
	device     string
	seq        uint64
	coll, id   string
	wall, at   int64
	logical    uint32
	body, hash []byte
	sig        []byte
}

// ingestLimits turn the per-device limit off (see IngestResult).
func ingestLimits() httpapi.RateLimits {
	l := httpapi.SharedAddress()
	l.Subject = httpapi.Off
	return l
}

// ingest drives one server.
type ingest struct {
	srv   *testServer
	hc    *http.Client
	zenc  *zstd.Encoder
	zdec  *zstd.Decoder
	batch int
	devs  []*ingestDevice
	rows  [][]rawRow // per batch of the saturation run
}

func measureIngest(ctx context.Context, srv *testServer, opts Options, progress func(format string, args ...any)) (*IngestResult, error) {
	zenc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return nil, fmt.Errorf("zstd: %w", err)
	}
	defer zenc.Close()
	zdec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
	if err != nil {
		return nil, fmt.Errorf("zstd: %w", err)
	}
	defer zdec.Close()
	tr := newTransport(opts.Devices + 4)
	defer tr.CloseIdleConnections()
	in := &ingest{srv: srv, hc: &http.Client{Transport: tr, Timeout: 5 * time.Minute}, zenc: zenc, zdec: zdec, batch: opts.Batch}
	res := &IngestResult{Devices: opts.Devices, Batch: opts.Batch}

	if err := in.enroll(ctx, opts.Devices); err != nil {
		return nil, err
	}
	progress("ingest: %d devices enrolled; signing %d batches of %d ballots each", opts.Devices, opts.SaturationBatches, opts.Batch)
	for _, d := range in.devs {
		for range opts.SaturationBatches {
			body, rows, err := in.author(d)
			if err != nil {
				return nil, err
			}
			d.batches = append(d.batches, body)
			in.rows = append(in.rows, rows)
		}
	}

	// Saturation.
	lat, elapsed, err := in.run(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("saturation run: %w", err)
	}
	if err := in.checkReceipts(); err != nil {
		return nil, err
	}
	res.Changes = len(lat) * opts.Batch
	res.ElapsedS = elapsed.Seconds()
	res.ChangesPerS = float64(res.Changes) / elapsed.Seconds()
	res.SaturatedP50MS, res.SaturatedP99MS = ms(percentile(lat, 0.50)), ms(percentile(lat, 0.99))
	progress("ingest: saturation %.0f changes/s (p99 %.0f ms); raw SQLite baseline next", res.ChangesPerS, res.SaturatedP99MS)

	// Raw SQLite baseline, right after, on the same disk.
	n, rawElapsed, err := rawInsert(ctx, filepath.Join(srv.dir, "raw.db"), in.rows)
	if err != nil {
		return nil, fmt.Errorf("raw SQLite baseline: %w", err)
	}
	in.rows = nil
	res.RawChanges, res.RawElapsedS = n, rawElapsed.Seconds()
	res.RawChangesPerS = float64(n) / rawElapsed.Seconds()

	// Paced, at the target load or 80% of what saturation reached.
	res.PacedLoad = min(IngestTarget, 0.8*res.ChangesPerS)
	interval := time.Duration(float64(opts.Devices*opts.Batch) / res.PacedLoad * float64(time.Second))
	per := max(2, int(opts.PacedFor/interval))
	progress("ingest: raw SQLite %.0f changes/s; paced run at %.0f changes/s (%d pushes per device, one every %s)",
		res.RawChangesPerS, res.PacedLoad, per, interval.Round(time.Millisecond))
	for _, d := range in.devs {
		for range per {
			body, _, err := in.author(d)
			if err != nil {
				return nil, err
			}
			d.batches = append(d.batches, body)
		}
	}
	lat, elapsed, err = in.run(ctx, &interval)
	if err != nil {
		return nil, fmt.Errorf("paced run: %w", err)
	}
	if err := in.checkReceipts(); err != nil {
		return nil, err
	}
	res.PacedPushes = len(lat)
	res.PacedAchieved = float64(len(lat)*opts.Batch) / elapsed.Seconds()
	res.PacedP50MS, res.PacedP99MS = ms(percentile(lat, 0.50)), ms(percentile(lat, 0.99))
	return res, nil
}

// enroll enrolls n station devices over HTTP, each for its own village
// (and, past the county's villages, a further round of ballots), and
// obtains their tokens.
func (in *ingest) enroll(ctx context.Context, n int) error {
	d := election.Dongliao()
	var elections []election.Election
	seen := map[string]bool{}
	for _, e := range d.Elections {
		if !seen[e.Village] && e.Seats > 0 && len(e.Candidates) > 0 {
			seen[e.Village] = true
			elections = append(elections, e)
		}
	}
	if len(elections) == 0 {
		return errors.New("the county has no elections")
	}
	for i := range n {
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return err
		}
		dev := &ingestDevice{id: syncproto.DeviceID(pub), priv: priv, election: elections[i%len(elections)], round: 1 + i/len(elections)}
		code, _, err := in.srv.svc.CreateEnrollCode(ctx, election.RoleStation, dev.election.Village, time.Hour)
		if err != nil {
			return fmt.Errorf("enrollment code: %w", err)
		}
		var er syncproto.EnrollResponse
		if err := in.call(ctx, http.MethodPost, "/v1/enroll", syncproto.EnrollRequest{Code: code, PublicKey: syncproto.Bytes(pub), Label: "bench " + strconv.Itoa(i)}, &er); err != nil {
			return fmt.Errorf("enroll: %w", err)
		}
		var nr syncproto.NonceResponse
		if err := in.call(ctx, http.MethodGet, "/v1/nonce", nil, &nr); err != nil {
			return fmt.Errorf("nonce: %w", err)
		}
		var tr syncproto.TokenResponse
		treq := syncproto.TokenRequest{Device: dev.id, Nonce: nr.Nonce, Sig: ed25519.Sign(priv, syncproto.TokenProof(dev.id, nr.Nonce))}
		if err := in.call(ctx, http.MethodPost, "/v1/token", treq, &tr); err != nil {
			return fmt.Errorf("token: %w", err)
		}
		dev.token = tr.Token
		in.devs = append(in.devs, dev)
	}
	return nil
}

// call sends a small uncompressed JSON request and decodes the answer.
func (in *ingest) call(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := syncproto.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, in.srv.url+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", syncproto.MediaType)
	resp, err := in.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: status %d: %s", method, path, resp.StatusCode, b)
	}
	return syncproto.Unmarshal(b, out)
}

// author signs d's next batch of ballots and returns the compressed sync
// request and the rows it carries.
func (in *ingest) author(d *ingestDevice) ([]byte, []rawRow, error) {
	e := d.election
	marks := make(map[string]string, len(e.Candidates))
	for k, c := range e.Candidates {
		marks[c] = election.MarkNo
		if k < e.Seats {
			marks[c] = election.MarkYes
		}
	}
	changes := make([]syncproto.Change, 0, in.batch)
	rows := make([]rawRow, 0, in.batch)
	prev := d.head
	now := time.Now().UnixMilli()
	for range in.batch {
		d.seq++
		serial := int(d.seq)
		body, err := syncproto.Marshal(election.Ballot{Election: e.ID, Round: d.round, Serial: serial, Marks: marks, WriteIns: []string{}})
		if err != nil {
			return nil, nil, err
		}
		c := syncproto.Change{
			Device: d.id, Seq: d.seq, Collection: "ballot",
			ID:  e.ID + "-R" + strconv.Itoa(d.round) + "-B" + strconv.Itoa(serial),
			HLC: d.clock.Now(now), At: now, Schema: 1, Body: body,
		}
		h := c.Hash(d.head)
		d.head = h
		changes = append(changes, c)
		rows = append(rows, rawRow{device: c.Device, seq: c.Seq, coll: c.Collection, id: c.ID, wall: c.Wall, logical: c.Logical, at: c.At, body: body, hash: h[:]})
	}
	if changes[0].Seq > 1 {
		changes[0].Prev = &prev
	}
	sig := syncproto.SignHash(d.priv, d.head)
	changes[len(changes)-1].Sig = sig
	rows[len(rows)-1].sig = sig
	raw, err := syncproto.Marshal(syncproto.SyncRequest{Changes: changes, PullMax: -1, Now: now})
	if err != nil {
		return nil, nil, err
	}
	return in.zenc.EncodeAll(raw, nil), rows, nil
}

// run has every device push all its batches, concurrently, and returns
// each push's latency and the run's wall time. With every set, each device
// pushes on a schedule: one push every *every, from a random phase, its
// latency counted from when it was due.
func (in *ingest) run(ctx context.Context, every *time.Duration) ([]time.Duration, time.Duration, error) {
	var (
		mu   sync.Mutex
		lat  []time.Duration
		errs []error
		wg   sync.WaitGroup
	)
	start := time.Now().Add(50 * time.Millisecond)
	for i, d := range in.devs {
		var phase time.Duration
		if every != nil {
			phase = time.Duration(mrand.New(mrand.NewPCG(uint64(i), 7)).Int64N(int64(*every)))
		}
		wg.Go(func() {
			var mine []time.Duration
			for k, body := range d.batches {
				due := start
				if every != nil {
					due = start.Add(phase + time.Duration(k)*(*every))
				}
				if wait := time.Until(due); wait > 0 {
					select {
					case <-ctx.Done():
						return
					case <-time.After(wait):
					}
				}
				sent := time.Now()
				if every == nil {
					due = sent
				}
				answer, err := in.push(ctx, d, body)
				if err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("device %s push %d: %w", d.id, k+1, err))
					mu.Unlock()
					return
				}
				mine = append(mine, time.Since(due))
				d.lastAnswer = answer
			}
			d.batches = nil
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return nil, 0, err
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	return lat, elapsed, nil
}

// push sends one compressed sync request for d and returns the answer's
// body as received.
func (in *ingest) push(ctx context.Context, d *ingestDevice, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.srv.url+"/v1/sync", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+d.token)
	req.Header.Set("Content-Type", syncproto.MediaType)
	req.Header.Set("Content-Encoding", "zstd")
	req.Header.Set("Accept-Encoding", "zstd")
	req.Header.Set(syncproto.HeaderProtocol, strconv.Itoa(syncproto.Version))
	resp, err := in.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		if resp.Header.Get("Content-Encoding") == "zstd" {
			b, _ = in.decode(b)
		}
		return nil, fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	if resp.Header.Get("Content-Encoding") == "zstd" {
		return in.decode(b)
	}
	return b, nil
}

func (in *ingest) decode(b []byte) ([]byte, error) { return in.zdec.DecodeAll(b, nil) }

// checkReceipts checks that every device's last answer carries a receipt
// covering everything it pushed: the server acknowledged every change.
func (in *ingest) checkReceipts() error {
	for _, d := range in.devs {
		var resp syncproto.SyncResponse
		if err := syncproto.Unmarshal(d.lastAnswer, &resp); err != nil {
			return fmt.Errorf("device %s: last answer: %w", d.id, err)
		}
		if resp.Receipt == nil || resp.Receipt.Through != d.seq || resp.Receipt.Head != d.head {
			return fmt.Errorf("device %s: the server's receipt does not cover seq %d with its head", d.id, d.seq)
		}
	}
	return nil
}

// rawInsert inserts rows into a plain SQLite table at path, one
// transaction per batch, WAL and synchronous=FULL as the server store, and
// returns the rows inserted and the time it took.
func rawInsert(ctx context.Context, path string, batches [][]rawRow) (int, time.Duration, error) {
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path)}
	db, err := sql.Open("sqlite", u.String()+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate")
	if err != nil {
		return 0, 0, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	var mode string
	var syncMode int
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return 0, 0, err
	}
	if err := db.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&syncMode); err != nil {
		return 0, 0, err
	}
	if !strings.EqualFold(mode, "wal") || syncMode != 2 {
		return 0, 0, fmt.Errorf("journal mode %q, synchronous %d: want wal, 2 (FULL)", mode, syncMode)
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE changes (
		device TEXT NOT NULL, seq INTEGER NOT NULL, coll TEXT NOT NULL, id TEXT NOT NULL,
		wall INTEGER NOT NULL, logical INTEGER NOT NULL, at INTEGER NOT NULL,
		body BLOB NOT NULL, hash BLOB NOT NULL, sig BLOB,
		PRIMARY KEY (device, seq))`); err != nil {
		return 0, 0, err
	}
	n := 0
	start := time.Now()
	for _, batch := range batches {
		if err := rawBatch(ctx, db, batch); err != nil {
			return 0, 0, err
		}
		n += len(batch)
	}
	return n, time.Since(start), nil
}

func rawBatch(ctx context.Context, db *sql.DB, batch []rawRow) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	st, err := tx.PrepareContext(ctx, `INSERT INTO changes (device, seq, coll, id, wall, logical, at, body, hash, sig) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, r := range batch {
		if _, err := st.ExecContext(ctx, r.device, int64(r.seq), r.coll, r.id, r.wall, int64(r.logical), r.at, r.body, r.hash, r.sig); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// percentile is the nearest-rank p-quantile of ds (which it sorts).
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := int(math.Ceil(float64(len(ds))*p)) - 1
	return ds[min(max(i, 0), len(ds)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

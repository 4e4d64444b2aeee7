package bench

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"villagesync/syncproto"
)

// The CouchDB model: what CouchDB's replicator (CouchDB Replication
// Protocol, version 3, as docs.couchdb.org describes it) sends and receives
// to move the same records as one villagesync sync. The request and
// response bodies are built here byte for byte and measured; nothing is
// estimated.
//
// A station keeps its records in a local database (PouchDB or an embedded
// CouchDB) and syncs with the server's database by two one-shot
// replications, as CouchDB's "sync" does: a push (station → server) and a
// pull (server → station). Only requests to the remote (server) database
// cross the link; the replicator reads and writes the local one directly.
//
// Push replication (the server is the target), per sync:
//
//	GET  /db                        db info (verify peers)
//	GET  /db/_local/<rep id>        replication log: 404 the first time
//	POST /db/_revs_diff             {"<id>":["1-<rev>"],…} → {"<id>":{"missing":["1-<rev>"]},…}
//	POST /db/_bulk_docs             {"docs":[…],"new_edits":false} → []
//	PUT  /db/_local/<rep id>        the replication log, with its history
//
// The last three only when the station has changes; _revs_diff and
// _bulk_docs once per batch of 500 documents (worker_batch_size). Pull
// replication (the server is the source), per sync:
//
//	GET  /db                        db info
//	GET  /db/_local/<rep id>        replication log
//	GET  /db/_changes?style=all_docs&since=<seq>&filter=…   {"results":[…],"last_seq":…}
//	POST /db/_bulk_get?revs=true    {"docs":[{"id","rev"}]} → {"results":[{"id","docs":[{"ok":{…}}]}]}
//	PUT  /db/_local/<rep id>        the replication log
//
// the last two only when the server has changes for the station.
//
// A document is the record's body with "_id" (the record id), "_rev"
// ("1-" and 32 hex digits), "_revisions" (the revision history the
// replicator must send with new_edits=false) and "type" (its collection).
// Bodies travel uncompressed, as CouchDB sends and accepts them by default;
// JSON responses end with a newline, as CouchDB's do.
//
// Where CouchDB versions differ, the model takes the smaller choice, so
// that the comparison flatters CouchDB: integer update sequences (CouchDB
// 2 and 3 use opaque strings of 60+ bytes), no _ensure_full_commit (1.x
// sends one per batch), _bulk_docs answering [] for new_edits=false (2.x
// and later report only failures), no authentication or cookie requests,
// no signatures, device ids or capture times in the documents (villagesync
// sends all three). A replication log keeps one history entry per update,
// up to 50, as CouchDB's does.
const (
	couchBatch    = 500 // worker_batch_size
	couchLogLimit = 50  // history entries a replication log keeps
)

// couchSync is one villagesync sync as CouchDB would replicate it.
type couchSync struct {
	Push, Pull []record
}

// couchResult is the modelled traffic of a series of syncs, per sync.
type couchResult struct {
	Bytes    []int64 // request + response bodies
	Requests []int   // HTTP requests
}

// couchModel replays syncs through the model. pushLogs and pullLogs are how
// many replications of each direction the station ran before the first
// (their replication logs' history); docCount is what the server database
// holds before.
type couchModel struct {
	pushLogs, pullLogs int
	docCount           int
	seq                int // the server database's update sequence
	localSeq           int // the station database's
	bytes              int64
	requests           int
	err                error // the first body that could not be encoded
}

func (m *couchModel) exchange(req, resp []byte) {
	m.requests++
	m.bytes += int64(len(req) + len(resp))
}

// replay models every sync in order.
func (m *couchModel) replay(syncs []couchSync) (couchResult, error) {
	var res couchResult
	for i, s := range syncs {
		requests, bytes := m.requests, m.bytes
		m.push(i, s.Push)
		m.pull(i, s.Pull)
		res.Requests = append(res.Requests, m.requests-requests)
		res.Bytes = append(res.Bytes, m.bytes-bytes)
	}
	if m.err != nil {
		return couchResult{}, fmt.Errorf("CouchDB model: %w", m.err)
	}
	return res, nil
}

// json encodes v as CouchDB writes JSON: compact, UTF-8, no HTML escaping.
func (m *couchModel) json(v any) []byte {
	b, err := syncproto.Marshal(v)
	if err != nil && m.err == nil {
		m.err = err
	}
	return b
}

// jsonLine is a JSON response body: CouchDB ends it with a newline.
func (m *couchModel) jsonLine(v any) []byte { return append(m.json(v), '\n') }

func (m *couchModel) push(n int, docs []record) {
	repID := hexID("push")
	m.exchange(nil, m.dbInfo())
	m.exchange(nil, m.replicationLog(repID, m.pushLogs, m.localSeq))
	if len(docs) == 0 {
		return
	}
	start := m.localSeq
	for lo := 0; lo < len(docs); lo += couchBatch {
		batch := docs[lo:min(lo+couchBatch, len(docs))]
		diff := make(map[string][]string, len(batch))
		missing := make(map[string]map[string][]string, len(batch))
		bulk := struct {
			Docs     []json.RawMessage `json:"docs"`
			NewEdits bool              `json:"new_edits"`
		}{}
		for _, r := range batch {
			rev := revision(r)
			diff[r.ID] = []string{rev}
			missing[r.ID] = map[string][]string{"missing": {rev}}
			bulk.Docs = append(bulk.Docs, m.couchDoc(r))
		}
		m.exchange(m.json(diff), m.jsonLine(missing))
		m.exchange(m.json(bulk), []byte("[]\n"))
	}
	m.localSeq += len(docs)
	m.seq += len(docs)
	m.docCount += len(docs)
	m.pushLogs++
	m.exchange(m.replicationLogDoc(repID, m.pushLogs, start, m.localSeq, len(docs), n), m.logSaved(repID, m.pushLogs))
}

func (m *couchModel) pull(n int, docs []record) {
	repID := hexID("pull")
	m.exchange(nil, m.dbInfo())
	m.exchange(nil, m.replicationLog(repID, m.pullLogs, m.seq))
	type rev struct {
		Rev string `json:"rev"`
	}
	type change struct {
		Seq     int    `json:"seq"`
		ID      string `json:"id"`
		Changes []rev  `json:"changes"`
	}
	changes := struct {
		Results []change `json:"results"`
		LastSeq int      `json:"last_seq"`
	}{Results: []change{}}
	start := m.seq
	for i, r := range docs {
		changes.Results = append(changes.Results, change{Seq: m.seq + i + 1, ID: r.ID, Changes: []rev{{revision(r)}}})
	}
	// The documents pulled were written to the server by someone else.
	m.seq += len(docs)
	m.docCount += len(docs)
	changes.LastSeq = m.seq
	m.exchange(nil, m.jsonLine(changes))
	if len(docs) == 0 {
		return
	}
	type want struct {
		ID  string `json:"id"`
		Rev string `json:"rev"`
	}
	type ok struct {
		OK json.RawMessage `json:"ok"`
	}
	type result struct {
		ID   string `json:"id"`
		Docs []ok   `json:"docs"`
	}
	var req struct {
		Docs []want `json:"docs"`
	}
	var resp struct {
		Results []result `json:"results"`
	}
	for _, r := range docs {
		req.Docs = append(req.Docs, want{r.ID, revision(r)})
		resp.Results = append(resp.Results, result{ID: r.ID, Docs: []ok{{m.couchDoc(r)}}})
	}
	m.exchange(m.json(req), m.jsonLine(resp))
	m.pullLogs++
	m.exchange(m.replicationLogDoc(repID, m.pullLogs, start, m.seq, len(docs), n), m.logSaved(repID, m.pullLogs))
}

// dbInfo is GET /db's answer (CouchDB 1.x shape, integer sequences).
func (m *couchModel) dbInfo() []byte {
	return m.jsonLine(map[string]any{
		"db_name": "villagesync", "doc_count": m.docCount, "doc_del_count": 0,
		"update_seq": m.seq, "purge_seq": 0, "compact_running": false,
		"sizes":               map[string]int{"active": 1200 * m.docCount, "disk": 2400 * m.docCount, "external": 900 * m.docCount},
		"instance_start_time": "0", "disk_format_version": 6,
	})
}

// historyEntry is one entry of a replication log's history.
type historyEntry struct {
	DocWriteFailures int    `json:"doc_write_failures"`
	DocsRead         int    `json:"docs_read"`
	DocsWritten      int    `json:"docs_written"`
	EndLastSeq       int    `json:"end_last_seq"`
	EndTime          string `json:"end_time"`
	MissingChecked   int    `json:"missing_checked"`
	MissingFound     int    `json:"missing_found"`
	RecordedSeq      int    `json:"recorded_seq"`
	SessionID        string `json:"session_id"`
	StartLastSeq     int    `json:"start_last_seq"`
	StartTime        string `json:"start_time"`
}

type replicationLog struct {
	ID                   string         `json:"_id"`
	Rev                  string         `json:"_rev"`
	History              []historyEntry `json:"history"`
	ReplicationIDVersion int            `json:"replication_id_version"`
	SessionID            string         `json:"session_id"`
	SourceLastSeq        int            `json:"source_last_seq"`
}

// couchTime is the RFC 5322 time a replication log records.
var couchTime = time.Date(2026, 3, 8, 9, 0, 0, 0, time.UTC).Format(time.RFC1123)

// replicationLog is GET /db/_local/<id>'s answer after logs updates: the
// not-found error the first time, then the log with one history entry per
// update (up to couchLogLimit).
func (m *couchModel) replicationLog(repID string, logs, seq int) []byte {
	if logs == 0 {
		return m.jsonLine(map[string]string{"error": "not_found", "reason": "missing"})
	}
	return m.jsonLine(m.logDoc(repID, logs, seq, seq, 0, 0))
}

// replicationLogDoc is the body of the PUT that records update number logs.
func (m *couchModel) replicationLogDoc(repID string, logs, start, end, docs, n int) []byte {
	return m.json(m.logDoc(repID, logs, start, end, docs, n))
}

func (m *couchModel) logDoc(repID string, logs, start, end, docs, n int) replicationLog {
	l := replicationLog{ID: "_local/" + repID, Rev: "0-" + strconv.Itoa(logs), ReplicationIDVersion: 3}
	for k := range min(logs, couchLogLimit) {
		e := historyEntry{
			DocsRead: docs, DocsWritten: docs, MissingChecked: docs, MissingFound: docs,
			StartLastSeq: start, EndLastSeq: end, RecordedSeq: end,
			StartTime: couchTime, EndTime: couchTime,
			SessionID: hexID(fmt.Sprintf("session/%s/%d/%d", repID, n, k)),
		}
		l.History = append(l.History, e)
	}
	l.SessionID = l.History[0].SessionID
	l.SourceLastSeq = end
	return l
}

// logSaved is the answer to the PUT of a replication log.
func (m *couchModel) logSaved(repID string, logs int) []byte {
	return m.jsonLine(map[string]any{"id": "_local/" + repID, "ok": true, "rev": "0-" + strconv.Itoa(logs+1)})
}

// couchDoc is r as a CouchDB document in a _bulk_docs or _bulk_get body.
func (m *couchModel) couchDoc(r record) json.RawMessage {
	rev := revision(r)
	head := m.json(struct {
		ID        string `json:"_id"`
		Rev       string `json:"_rev"`
		Revisions struct {
			Start int      `json:"start"`
			IDs   []string `json:"ids"`
		} `json:"_revisions"`
		Type string `json:"type"`
	}{ID: r.ID, Rev: rev, Revisions: struct {
		Start int      `json:"start"`
		IDs   []string `json:"ids"`
	}{1, []string{rev[2:]}}, Type: r.Collection})
	// The record's own fields follow the metadata in one object.
	if len(head) < 2 || len(r.Body) <= 2 {
		return head
	}
	doc := append(head[:len(head)-1:len(head)-1], ',')
	return append(doc, r.Body[1:]...)
}

// revision is the record's first revision id: "1-" and an MD5 in hex, as
// CouchDB computes one from the document.
func revision(r record) string {
	sum := md5.Sum(append([]byte(r.ID+"\x00"), r.Body...))
	return "1-" + hex.EncodeToString(sum[:])
}

// hexID is a 32-hex-digit id derived from s (replication and session ids
// are UUIDs in hex).
func hexID(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:16])
}

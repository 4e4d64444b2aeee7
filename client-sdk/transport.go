package client

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"villagesync/syncproto"
)

// Size limits of what the device reads from the server. A pulled page is
// bounded by syncproto.MaxPullBytes plus one change; the rest is envelope.
const (
	maxResponseBytes = 2*syncproto.MaxPullBytes + 1<<20
	maxErrorBytes    = 64 << 10
)

// tokenMargin is how long before its expiry a cached token is renewed.
const tokenMargin = 30 * time.Second

// nonceMargin is how long before its documented expiry a saved nonce is no
// longer tried: the device's and the server's clocks tick at their own pace.
const nonceMargin = time.Minute

// httpStatusCodes maps an HTTP status to the code a client assumes when an
// error response carries no protocol error body (a proxy's error page, a
// load balancer's 502). It is the reverse of the server's code→status table.
var httpStatusCodes = map[int]syncproto.Code{
	http.StatusBadRequest:            syncproto.CodeBadRequest,
	http.StatusUnauthorized:          syncproto.CodeUnauthenticated,
	http.StatusForbidden:             syncproto.CodeForbidden,
	http.StatusNotFound:              syncproto.CodeNotFound,
	http.StatusConflict:              syncproto.CodeConflict,
	http.StatusGone:                  syncproto.CodeNotFound,
	http.StatusRequestEntityTooLarge: syncproto.CodeTooLarge,
	http.StatusUnsupportedMediaType:  syncproto.CodeUnsupported,
	http.StatusUnprocessableEntity:   syncproto.CodeMalformedRecord,
	http.StatusTooManyRequests:       syncproto.CodeRateLimited,
	http.StatusInternalServerError:   syncproto.CodeInternal,
	http.StatusNotImplemented:        syncproto.CodeUnsupported,
	http.StatusBadGateway:            syncproto.CodeUnavailable,
	http.StatusServiceUnavailable:    syncproto.CodeUnavailable,
	http.StatusGatewayTimeout:        syncproto.CodeUnavailable,
}

// fallbackCode is the code of an error response without a protocol body.
func fallbackCode(status int) syncproto.Code {
	if c, ok := httpStatusCodes[status]; ok {
		return c
	}
	if status >= 500 {
		return syncproto.CodeUnavailable
	}
	return syncproto.CodeBadRequest
}

// api is the HTTP side of the protocol.
type api struct {
	base string
	hc   *http.Client
	zenc *zstd.Encoder
	zdec *zstd.Decoder
}

func newAPI(base string, hc *http.Client) *api {
	// Neither constructor fails with these options; a nil codec is reported
	// when it is used.
	zenc, _ := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedDefault))
	zdec, _ := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxResponseBytes))
	return &api{base: base, hc: hc, zenc: zenc, zdec: zdec}
}

// close releases the codecs; the api must not be used afterwards.
func (a *api) close() {
	if a.zenc != nil {
		_ = a.zenc.Close()
		a.zenc = nil
	}
	if a.zdec != nil {
		a.zdec.Close()
		a.zdec = nil
	}
}

// statusError is an error response: the protocol error it carried (or the
// fallback for its status) and the HTTP details retry decisions need.
type statusError struct {
	status     int
	retryAfter time.Duration
	err        *syncproto.Error
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }

// transportError is a failure to exchange a request and a response with the
// server: connection refused or reset, timeout, torn or garbled response.
// The request may or may not have reached the server.
type transportError struct {
	op  string
	err error
}

func (e *transportError) Error() string { return e.op + ": " + e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

// retryable reports whether sending the same request again may succeed.
func retryable(err error) bool {
	if _, ok := errors.AsType[*transportError](err); ok {
		return true
	}
	if se, ok := errors.AsType[*statusError](err); ok && se.status >= 500 {
		return true
	}
	if e, ok := errors.AsType[*syncproto.Error](err); ok {
		return e.Code.Retryable()
	}
	return false
}

// retryAfter returns the wait the server asked for, if any.
func retryAfter(err error) time.Duration {
	if se, ok := errors.AsType[*statusError](err); ok {
		return se.retryAfter
	}
	return 0
}

// exchange is the accounting of one sync: round trips and bytes on the wire.
type exchange struct {
	roundTrips int
	bytesUp    int64
	bytesDown  int64
}

// do sends one request and returns the decoded (decompressed) body of a 2xx
// response. Error responses become *statusError.
func (a *api) do(ctx context.Context, method, path, token string, body []byte, zstdBody bool, ex *exchange) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set(syncproto.HeaderProtocol, strconv.Itoa(syncproto.Version))
	req.Header.Set("Accept", syncproto.MediaType)
	req.Header.Set("Accept-Encoding", "zstd, gzip")
	if body != nil {
		req.Header.Set("Content-Type", syncproto.MediaType)
		if zstdBody {
			req.Header.Set("Content-Encoding", "zstd")
		}
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ex != nil {
		ex.roundTrips++
		ex.bytesUp += int64(len(body))
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &transportError{op: method + " " + path, err: err}
	}
	defer func() { _ = resp.Body.Close() }()

	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	limit := int64(maxResponseBytes)
	if !ok {
		limit = maxErrorBytes
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if ex != nil {
		ex.bytesDown += int64(len(raw))
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &transportError{op: method + " " + path + ": read response", err: err}
	}
	if int64(len(raw)) > limit && ok {
		return nil, &transportError{op: method + " " + path, err: fmt.Errorf("response over %d bytes", limit)}
	}
	data, derr := a.decompress(resp.Header.Get("Content-Encoding"), raw, int(limit))
	if !ok {
		return nil, errorResponse(resp, data, derr)
	}
	if derr != nil {
		return nil, &transportError{op: method + " " + path + ": read response", err: derr}
	}
	return data, nil
}

// errorResponse maps an error response back to the protocol error it
// carries, or to the fallback code of its status.
func errorResponse(resp *http.Response, data []byte, derr error) error {
	se := &statusError{status: resp.StatusCode}
	if s := resp.Header.Get("Retry-After"); s != "" {
		if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil && n > 0 {
			se.retryAfter = min(time.Duration(n)*time.Second, MaxBackoff)
		}
	}
	var body syncproto.ErrorBody
	if derr == nil && syncproto.Unmarshal(data, &body) == nil && body.Error != nil && body.Error.Code != "" {
		se.err = body.Error
		return se
	}
	se.err = syncproto.Errorf(fallbackCode(resp.StatusCode), "server answered %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	return se
}

// decompress decodes a response body by its Content-Encoding, refusing to
// produce more than limit bytes.
func (a *api) decompress(encoding string, raw []byte, limit int) ([]byte, error) {
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "", "identity":
		return raw, nil
	case "zstd":
		if a.zdec == nil {
			return nil, errors.New("zstd decoder unavailable")
		}
		out, err := a.zdec.DecodeAll(raw, nil)
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		if len(out) > limit {
			return nil, fmt.Errorf("zstd: response over %d bytes", limit)
		}
		return out, nil
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		out, err := io.ReadAll(io.LimitReader(zr, int64(limit)+1))
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		if len(out) > limit {
			return nil, fmt.Errorf("gzip: response over %d bytes", limit)
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported content encoding %q", encoding)
}

// call sends a small JSON request (no compression) and decodes the JSON
// answer into out.
func (a *api) call(ctx context.Context, method, path, token string, in, out any, ex *exchange) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = syncproto.Marshal(in); err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	data, err := a.do(ctx, method, path, token, body, false, ex)
	if err != nil {
		return err
	}
	if err := syncproto.Unmarshal(data, out); err != nil {
		return &transportError{op: method + " " + path + ": invalid response", err: err}
	}
	return nil
}

// compress zstd-encodes a request body.
func (a *api) compress(body []byte) ([]byte, error) {
	if a.zenc == nil {
		return nil, errors.New("zstd encoder unavailable")
	}
	return a.zenc.EncodeAll(body, make([]byte, 0, len(body)/3+64)), nil
}

// accessToken returns a valid access token: the cached one, or a new one
// obtained by signing a server nonce. A nonce saved from the last sync
// response is used first, so renewal usually costs one round trip.
func (d *Device) accessToken(ctx context.Context, ex *exchange) (string, error) {
	tok, err := metaString(ctx, d.st.db, metaToken)
	if err != nil {
		return "", err
	}
	exp, err := metaInt(ctx, d.st.db, metaTokenExpires)
	if err != nil {
		return "", err
	}
	offset, err := metaInt(ctx, d.st.db, metaClockOffset)
	if err != nil {
		return "", err
	}
	// The expiry is on the server's clock.
	if tok != "" && exp-tokenMargin.Milliseconds() > d.nowMS()+offset {
		return tok, nil
	}
	nonce, err := metaString(ctx, d.st.db, metaNonce)
	if err != nil {
		return "", err
	}
	// A nonce saved so long ago that it has expired would only be refused
	// (a wasted round trip: election-day syncs are hours apart). It was
	// saved at the last sync, by this device's clock.
	if last, err := metaInt(ctx, d.st.db, metaLastSync); err != nil {
		return "", err
	} else if nonce != "" && d.nowMS()-last > (syncproto.NonceLifetime-nonceMargin).Milliseconds() {
		d.log.Debug("saved nonce has expired, fetching a fresh one")
		nonce = ""
	}
	if nonce != "" {
		// A nonce is single-use whatever the outcome.
		if err := setMeta(ctx, d.st.db, metaNonce, ""); err != nil {
			return "", err
		}
		tok, err := d.requestToken(ctx, nonce, ex)
		if err == nil {
			return tok, nil
		}
		if syncproto.ErrorCode(err) != syncproto.CodeNonceInvalid {
			return "", err
		}
		d.log.Debug("saved nonce refused, fetching a fresh one")
	}
	var nr syncproto.NonceResponse
	if err := d.api.call(ctx, "GET", "/v1/nonce", "", nil, &nr, ex); err != nil {
		return "", fmt.Errorf("get nonce: %w", err)
	}
	return d.requestToken(ctx, nr.Nonce, ex)
}

// requestToken proves possession of the device key over nonce and caches
// the token it gets.
func (d *Device) requestToken(ctx context.Context, nonce string, ex *exchange) (string, error) {
	req := syncproto.TokenRequest{
		Device: d.id,
		Nonce:  nonce,
		Sig:    ed25519.Sign(d.priv, syncproto.TokenProof(d.id, nonce)),
	}
	var resp syncproto.TokenResponse
	if err := d.api.call(ctx, "POST", "/v1/token", "", req, &resp, ex); err != nil {
		return "", fmt.Errorf("get token: %w", err)
	}
	if resp.Token == "" {
		return "", &transportError{op: "get token", err: errors.New("server sent an empty token")}
	}
	if err := setMeta(ctx, d.st.db, metaToken, resp.Token); err != nil {
		return "", err
	}
	if err := setMeta(ctx, d.st.db, metaTokenExpires, resp.Expires); err != nil {
		return "", err
	}
	return resp.Token, nil
}

// dropToken forgets the cached token.
func (d *Device) dropToken(ctx context.Context) error {
	if err := setMeta(ctx, d.st.db, metaToken, ""); err != nil {
		return err
	}
	return setMeta(ctx, d.st.db, metaTokenExpires, "")
}

// jwks is the server's public key set (RFC 7517, OKP keys of RFC 8037).
type jwks struct {
	Keys []struct {
		Kty string `json:"kty"`
		Crv string `json:"crv"`
		Kid string `json:"kid"`
		X   string `json:"x"`
	} `json:"keys"`
}

// fetchServerKeys reads the server's current public keys, for receipts
// signed with a key rotated in after enrollment.
func (d *Device) fetchServerKeys(ctx context.Context, ex *exchange) ([]syncproto.ServerKey, error) {
	var set jwks
	if err := d.api.call(ctx, "GET", "/.well-known/jwks.json", "", nil, &set, ex); err != nil {
		return nil, fmt.Errorf("get server keys: %w", err)
	}
	var keys []syncproto.ServerKey
	for _, k := range set.Keys {
		if k.Kty != "OKP" || k.Crv != "Ed25519" || k.Kid == "" {
			continue
		}
		pub, err := base64.RawURLEncoding.DecodeString(k.X)
		if err != nil || len(pub) != ed25519.PublicKeySize {
			continue
		}
		keys = append(keys, syncproto.ServerKey{KeyID: k.Kid, PublicKey: pub})
	}
	return keys, nil
}

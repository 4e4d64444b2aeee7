package httpapi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/labstack/echo/v4"

	"villagesync/syncproto"
)

// Content codings the adapter reads and writes.
const (
	encodingGzip     = "gzip"
	encodingZstd     = "zstd"
	encodingIdentity = "identity"
)

// minCompress is the response size below which compression costs more than
// it saves.
const minCompress = 512

// maxZstdWindow bounds the window a zstd request body may ask the decoder to
// allocate.
const maxZstdWindow = 8 << 20

// codecs holds the compressors and pooled decompressors of one API.
type codecs struct {
	limit int64 // decompressed bytes
	zenc  *zstd.Encoder
	zdec  sync.Pool // *zstd.Decoder
	gzr   sync.Pool // *gzip.Reader
	gzw   sync.Pool // *gzip.Writer
}

// newCodecs returns the codecs for bodies of at most limit bytes. Should the
// zstd encoder be unavailable, responses fall back to gzip.
func newCodecs(limit int64, log *slog.Logger) *codecs {
	cs := &codecs{limit: limit}
	zenc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault))
	if err != nil {
		log.Error("zstd encoder unavailable: responses fall back to gzip", logErr, err)
	} else {
		cs.zenc = zenc
	}
	cs.zdec.New = func() any {
		d, err := zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(maxZstdWindow),
			zstd.WithDecoderMaxMemory(uint64(max(limit, maxZstdWindow))),
		)
		if err != nil {
			return err
		}
		return d
	}
	cs.gzr.New = func() any { return new(gzip.Reader) }
	cs.gzw.New = func() any {
		w, _ := gzip.NewWriterLevel(nil, gzip.DefaultCompression) // the level is valid
		return w
	}
	return cs
}

// capReader reads at most n bytes from r and notes whether r had more.
type capReader struct {
	r        io.Reader
	n        int64
	exceeded bool
}

var errCapExceeded = errors.New("body over its size limit")

func (c *capReader) Read(p []byte) (int, error) {
	if c.n <= 0 {
		// Probe for one more byte to tell "exactly at the limit" from "over".
		var one [1]byte
		n, err := c.r.Read(one[:])
		if n > 0 {
			c.exceeded = true
			return 0, errCapExceeded
		}
		return 0, err
	}
	if int64(len(p)) > c.n {
		p = p[:c.n]
	}
	n, err := c.r.Read(p)
	c.n -= int64(n)
	return n, err
}

func tooLarge(limit int64) error {
	return syncproto.Errorf(syncproto.CodeTooLarge, "request body is over the %d-byte limit (decompressed)", limit)
}

// readBody reads the request body, decoding its Content-Encoding, and
// refuses it with CodeTooLarge as soon as more than limit decompressed bytes
// (or more compressed bytes than any body within the limit needs) arrive.
func (a *api) readBody(c echo.Context, limit int64) ([]byte, error) {
	limit = min(limit, a.codecs.limit)
	req := c.Request()
	enc := strings.ToLower(strings.TrimSpace(req.Header.Get(echo.HeaderContentEncoding)))
	rawLimit := limit
	if enc != "" && enc != encodingIdentity {
		// Incompressible data grows slightly when compressed.
		rawLimit = limit + limit/64 + 1024
	}
	if req.ContentLength > rawLimit {
		return nil, tooLarge(limit)
	}
	raw := &capReader{r: req.Body, n: rawLimit}
	var body io.Reader
	switch enc {
	case "", encodingIdentity:
		body = raw
	case encodingGzip, "x-gzip":
		zr := a.codecs.gzr.Get().(*gzip.Reader)
		defer a.codecs.gzr.Put(zr)
		if err := zr.Reset(raw); err != nil {
			return nil, decodeError(raw, limit, encodingGzip, err)
		}
		body = zr
	case encodingZstd:
		v := a.codecs.zdec.Get()
		zd, ok := v.(*zstd.Decoder)
		if !ok {
			return nil, fmt.Errorf("zstd decoder: %v", v)
		}
		defer func() {
			_ = zd.Reset(nil)
			a.codecs.zdec.Put(zd)
		}()
		if err := zd.Reset(raw); err != nil {
			return nil, decodeError(raw, limit, encodingZstd, err)
		}
		body = zd
	default:
		return nil, syncproto.Errorf(syncproto.CodeUnsupported, "Content-Encoding %q is not supported: use gzip, zstd or none", enc)
	}
	var buf bytes.Buffer
	if req.ContentLength > 0 && enc == "" {
		buf.Grow(int(req.ContentLength))
	}
	n, err := buf.ReadFrom(io.LimitReader(body, limit+1))
	switch {
	case raw.exceeded, n > limit:
		return nil, tooLarge(limit)
	case err != nil && (enc == "" || enc == encodingIdentity):
		return nil, syncproto.Errorf(syncproto.CodeBadRequest, "reading request body: %v", err)
	case err != nil:
		return nil, decodeError(raw, limit, enc, err)
	}
	return buf.Bytes(), nil
}

// decodeError reports a body that does not decompress.
func decodeError(raw *capReader, limit int64, enc string, err error) error {
	if raw.exceeded || errors.Is(err, zstd.ErrDecoderSizeExceeded) || errors.Is(err, zstd.ErrWindowSizeExceeded) {
		return tooLarge(limit)
	}
	return syncproto.Errorf(syncproto.CodeBadRequest, "request body is not valid %s", enc)
}

// negotiate picks the response coding from an Accept-Encoding header:
// zstd if acceptable (and zstdOK), else gzip, else identity.
func negotiate(accept string, zstdOK bool) string {
	if accept == "" {
		return encodingIdentity
	}
	q := map[string]float64{}
	for part := range strings.SplitSeq(accept, ",") {
		name, params, _ := strings.Cut(part, ";")
		name = strings.ToLower(strings.TrimSpace(name))
		weight := 1.0
		for p := range strings.SplitSeq(params, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					weight = f
				}
			}
		}
		q[name] = weight
	}
	ok := func(coding string) bool {
		if w, listed := q[coding]; listed {
			return w > 0
		}
		w, star := q["*"]
		return star && w > 0
	}
	switch {
	case zstdOK && ok(encodingZstd):
		return encodingZstd
	case ok(encodingGzip):
		return encodingGzip
	}
	return encodingIdentity
}

// send writes v as the protocol's JSON with status.
func (a *api) send(c echo.Context, status int, v any) error {
	b, err := syncproto.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	return a.sendBytes(c, status, syncproto.MediaType, b)
}

// sendBytes writes b, compressed if the client accepts it and b is worth
// compressing. The bytes are written as they are: never re-encoded.
func (a *api) sendBytes(c echo.Context, status int, contentType string, b []byte) error {
	h := c.Response().Header()
	h.Add(echo.HeaderVary, echo.HeaderAcceptEncoding)
	if len(b) >= minCompress {
		switch negotiate(c.Request().Header.Get(echo.HeaderAcceptEncoding), a.codecs.zenc != nil) {
		case encodingZstd:
			b = a.codecs.zenc.EncodeAll(b, make([]byte, 0, len(b)/3))
			h.Set(echo.HeaderContentEncoding, encodingZstd)
		case encodingGzip:
			var out bytes.Buffer
			out.Grow(len(b) / 3)
			zw := a.codecs.gzw.Get().(*gzip.Writer)
			zw.Reset(&out)
			_, err := zw.Write(b)
			if err == nil {
				err = zw.Close()
			}
			a.codecs.gzw.Put(zw)
			if err != nil {
				return fmt.Errorf("gzip response: %w", err)
			}
			b = out.Bytes()
			h.Set(echo.HeaderContentEncoding, encodingGzip)
		}
	}
	return c.Blob(status, contentType, b)
}

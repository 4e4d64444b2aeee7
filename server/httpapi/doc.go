// Package httpapi is the Echo (github.com/labstack/echo/v4) adapter of the
// villagesync server: it maps HTTP requests onto [server.Service] and the
// service's answers and errors back onto HTTP.
//
// # What it owns
//
//   - The routes: GET /healthz, GET /metrics, GET /.well-known/jwks.json,
//     POST /v1/enroll, GET /v1/nonce, POST /v1/token, and behind bearer
//     authentication POST /v1/sync, GET /v1/records/:collection/:id, the
//     county's review queue (GET /v1/review, POST /v1/review/:id/resolve)
//     and report (GET /v1/report, JSON or ?format=csv).
//   - Bodies on the wire: request bodies may be gzip or zstd encoded and are
//     capped in decompressed bytes (a decompression bomb is refused with
//     413 too_large without being inflated); responses are the exact bytes
//     of syncproto.Marshal, compressed with zstd or gzip when the client
//     accepts it.
//   - The one table from syncproto error codes to HTTP statuses ([Status])
//     and the one HTTPErrorHandler that renders every error as a
//     syncproto.ErrorBody. Internal errors are logged with the request id and
//     shown to clients as "internal error" only.
//   - Request ids (always generated here; a client-supplied X-Request-ID is
//     ignored), request logging without credentials, security headers, and
//     the http.Server timeouts ([NewHTTPServer]).
//
// # What it must not do
//
// It makes no decisions about data or access: the principal comes from the
// bearer token alone (never from the body, path or query), and scope checks
// belong to package server. It logs no tokens, keys, codes or record bodies.
package httpapi

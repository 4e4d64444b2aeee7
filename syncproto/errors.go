package syncproto

import (
	"errors"
	"fmt"
	"net/http"
)

// Code is a stable, machine-readable error code. Codes are part of the wire
// contract: they are only ever appended to, never renamed or reused.
type Code string

// The error codes. docs/protocol.md lists each with its HTTP status and what
// a client should do about it.
const (
	CodeBadRequest        Code = "bad_request"         // the request itself is malformed
	CodeMalformedRecord   Code = "malformed_record"    // a change's record fails its collection's schema
	CodeUnauthenticated   Code = "unauthenticated"     // no or invalid credentials
	CodeTokenExpired      Code = "token_expired"       // access token expired: get a new one and retry
	CodeForbidden         Code = "forbidden"           // the role may not do this at all
	CodeOutOfScope        Code = "out_of_scope"        // the role may, but not for that village/township
	CodeNotFound          Code = "not_found"           // no such thing (or not visible in scope)
	CodeBadSignature      Code = "bad_signature"       // a device or proof signature does not verify
	CodeChainBroken       Code = "chain_broken"        // hashes or sequence numbers of a run do not chain
	CodeEquivocation      Code = "equivocation"        // same device and seq, different content
	CodeConflict          Code = "conflict"            // a write collides with existing state
	CodeEnrollCodeInvalid Code = "enroll_code_invalid" // unknown, used or expired enrollment code
	CodeDeviceRevoked     Code = "device_revoked"      // the device was revoked by the county
	CodeNonceInvalid      Code = "nonce_invalid"       // unknown, used or expired server nonce
	CodeTooLarge          Code = "too_large"           // body or batch over its limit
	CodeRateLimited       Code = "rate_limited"        // slow down and retry later
	CodeUnsupported       Code = "unsupported"         // protocol or schema version not supported
	CodeInternal          Code = "internal"            // server fault; retry later
	CodeUnavailable       Code = "unavailable"         // server overloaded or shutting down; retry later
)

// Codes lists every code, in declaration order.
var Codes = []Code{
	CodeBadRequest, CodeMalformedRecord, CodeUnauthenticated, CodeTokenExpired,
	CodeForbidden, CodeOutOfScope, CodeNotFound, CodeBadSignature, CodeChainBroken,
	CodeEquivocation, CodeConflict, CodeEnrollCodeInvalid, CodeDeviceRevoked,
	CodeNonceInvalid, CodeTooLarge, CodeRateLimited, CodeUnsupported, CodeInternal,
	CodeUnavailable,
}

// httpStatuses is the one table from error codes to HTTP statuses.
var httpStatuses = map[Code]int{
	CodeBadRequest:        http.StatusBadRequest,
	CodeMalformedRecord:   http.StatusUnprocessableEntity,
	CodeUnauthenticated:   http.StatusUnauthorized,
	CodeTokenExpired:      http.StatusUnauthorized,
	CodeForbidden:         http.StatusForbidden,
	CodeOutOfScope:        http.StatusForbidden,
	CodeNotFound:          http.StatusNotFound,
	CodeBadSignature:      http.StatusBadRequest,
	CodeChainBroken:       http.StatusConflict,
	CodeEquivocation:      http.StatusConflict,
	CodeConflict:          http.StatusConflict,
	CodeEnrollCodeInvalid: http.StatusBadRequest,
	CodeDeviceRevoked:     http.StatusForbidden,
	CodeNonceInvalid:      http.StatusBadRequest,
	CodeTooLarge:          http.StatusRequestEntityTooLarge,
	CodeRateLimited:       http.StatusTooManyRequests,
	CodeUnsupported:       http.StatusBadRequest,
	CodeInternal:          http.StatusInternalServerError,
	CodeUnavailable:       http.StatusServiceUnavailable,
}

// HTTPStatus is the HTTP status a server answers the code with; an unknown
// code is 500.
func (c Code) HTTPStatus() int {
	if s, ok := httpStatuses[c]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Retryable reports whether the same request may succeed if sent again later
// unchanged (after a fresh token for CodeTokenExpired).
func (c Code) Retryable() bool {
	switch c {
	case CodeTokenExpired, CodeRateLimited, CodeInternal, CodeUnavailable, CodeNonceInvalid:
		return true
	}
	return false
}

// Error is the error every villagesync component returns across the wire.
// Its JSON form is the value of the "error" key of an error response body.
type Error struct {
	Code      Code   `json:"code"`
	Message   string `json:"message"`
	Seq       uint64 `json:"seq,omitempty"`        // the change the error is about, if any
	RequestID string `json:"request_id,omitempty"` // server request id, for support
}

func (e *Error) Error() string {
	msg := string(e.Code) + ": " + e.Message
	if e.Seq != 0 {
		msg += fmt.Sprintf(" (change seq %d)", e.Seq)
	}
	return msg
}

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, CodeInternal
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// ErrorBody is the body of every non-2xx response.
type ErrorBody struct {
	Error *Error `json:"error"`
}

package syncproto

import "testing"

func TestHTTPStatus(t *testing.T) {
	want := map[Code]int{
		CodeBadRequest:        400,
		CodeMalformedRecord:   422,
		CodeUnauthenticated:   401,
		CodeTokenExpired:      401,
		CodeForbidden:         403,
		CodeOutOfScope:        403,
		CodeNotFound:          404,
		CodeBadSignature:      400,
		CodeChainBroken:       409,
		CodeEquivocation:      409,
		CodeConflict:          409,
		CodeEnrollCodeInvalid: 400,
		CodeDeviceRevoked:     403,
		CodeNonceInvalid:      400,
		CodeTooLarge:          413,
		CodeRateLimited:       429,
		CodeUnsupported:       400,
		CodeInternal:          500,
		CodeUnavailable:       503,
	}
	if len(want) != len(Codes) {
		t.Fatalf("got %d codes, want %d in this table: add the new code here", len(Codes), len(want))
	}
	for _, code := range Codes {
		t.Run(string(code), func(t *testing.T) {
			if got := code.HTTPStatus(); got != want[code] {
				t.Errorf("Status(%s): got %d, want %d", code, got, want[code])
			}
		})
	}
	if got := Code("no_such_code").HTTPStatus(); got != 500 {
		t.Errorf("Status(unknown): got %d, want 500", got)
	}
}

package server

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"villagesync/election"
	"villagesync/syncproto"
)

// Enrollment codes are 80 random bits written as 16 Crockford base32
// characters in four dash-separated groups: "K7QW-3M9D-8HZT-0ANB".
const (
	crockford      = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	enrollCodeBits = 80
	enrollCodeLen  = enrollCodeBits / 5 // characters, without dashes
	maxLabelLen    = 64
)

// Alert kinds raised by enrollment.
const (
	AlertEnrollCodeInvalid = "enroll_code_invalid"
	AlertEnrollCodeReuse   = "enroll_code_reuse"
)

// formatEnrollCode writes 10 random bytes as a printed enrollment code.
func formatEnrollCode(b [enrollCodeBits / 8]byte) string {
	var out strings.Builder
	var acc uint32
	bits := 0
	n := 0
	for _, c := range b {
		acc = acc<<8 | uint32(c)
		bits += 8
		for bits >= 5 {
			bits -= 5
			if n > 0 && n%4 == 0 {
				out.WriteByte('-')
			}
			out.WriteByte(crockford[acc>>bits&31])
			n++
		}
	}
	return out.String()
}

// normalizeEnrollCode returns the printed form of a code as a person may type
// it: any case, dashes and spaces optional, O for 0 and I or L for 1. ok is
// false if it cannot be a code.
func normalizeEnrollCode(s string) (string, bool) {
	if len(s) > 4*enrollCodeLen {
		return "", false
	}
	var out strings.Builder
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '-' || c == ' ':
			continue
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		}
		switch c {
		case 'O':
			c = '0'
		case 'I', 'L':
			c = '1'
		}
		if strings.IndexByte(crockford, c) < 0 || n == enrollCodeLen {
			return "", false
		}
		if n > 0 && n%4 == 0 {
			out.WriteByte('-')
		}
		out.WriteByte(c)
		n++
	}
	return out.String(), n == enrollCodeLen
}

// hashEnrollCode is what the store keeps of a printed code.
func hashEnrollCode(printed string) string {
	sum := sha256.Sum256([]byte(printed))
	return hex.EncodeToString(sum[:])
}

// scopeCollection is the reference collection whose record a scope's code
// names.
func scopeCollection(r election.Role) string {
	switch r {
	case election.RoleStation:
		return "village"
	case election.RoleSupervisor:
		return "township"
	}
	return "county"
}

// checkScope validates a scope an administrator asked for: a known role, a
// code of the right shape that exists in the reference data, and for county
// and observer the county this server serves ("" stands for it).
func (s *Service) checkScope(ctx context.Context, role election.Role, code string) (election.Scope, error) {
	if _, err := election.ParseRole(string(role)); err != nil {
		return election.Scope{}, syncproto.Errorf(syncproto.CodeBadRequest, "%v: want station, supervisor, county or observer", err)
	}
	if role == election.RoleCounty || role == election.RoleObserver {
		if code == "" {
			code = s.cfg.CountyCode
		}
		if code != s.cfg.CountyCode {
			return election.Scope{}, syncproto.Errorf(syncproto.CodeBadRequest, "%s scope %q: this server serves county %s", role, code, s.cfg.CountyCode)
		}
	}
	scope := election.Scope{Role: role, Code: code}
	if err := scope.Validate(); err != nil {
		return election.Scope{}, syncproto.Errorf(syncproto.CodeBadRequest, "%v", err)
	}
	coll := scopeCollection(role)
	if _, ok, err := s.store.Place(ctx, coll, code); err != nil {
		return election.Scope{}, fmt.Errorf("check scope: %w", err)
	} else if !ok {
		return election.Scope{}, syncproto.Errorf(syncproto.CodeBadRequest, "no %s %s in the reference data: check the code, or load the reference data first (villagesync admin seed)", coll, code)
	}
	return scope, nil
}

// CreateEnrollCode is IssueEnrollCode for the operator holding the data
// directory: it returns the printed code, shown once, and its expiry.
func (s *Service) CreateEnrollCode(ctx context.Context, role election.Role, scope string, ttl time.Duration) (code string, expires time.Time, err error) {
	ic, err := s.IssueEnrollCode(ctx, nil, role, scope, ttl)
	if err != nil {
		return "", time.Time{}, err
	}
	return ic.Code, ic.Expires, nil
}

// Enroll redeems an enrollment code for a device public key: the device is
// stored with the code's role and scope and the code is burnt. An unknown,
// reused or expired code is refused with CodeEnrollCodeInvalid and raises an
// alert for the county.
func (s *Service) Enroll(ctx context.Context, req syncproto.EnrollRequest) (*syncproto.EnrollResponse, error) {
	resp, err := s.enroll(ctx, req)
	result := resultOK
	if err != nil {
		result = string(syncproto.ErrorCode(err))
	}
	s.metrics.enrollments.WithLabelValues(result).Inc()
	return resp, err
}

func (s *Service) enroll(ctx context.Context, req syncproto.EnrollRequest) (*syncproto.EnrollResponse, error) {
	if len(req.PublicKey) != ed25519.PublicKeySize {
		return nil, syncproto.Errorf(syncproto.CodeBadRequest, "public_key is %d bytes: want a %d-byte Ed25519 public key", len(req.PublicKey), ed25519.PublicKeySize)
	}
	if len(req.Label) > maxLabelLen || !printableText(req.Label) {
		return nil, syncproto.Errorf(syncproto.CodeBadRequest, "label must be at most %d printable characters", maxLabelLen)
	}
	if reservedLabel(req.Label) {
		return nil, syncproto.Errorf(syncproto.CodeBadRequest, "label %q is reserved for the server's county authority: choose another", req.Label)
	}
	pub := ed25519.PublicKey(append([]byte(nil), req.PublicKey...))
	id := syncproto.DeviceID(pub)
	now := s.now()
	printed, ok := normalizeEnrollCode(req.Code)
	if !ok {
		return nil, s.refuseEnrollCode(ctx, AlertEnrollCodeInvalid, id, "malformed code",
			syncproto.Errorf(syncproto.CodeEnrollCodeInvalid, "enrollment code must be 16 characters like K7QW-3M9D-8HZT-0ANB: check it, or ask the county for a new one"))
	}
	hash := hashEnrollCode(printed)
	dev, err := s.store.RedeemEnrollCode(ctx, hash, Device{
		ID:        id,
		PublicKey: pub,
		Label:     req.Label,
		Enrolled:  now,
	}, now)
	switch {
	case isCode(err, syncproto.CodeEnrollCodeInvalid):
		kind, detail := s.classifyEnrollCode(ctx, hash, now)
		return nil, s.refuseEnrollCode(ctx, kind, id, detail, err)
	case err != nil:
		return nil, clientOrWrap(err, "redeem enrollment code")
	}
	keys, err := s.ServerKeys(ctx)
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "device enrolled", logDevice, dev.ID, logRole, string(dev.Role), logScope, dev.Scope)
	return &syncproto.EnrollResponse{
		Device:     dev.ID,
		Role:       string(dev.Role),
		Scope:      dev.Scope,
		ServerKeys: keys,
	}, nil
}

// classifyEnrollCode names the alert kind of a refused code and a detail
// that never contains the code itself.
func (s *Service) classifyEnrollCode(ctx context.Context, hash string, now time.Time) (kind, detail string) {
	ec, err := s.store.EnrollCode(ctx, hash)
	switch {
	case isCode(err, syncproto.CodeNotFound):
		return AlertEnrollCodeInvalid, "unknown code"
	case err != nil:
		s.log.ErrorContext(ctx, "look up enrollment code", logErr, err)
		return AlertEnrollCodeInvalid, "unknown, used or expired code"
	case ec.UsedBy != "":
		return AlertEnrollCodeReuse, fmt.Sprintf("code for %s %s already used by %s", ec.Role, ec.Scope, ec.UsedBy)
	case !now.Before(ec.Expires):
		return AlertEnrollCodeInvalid, fmt.Sprintf("code for %s %s expired at %s", ec.Role, ec.Scope, ec.Expires.UTC().Format(time.RFC3339))
	}
	return AlertEnrollCodeInvalid, fmt.Sprintf("code for %s %s refused", ec.Role, ec.Scope)
}

// refuseEnrollCode raises an alert and a warning for a refused enrollment
// code and returns refusal, the client's error. It never logs the code.
func (s *Service) refuseEnrollCode(ctx context.Context, kind, device, detail string, refusal error) error {
	s.log.WarnContext(ctx, "enrollment code refused", logKind, kind, logDevice, device, logDetail, detail)
	alert := Alert{Kind: kind, Device: device, Detail: detail, Created: s.now()}
	if err := s.store.AddAlert(ctx, alert); err != nil {
		return fmt.Errorf("enroll: add alert: %w", err)
	}
	return refusal
}

// reservedLabel reports whether a device label could pass for the server's
// county authority (AuthorityLabel in any case, with spaces around), which
// device lists and relays tell apart by it.
func reservedLabel(label string) bool {
	return strings.EqualFold(strings.TrimSpace(label), AuthorityLabel)
}

// printableText reports whether s is valid UTF-8 without control characters.
func printableText(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			return false
		}
	}
	return true
}

package server

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"villagesync/election"
	"villagesync/syncproto"
)

// Statuses of enrollment codes.
const (
	EnrollCodeActive  = "active"
	EnrollCodeUsed    = "used"
	EnrollCodeExpired = "expired"
)

// EnrollCodeInfo describes an enrollment code without the code itself,
// which only its creator sees, once.
type EnrollCodeInfo struct {
	ID        string        `json:"id"` // "EC-" and the first 12 hex digits of the code's hash
	Role      election.Role `json:"role"`
	Scope     string        `json:"scope"`
	Created   time.Time     `json:"created"`
	Expires   time.Time     `json:"expires"`
	Status    string        `json:"status"` // EnrollCodeActive, EnrollCodeUsed or EnrollCodeExpired
	UsedBy    string        `json:"used_by,omitempty"`
	UsedAt    time.Time     `json:"used_at,omitzero"`
	CreatedBy string        `json:"created_by"`
}

// IssuedEnrollCode is a new enrollment code: the code is shown once.
type IssuedEnrollCode struct {
	EnrollCodeInfo
	Code string `json:"code"`
}

// DeviceInfo describes an enrolled device for the county's device list.
type DeviceInfo struct {
	ID           string        `json:"id"`
	Role         election.Role `json:"role"`
	Scope        string        `json:"scope"`
	Label        string        `json:"label"`
	Enrolled     time.Time     `json:"enrolled"`
	Revoked      time.Time     `json:"revoked,omitzero"`
	RevokedAfter uint64        `json:"revoked_after,omitempty"`
	Head         uint64        `json:"head"` // the highest contiguous seq the server holds
}

// AdminStore is the storage behind enrollment-code, device and key
// administration.
type AdminStore interface {
	// EnrollCodes returns every enrollment code, newest first.
	EnrollCodes(ctx context.Context) ([]EnrollCode, error)
	// EnrollCodesByPrefix returns the enrollment codes whose hash starts
	// with prefix (lowercase hex), newest first.
	EnrollCodesByPrefix(ctx context.Context, prefix string) ([]EnrollCode, error)
	// ExpireEnrollCode makes an unused code expire at at, unless it expires
	// by then already, and returns it as stored. A used code is
	// CodeConflict, an unknown one CodeNotFound.
	ExpireEnrollCode(ctx context.Context, hash string, at time.Time) (EnrollCode, error)
	// Devices returns every enrolled device, the county authority's too,
	// with its contiguous head, read in one snapshot.
	Devices(ctx context.Context) ([]DeviceInfo, error)
	// RevokeDeviceOnce is Store.RevokeDevice that also reports whether this
	// call revoked the device: false if it already was, and nothing
	// changed.
	RevokeDeviceOnce(ctx context.Context, id string, now time.Time) (dev Device, revoked bool, err error)
	// RotateSigningKeys stores newKey as the active signing key and
	// retires at at every other active server key (not the county
	// authority's, AuthorityKeyPrefix), in one transaction. It returns the
	// key ids it retired.
	RotateSigningKeys(ctx context.Context, newKey SigningKey, at time.Time) (retired []string, err error)
}

// CreatedByCLI is the CreatedBy of the enrollment codes the operator holding
// the data directory issued (a nil actor).
const CreatedByCLI = "cli"

// enrollCodeIDPrefix starts every enrollment code id; 12 hex digits of the
// code's hash follow.
const (
	enrollCodeIDPrefix = "EC-"
	enrollCodeIDHex    = 12
)

// Attribute keys of administration log records.
const (
	logEnrollCodeID = "enroll_code" // an enrollment code's id, never the code
	logRetired      = "retired"     // the key ids a rotation retired
)

// actorName is who actor is in the records it leaves: its subject, or
// CreatedByCLI for the operator.
func actorName(actor *Principal) string {
	if actor == nil {
		return CreatedByCLI
	}
	return actor.Subject
}

// actorRole is actor's role after checking its scope, "" for an invalid
// one. A nil actor is the operator, who may do what the county does.
func actorRole(actor *Principal) election.Role {
	if actor == nil {
		return election.RoleCounty
	}
	if actor.Scope.Validate() != nil {
		return ""
	}
	return actor.Scope.Role
}

// inTownship reports whether a scope code (village, township or county)
// lies in township: the township itself or one of its villages.
func inTownship(code, township string) bool {
	return code == township || election.TownshipOf(code) == township
}

// canIssueEnrollCode checks that actor may issue (or expire) a code of role
// for scope: the county any; a supervisor station codes for the villages
// of its township; nobody else.
func canIssueEnrollCode(actor *Principal, role election.Role, scope string) error {
	switch actorRole(actor) {
	case election.RoleCounty:
		return nil
	case election.RoleSupervisor:
	default:
		return syncproto.Errorf(syncproto.CodeForbidden, "only the county and township supervisors manage enrollment codes")
	}
	if role != election.RoleStation {
		return syncproto.Errorf(syncproto.CodeForbidden, "a supervisor manages station codes only: ask the county for a %s code", role)
	}
	if election.TownshipOf(scope) != actor.Scope.Code {
		return syncproto.Errorf(syncproto.CodeOutOfScope, "village %q is not in your township %s: ask the county or its own supervisor", scope, actor.Scope.Code)
	}
	return nil
}

// enrollCodeListScope is which codes actor may list: all (township ""),
// those of one township, or none (CodeForbidden).
func enrollCodeListScope(actor *Principal) (township string, err error) {
	switch actorRole(actor) {
	case election.RoleCounty:
		return "", nil
	case election.RoleSupervisor:
		return actor.Scope.Code, nil
	}
	return "", syncproto.Errorf(syncproto.CodeForbidden, "only the county and township supervisors manage enrollment codes")
}

// enrollCodeID is the id a code is shown and named by.
func enrollCodeID(hash string) string {
	return enrollCodeIDPrefix + hash[:min(len(hash), enrollCodeIDHex)]
}

// parseEnrollCodeID returns the hash prefix an enrollment code id names.
func parseEnrollCodeID(id string) (string, bool) {
	hexPart, ok := strings.CutPrefix(id, enrollCodeIDPrefix)
	if !ok || len(hexPart) != enrollCodeIDHex {
		return "", false
	}
	hexPart = strings.ToLower(hexPart)
	if _, err := hex.DecodeString(hexPart); err != nil {
		return "", false
	}
	return hexPart, true
}

// enrollCodeInfo describes c as seen at now.
func enrollCodeInfo(c EnrollCode, now time.Time) EnrollCodeInfo {
	status := EnrollCodeActive
	switch {
	case c.UsedBy != "":
		status = EnrollCodeUsed
	case !now.Before(c.Expires):
		status = EnrollCodeExpired
	}
	return EnrollCodeInfo{
		ID:        enrollCodeID(c.Hash),
		Role:      c.Role,
		Scope:     c.Scope,
		Created:   c.Created,
		Expires:   c.Expires,
		Status:    status,
		UsedBy:    c.UsedBy,
		UsedAt:    c.UsedAt,
		CreatedBy: c.CreatedBy,
	}
}

// IssueEnrollCode creates a single-use enrollment code for one device of
// role in scope (a village, township or county code; "" means the county for
// county and observer), valid for ttl (0 = DefaultEnrollCodeTTL, at most
// MaxEnrollCodeTTL), on behalf of actor (nil: the operator holding the data
// directory). The county may issue any code; a supervisor station codes for
// the villages of its township only (another village is CodeOutOfScope,
// another role CodeForbidden); stations and observers none.
//
// Only the code's hash is stored: the printed code is in the result and
// nowhere else, and must be handed to the device's operator.
func (s *Service) IssueEnrollCode(ctx context.Context, actor *Principal, role election.Role, scope string, ttl time.Duration) (*IssuedEnrollCode, error) {
	if err := canIssueEnrollCode(actor, role, scope); err != nil {
		return nil, err
	}
	switch {
	case ttl == 0:
		ttl = DefaultEnrollCodeTTL
	case ttl < 0 || ttl > MaxEnrollCodeTTL:
		return nil, syncproto.Errorf(syncproto.CodeBadRequest, "enrollment code ttl %v: want between 0 and %v", ttl, MaxEnrollCodeTTL)
	}
	sc, err := s.checkScope(ctx, role, scope)
	if err != nil {
		return nil, err
	}
	var b [enrollCodeBits / 8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("issue enrollment code: %w", err)
	}
	code := formatEnrollCode(b)
	now := s.now()
	ec := EnrollCode{
		Hash:      hashEnrollCode(code),
		Role:      sc.Role,
		Scope:     sc.Code,
		Created:   now,
		Expires:   now.Add(ttl),
		CreatedBy: actorName(actor),
	}
	if err := s.store.CreateEnrollCode(ctx, ec); err != nil {
		return nil, fmt.Errorf("issue enrollment code: %w", err)
	}
	info := enrollCodeInfo(ec, now)
	s.log.InfoContext(ctx, "enrollment code created", logEnrollCodeID, info.ID, logRole, string(sc.Role), logScope, sc.Code,
		logExpires, ec.Expires, logSubject, ec.CreatedBy)
	return &IssuedEnrollCode{EnrollCodeInfo: info, Code: code}, nil
}

// EnrollCodes lists the enrollment codes actor may manage, newest first,
// without the codes themselves: every code for the county (or a nil
// actor), the codes whose scope lies in its township for a supervisor.
// Stations and observers are CodeForbidden.
func (s *Service) EnrollCodes(ctx context.Context, actor *Principal) ([]EnrollCodeInfo, error) {
	township, err := enrollCodeListScope(actor)
	if err != nil {
		return nil, err
	}
	codes, err := s.store.EnrollCodes(ctx)
	if err != nil {
		return nil, fmt.Errorf("list enrollment codes: %w", err)
	}
	now := s.now()
	out := make([]EnrollCodeInfo, 0, len(codes))
	for _, c := range codes {
		if township == "" || inTownship(c.Scope, township) {
			out = append(out, enrollCodeInfo(c, now))
		}
	}
	return out, nil
}

// ExpireEnrollCode makes the enrollment code named id ("EC-…", see
// EnrollCodeInfo) expire now, so that redeeming it is refused and raises an
// alert. actor needs the authority to issue that code. A used code is
// CodeConflict; an already expired one is returned as it is; an unknown id
// is CodeNotFound.
func (s *Service) ExpireEnrollCode(ctx context.Context, actor *Principal, id string) (EnrollCodeInfo, error) {
	if _, err := enrollCodeListScope(actor); err != nil {
		return EnrollCodeInfo{}, err
	}
	prefix, ok := parseEnrollCodeID(id)
	if !ok {
		return EnrollCodeInfo{}, syncproto.Errorf(syncproto.CodeBadRequest, "enrollment code id %q: want %s and %d hex digits, as the code list shows", id, enrollCodeIDPrefix, enrollCodeIDHex)
	}
	codes, err := s.store.EnrollCodesByPrefix(ctx, prefix)
	if err != nil {
		return EnrollCodeInfo{}, clientOrWrap(err, "expire enrollment code")
	}
	if len(codes) != 1 {
		// Two codes sharing 48 bits of hash are not told apart: neither
		// can be named.
		return EnrollCodeInfo{}, syncproto.Errorf(syncproto.CodeNotFound, "no enrollment code %s: check the id in the code list", id)
	}
	c := codes[0]
	if err := canIssueEnrollCode(actor, c.Role, c.Scope); err != nil {
		return EnrollCodeInfo{}, err
	}
	now := s.now()
	switch info := enrollCodeInfo(c, now); info.Status {
	case EnrollCodeUsed:
		return EnrollCodeInfo{}, syncproto.Errorf(syncproto.CodeConflict, "enrollment code %s was already used by device %s: revoke the device instead", info.ID, c.UsedBy)
	case EnrollCodeExpired:
		return info, nil
	}
	c, err = s.store.ExpireEnrollCode(ctx, c.Hash, now)
	if err != nil {
		return EnrollCodeInfo{}, clientOrWrap(err, "expire enrollment code")
	}
	info := enrollCodeInfo(c, now)
	s.log.InfoContext(ctx, "enrollment code expired", logEnrollCodeID, info.ID, logRole, string(c.Role), logScope, c.Scope,
		logSubject, actorName(actor))
	return info, nil
}

// authorityDevices returns the ids of the server's county authority
// devices: those whose key the store keeps as an AuthorityKeyPrefix key.
// The label AuthorityLabel alone proves nothing.
func (s *Service) authorityDevices(ctx context.Context) (map[string]bool, error) {
	keys, err := s.store.SigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("load authority keys: %w", err)
	}
	ids := make(map[string]bool, 1)
	for _, k := range keys {
		if strings.HasPrefix(k.KeyID, AuthorityKeyPrefix) && len(k.Private) == ed25519.PrivateKeySize {
			ids[syncproto.DeviceID(k.Private.Public().(ed25519.PublicKey))] = true
		}
	}
	return ids, nil
}

// Devices lists the enrolled devices actor may see, with how far the
// server holds their chains: every device for the county (or a nil actor),
// the devices of its township and of its villages for a supervisor. The
// server's own county authority is not listed. Stations and observers are
// CodeForbidden.
func (s *Service) Devices(ctx context.Context, actor *Principal) ([]DeviceInfo, error) {
	var township string
	switch actorRole(actor) {
	case election.RoleCounty:
	case election.RoleSupervisor:
		township = actor.Scope.Code
	default:
		return nil, syncproto.Errorf(syncproto.CodeForbidden, "only the county and township supervisors see the device list")
	}
	devs, err := s.store.Devices(ctx)
	if err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}
	authority, err := s.authorityDevices(ctx)
	if err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}
	out := make([]DeviceInfo, 0, len(devs))
	for _, d := range devs {
		if authority[d.ID] || township != "" && !inTownship(d.Scope, township) {
			continue
		}
		out = append(out, d)
	}
	return out, nil
}

// RevokeDevice revokes a device for actor, who must be the county (nil: the
// operator): its tokens stop working at once and it can get no new ones.
// The store records how far its chain had reached; later changes go to
// review. Revocation raises a device_revoked alert. A device already
// revoked is returned as it is, without a second alert; the server's
// county authority cannot be revoked (CodeForbidden); an unknown device is
// CodeNotFound.
func (s *Service) RevokeDevice(ctx context.Context, actor *Principal, id string) (DeviceInfo, error) {
	if actorRole(actor) != election.RoleCounty {
		return DeviceInfo{}, syncproto.Errorf(syncproto.CodeForbidden, "only the county revokes devices: ask the county")
	}
	if id == "" || len(id) > syncproto.MaxDeviceBytes {
		return DeviceInfo{}, syncproto.Errorf(syncproto.CodeBadRequest, "device id must be 1-%d characters", syncproto.MaxDeviceBytes)
	}
	dev, err := s.store.Device(ctx, id)
	if err != nil {
		return DeviceInfo{}, clientOrWrap(err, "revoke device")
	}
	authority, err := s.authorityDevices(ctx)
	if err != nil {
		return DeviceInfo{}, fmt.Errorf("revoke device: %w", err)
	}
	if authority[dev.ID] {
		return DeviceInfo{}, syncproto.Errorf(syncproto.CodeForbidden, "device %s is the server's own county authority: it cannot be revoked", dev.ID)
	}
	if dev.Revoked.IsZero() {
		now := s.now()
		var revoked bool
		dev, revoked, err = s.store.RevokeDeviceOnce(ctx, id, now)
		if err != nil {
			return DeviceInfo{}, clientOrWrap(err, "revoke device")
		}
		if revoked {
			s.log.WarnContext(ctx, "device revoked", logDevice, dev.ID, logRole, string(dev.Role), logScope, dev.Scope,
				logSeq, dev.RevokedAfter, logSubject, actorName(actor))
			alert := Alert{
				Kind:    "device_revoked",
				Device:  dev.ID,
				Detail:  fmt.Sprintf("revoked after seq %d", dev.RevokedAfter),
				Created: now,
			}
			if err := s.store.AddAlert(ctx, alert); err != nil {
				return DeviceInfo{}, fmt.Errorf("revoke device: add alert: %w", err)
			}
		}
	}
	head, err := s.store.Head(ctx, dev.ID)
	if err != nil {
		return DeviceInfo{}, fmt.Errorf("revoke device: %w", err)
	}
	return DeviceInfo{
		ID:           dev.ID,
		Role:         dev.Role,
		Scope:        dev.Scope,
		Label:        dev.Label,
		Enrolled:     dev.Enrolled,
		Revoked:      dev.Revoked,
		RevokedAfter: dev.RevokedAfter,
		Head:         head.Seq,
	}, nil
}

// Revoke is RevokeDevice for the operator holding the data directory.
func (s *Service) Revoke(ctx context.Context, device string) error {
	_, err := s.RevokeDevice(ctx, nil, device)
	return err
}

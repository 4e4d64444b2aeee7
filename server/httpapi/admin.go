package httpapi

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"villagesync/election"
	"villagesync/server"
	"villagesync/syncproto"
)

// enrollCodeRequest is the body of POST /v1/enroll-codes: what the new code
// is for. Who may issue it comes from the token alone.
type enrollCodeRequest struct {
	Role       string `json:"role"`
	Scope      string `json:"scope"`
	TTLSeconds int64  `json:"ttl_seconds"` // 0 = the default, 24 h
}

// enrollCodeList is the body of GET /v1/enroll-codes.
type enrollCodeList struct {
	Codes []server.EnrollCodeInfo `json:"codes"`
}

// deviceList is the body of GET /v1/devices.
type deviceList struct {
	Devices []server.DeviceInfo `json:"devices"`
}

func (a *api) issueEnrollCode(c echo.Context) error {
	var req enrollCodeRequest
	if err := a.decode(c, &req); err != nil {
		return err
	}
	role, err := election.ParseRole(req.Role)
	if err != nil {
		return syncproto.Errorf(syncproto.CodeBadRequest, "%v: want station, supervisor, county or observer", err)
	}
	if req.TTLSeconds < 0 || req.TTLSeconds > int64(server.MaxEnrollCodeTTL/time.Second) {
		return syncproto.Errorf(syncproto.CodeBadRequest, "ttl_seconds %d: want 0 (24 h) to %d", req.TTLSeconds, int64(server.MaxEnrollCodeTTL/time.Second))
	}
	code, err := a.svc.IssueEnrollCode(c.Request().Context(), principal(c), role, req.Scope, time.Duration(req.TTLSeconds)*time.Second)
	if err != nil {
		return err
	}
	return a.send(c, http.StatusCreated, code)
}

func (a *api) enrollCodes(c echo.Context) error {
	codes, err := a.svc.EnrollCodes(c.Request().Context(), principal(c))
	if err != nil {
		return err
	}
	return a.send(c, http.StatusOK, enrollCodeList{Codes: codes})
}

func (a *api) expireEnrollCode(c echo.Context) error {
	id, err := pathParam(c, "id")
	if err != nil {
		return err
	}
	info, err := a.svc.ExpireEnrollCode(c.Request().Context(), principal(c), id)
	if err != nil {
		return err
	}
	return a.send(c, http.StatusOK, info)
}

func (a *api) devices(c echo.Context) error {
	devs, err := a.svc.Devices(c.Request().Context(), principal(c))
	if err != nil {
		return err
	}
	return a.send(c, http.StatusOK, deviceList{Devices: devs})
}

func (a *api) revokeDevice(c echo.Context) error {
	id, err := pathParam(c, "id")
	if err != nil {
		return err
	}
	dev, err := a.svc.RevokeDevice(c.Request().Context(), principal(c), id)
	if err != nil {
		return err
	}
	return a.send(c, http.StatusOK, dev)
}

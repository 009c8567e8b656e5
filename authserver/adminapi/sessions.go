package adminapi

import (
	"net/http"

	"github.com/authserver-dev/authserver/authserver/admin"
)

type sessionList struct {
	Sessions []admin.Session `json:"sessions"`
}

type sessionsEnded struct {
	Ended int `json:"ended"`
}

type grantList struct {
	Grants []admin.Grant `json:"grants"`
}

func (h *Handler) listSessions(w http.ResponseWriter, r *http.Request) error {
	ss, err := h.svc.ListSessions(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, sessionList{Sessions: list(ss)})
	return nil
}

func (h *Handler) endSession(w http.ResponseWriter, r *http.Request) error {
	if err := h.svc.EndSession(r.Context(), r.PathValue("id"), r.PathValue("sid")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// endSessions ends every session of the user and says how many.
func (h *Handler) endSessions(w http.ResponseWriter, r *http.Request) error {
	n, err := h.svc.EndSessions(r.Context(), r.PathValue("id"), "")
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, sessionsEnded{Ended: n})
	return nil
}

func (h *Handler) listGrants(w http.ResponseWriter, r *http.Request) error {
	gs, err := h.svc.ListGrants(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	for i := range gs {
		gs[i].Scopes = list(gs[i].Scopes)
	}
	writeJSON(w, http.StatusOK, grantList{Grants: list(gs)})
	return nil
}

func (h *Handler) revokeGrant(w http.ResponseWriter, r *http.Request) error {
	if err := h.svc.RevokeGrant(r.Context(), r.PathValue("id"), r.PathValue("client_id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

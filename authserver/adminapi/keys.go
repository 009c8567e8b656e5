package adminapi

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/authserver-dev/authserver/authserver/admin"
)

type keyList struct {
	Keys []admin.Key `json:"keys"`
}

type registrationTokenList struct {
	RegistrationTokens []admin.RegistrationToken `json:"registration_tokens"`
}

// registrationTokenInput is the body of POST /registration-tokens; every
// field has a default.
type registrationTokenInput struct {
	// TTL is a Go duration ("24h", "90m"); default defaultTokenTTL.
	TTL string `json:"ttl"`
	// Uses is how many registrations it allows; default 1.
	Uses        int    `json:"uses"`
	Description string `json:"description"`
}

// registrationTokenCreated is the answer to POST /registration-tokens,
// with the token itself, shown this once (only its hash is kept).
type registrationTokenCreated struct {
	admin.RegistrationToken
	Token string `json:"token"`
}

// defaultTokenTTL is the life of a registration token made without ttl:
// long enough to hand it to whoever registers, short enough not to linger.
const defaultTokenTTL = 24 * time.Hour

func (h *Handler) listKeys(w http.ResponseWriter, r *http.Request) error {
	ks, err := h.svc.ListKeys(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, keyList{Keys: list(ks)})
	return nil
}

// rotateKeys is POST /keys/rotate[?force=true]: one step of the rotation.
// Promoting a key before its publish lead has passed is 409 without force
// (the service says why); with force the answer's warning says what relying
// parties may see.
func (h *Handler) rotateKeys(w http.ResponseWriter, r *http.Request) error {
	force := false
	if q := r.URL.Query(); q.Has("force") {
		var err error
		if force, err = strconv.ParseBool(q.Get("force")); err != nil {
			p := newProblem(http.StatusBadRequest, TypeInvalid, "force must be true or false")
			p.Errors = []FieldError{{Field: "force", Message: "must be true or false"}}
			return p
		}
	}
	rot, err := h.svc.RotateKeys(r.Context(), force)
	if err != nil {
		return err
	}
	rot.Before, rot.After = list(rot.Before), list(rot.After)
	rot.Created, rot.Promoted, rot.Retired = list(rot.Created), list(rot.Promoted), list(rot.Retired)
	writeJSON(w, http.StatusOK, rot)
	return nil
}

func (h *Handler) listRegistrationTokens(w http.ResponseWriter, r *http.Request) error {
	ts, err := h.svc.ListRegistrationTokens(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, registrationTokenList{RegistrationTokens: list(ts)})
	return nil
}

func (h *Handler) createRegistrationToken(w http.ResponseWriter, r *http.Request) error {
	in := registrationTokenInput{Uses: 1}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	ttl := defaultTokenTTL
	if in.TTL != "" {
		var err error
		if ttl, err = time.ParseDuration(in.TTL); err != nil {
			p := newProblem(http.StatusBadRequest, TypeInvalid, "the request breaks a rule")
			p.Errors = []FieldError{{Field: "ttl", Message: "must be a duration such as 24h or 90m"}}
			return p
		}
	}
	token, rt, err := h.svc.CreateRegistrationToken(r.Context(), ttl, in.Uses, in.Description)
	if err != nil {
		return err
	}
	w.Header().Set("Location", Prefix+"registration-tokens/"+url.PathEscape(rt.ID))
	writeJSON(w, http.StatusCreated, registrationTokenCreated{RegistrationToken: rt, Token: token})
	return nil
}

func (h *Handler) deleteRegistrationToken(w http.ResponseWriter, r *http.Request) error {
	if err := h.svc.DeleteRegistrationToken(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

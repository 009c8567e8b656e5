package adminapi

import (
	"net/http"
	"net/url"

	"github.com/authserver-dev/authserver/authserver/admin"
	"github.com/authserver-dev/authserver/config"
)

// userInput is the body of POST /users: the fields of a users entry of the
// configuration file, the password in the clear (hashed by the service,
// never stored or logged). The id (sub) is generated.
type userInput struct {
	Username      string            `json:"username"`
	Email         string            `json:"email"`
	EmailVerified bool              `json:"email_verified"`
	Name          string            `json:"name"`
	Claims        config.UserClaims `json:"claims"`
	RequireMFA    bool              `json:"require_mfa"`
	Password      string            `json:"password"`
}

type userList struct {
	Users []admin.User `json:"users"`
}

// passwordInput is the body of PUT /users/{id}/password.
type passwordInput struct {
	Password string `json:"password"`
}

// listUsers lists every user, or with ?username= the one with that
// username (none is an empty list, not 404: it is a search).
func (h *Handler) listUsers(w http.ResponseWriter, r *http.Request) error {
	var users []admin.User
	if q := r.URL.Query(); q.Has("username") {
		u, err := h.svc.UserByUsername(r.Context(), q.Get("username"))
		switch {
		case err == nil:
			users = []admin.User{u}
		case admin.KindOf(err) != admin.KindNotFound:
			return err
		}
	} else {
		var err error
		if users, err = h.svc.ListUsers(r.Context()); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, userList{Users: list(users)})
	return nil
}

func (h *Handler) createUser(w http.ResponseWriter, r *http.Request) error {
	var in userInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	u, err := h.svc.CreateUser(r.Context(), admin.NewUser{
		User: admin.User{Username: in.Username, Email: in.Email, EmailVerified: in.EmailVerified, Name: in.Name, Claims: in.Claims,
			RequireMFA: in.RequireMFA},
		Password: in.Password,
	})
	if err != nil {
		return err
	}
	w.Header().Set("Location", Prefix+"users/"+url.PathEscape(u.ID))
	writeJSON(w, http.StatusCreated, u)
	return nil
}

func (h *Handler) getUser(w http.ResponseWriter, r *http.Request) error {
	u, err := h.svc.GetUser(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}

func (h *Handler) updateUser(w http.ResponseWriter, r *http.Request) error {
	var p admin.UserPatch
	if err := decode(w, r, &p); err != nil {
		return err
	}
	u, err := h.svc.UpdateUser(r.Context(), r.PathValue("id"), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}

func (h *Handler) deleteUser(w http.ResponseWriter, r *http.Request) error {
	if err := h.svc.DeleteUser(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) setPassword(w http.ResponseWriter, r *http.Request) error {
	var in passwordInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if err := h.svc.SetPassword(r.Context(), r.PathValue("id"), in.Password); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// setDisabled is POST /users/{id}/disable and /enable. They are
// operations of their own, not a PATCH field, because disabling does more
// than change a field: it ends the user's sessions and revokes their
// grants, and a PATCH that also changed other fields could not do both or
// neither. The answer is the user as it now is.
func (h *Handler) setDisabled(disabled bool) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		id := r.PathValue("id")
		if err := h.svc.SetDisabled(r.Context(), id, disabled); err != nil {
			return err
		}
		u, err := h.svc.GetUser(r.Context(), id)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, u)
		return nil
	}
}

package adminapi

import "net/http"

// A user's second factors are sub-resources of the user. Removing one, or
// resetting them all, ends the user's sessions (see admin.RemovePasskey):
// an operation of its own, not a PATCH of the user. Factors of file-owned
// users are served too: the file declares users, not their factors.

func (h *Handler) listFactors(w http.ResponseWriter, r *http.Request) error {
	f, err := h.svc.ListFactors(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, f)
	return nil
}

func (h *Handler) removePasskey(w http.ResponseWriter, r *http.Request) error {
	if err := h.svc.RemovePasskey(r.Context(), r.PathValue("id"), r.PathValue("pid")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) removeTOTP(w http.ResponseWriter, r *http.Request) error {
	if err := h.svc.RemoveTOTP(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// resetFactors is POST, not DELETE /factors: it does more than delete a
// resource (it ends the sessions), and it answers the factors as they now
// are, for the caller to see that nothing is left.
func (h *Handler) resetFactors(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := h.svc.ResetFactors(r.Context(), id); err != nil {
		return err
	}
	f, err := h.svc.ListFactors(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, f)
	return nil
}

package authserver

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/authserver-dev/authserver/authserver/mfa"
	"github.com/authserver-dev/authserver/authserver/storage"
)

// This file decides how strong a sign-in an authorization request needs
// (acr_values, the claims parameter's essential acr, the client's
// default_acr_values and require_mfa, the user's require_mfa) and whether
// the browser's session is strong enough, and records what a sign-in proved
// (amr, RFC 8176) so that every token of the session says so.

// sessionAMR is what the session's sign-in proved. A session from before
// amr was recorded (migration 0008) was a password sign-in.
func sessionAMR(sess *storage.Session) []string {
	if sess == nil {
		return nil
	}
	return amrOrPassword(sess.AMR)
}

// amrOrPassword is a stored amr, read as ["pwd"] when empty: codes and
// refresh tokens from before 0008 came from password sign-ins.
func amrOrPassword(amr []string) []string {
	if len(amr) == 0 {
		return []string{mfa.AMRPassword}
	}
	return amr
}

// amrOrder is the order amr values are listed in (mfa.AMRFor's).
var amrOrder = []string{mfa.AMRPassword, mfa.AMROTP, mfa.AMRHardwareKey, mfa.AMRSoftwareKey, mfa.AMRUser, mfa.AMRMFA}

// steppedUpAMR is the amr of a session that proved before and then passed
// a second step with factor: the union, with mfa once two factors are
// proved. A step-up keeps what the earlier sign-in showed.
func steppedUpAMR(before []string, factor mfa.Factor) []string {
	have := map[string]bool{}
	for _, v := range before {
		have[v] = true
	}
	for _, v := range mfa.AMRFor(have[mfa.AMRPassword], factor) {
		have[v] = true
	}
	var out []string
	for _, v := range amrOrder {
		if have[v] {
			out = append(out, v)
		}
	}
	return out
}

// acrDemand is how strong a sign-in a request needs. want is asked for
// (acr_values, else the client's default_acr_values; voluntary, OIDC Core
// §3.1.2.1): a session below it is stepped up when the user has a factor
// that reaches it, and otherwise goes on with what it has, its acr saying
// so. need is required: an essential acr (§5.5.1.1) or require_mfa of the
// client or the user; a session below it never gets a code. Either is ""
// for no demand.
type acrDemand struct {
	want, need string
	// essential: need comes from an essential acr claim, whose failure is
	// unmet_authentication_requirements (OpenID Connect Core Error Code
	// unmet_authentication_requirements 1.0); otherwise require_mfa, which the user can
	// meet by enrolling a factor.
	essential bool
}

// demandOf is what req asks of user's sign-in.
func demandOf(req *authzRequest, user storage.User) acrDemand {
	var d acrDemand
	values := req.acrValues
	if len(values) == 0 {
		values = req.client.DefaultACRValues
	}
	d.want = weakestKnown(values)
	if v := req.claims.essentialACR(); len(v) > 0 {
		d.need, d.essential = weakestKnown(v), true
	}
	if (req.client.RequireMFA || user.RequireMFA) && !mfa.Satisfies(d.need, mfa.ACRMFA) {
		d.need, d.essential = mfa.ACRMFA, false
	}
	if mfa.Satisfies(d.need, d.want) {
		d.want = "" // need covers it
	}
	return d
}

// weakestKnown is the weakest acr of values this server knows: the request
// is met by any of them. Unknown values are ignored; "" when none is known.
func weakestKnown(values []string) string {
	for _, v := range mfa.ACRValues() {
		if slices.Contains(values, v) {
			return v
		}
	}
	return ""
}

// parseACRValues reads acr_values: space-separated, in order of preference
// (OIDC Core §3.1.2.1).
func parseACRValues(raw string) []string { return strings.Fields(raw) }

// factors are the second factors a user can use at sign-in: confirmed
// ones only (an unconfirmed TOTP enrolment does not count).
type factors struct {
	passkeys []storage.WebAuthnCredential
	totp     *storage.TOTP
	recovery int // unspent recovery codes
}

// any reports whether the user has a second factor at all.
func (f factors) any() bool { return len(f.passkeys) > 0 || f.totp != nil || f.recovery > 0 }

// reaches reports whether a second step with one of the factors, after a
// session with amr before, would meet level: a passkey meets every level,
// a TOTP or recovery code after a password meets mfa.
func (f factors) reaches(before []string, level string) bool {
	if level == "" {
		return true
	}
	if len(f.passkeys) > 0 && mfa.Satisfies(mfa.ACRFor(steppedUpAMR(before, mfa.FactorHardwarePasskey)), level) {
		return true
	}
	otp := f.totp != nil || f.recovery > 0
	return otp && mfa.Satisfies(mfa.ACRFor(steppedUpAMR(before, mfa.FactorTOTP)), level)
}

// userFactors reads the user's usable second factors.
func (s *Server) userFactors(ctx context.Context, userID string) (factors, error) {
	var f factors
	var err error
	if f.passkeys, err = s.store.ListWebAuthnCredentials(ctx, userID); err != nil {
		return factors{}, err
	}
	t, err := s.store.GetTOTP(ctx, userID)
	switch {
	case err == nil && !t.ConfirmedAt.IsZero():
		f.totp = &t
	case err != nil && !errors.Is(err, storage.ErrNotFound):
		return factors{}, err
	}
	if f.recovery, err = s.store.CountRecoveryCodes(ctx, userID); err != nil {
		return factors{}, err
	}
	return f, nil
}

// What continueAuthorize does about a session's strength.
type strengthVerdict int

const (
	// strongEnough: go on to consent and the code.
	strongEnough strengthVerdict = iota
	// stepUp: ask for a second step now (the user has a factor that
	// meets the demand), then come back.
	stepUp
	// enrolFirst: require_mfa, and the user has no factor that meets it:
	// a page sends them to /account to enrol one.
	enrolFirst
	// cannotMeet: an essential acr no factor of the user meets
	// (unmet_authentication_requirements).
	cannotMeet
)

// strength is sessionStrength's answer: the verdict, the demand, and for
// a session that falls short its user and their factors (for the
// second-step page).
type strength struct {
	verdict strengthVerdict
	demand  acrDemand
	user    storage.User
	factors factors
}

// sessionStrength decides, for a signed-in session, whether it meets what
// req demands. It reads the user (for require_mfa) and, only when the
// session falls short, the user's factors.
func (s *Server) sessionStrength(ctx context.Context, req *authzRequest, sess *storage.Session) (strength, error) {
	amr := sessionAMR(sess)
	have := mfa.ACRFor(amr)
	if have == mfa.ACRPhishingResistant {
		return strength{verdict: strongEnough}, nil // nothing is stronger
	}
	user, err := s.store.GetUser(ctx, sess.UserID)
	if err != nil {
		return strength{}, err
	}
	st := strength{demand: demandOf(req, user), user: user}
	d := &st.demand
	needMet := d.need == "" || mfa.Satisfies(have, d.need)
	wantMet := d.want == "" || mfa.Satisfies(have, d.want)
	if needMet && wantMet {
		return st, nil
	}
	if st.factors, err = s.userFactors(ctx, sess.UserID); err != nil {
		return strength{}, err
	}
	f := st.factors
	switch {
	case !needMet && f.reaches(amr, d.need):
		if !f.reaches(amr, d.want) {
			d.want = "" // voluntary, and no factor of the user meets it
		}
		st.verdict = stepUp
	case !needMet && d.essential:
		st.verdict = cannotMeet
	case !needMet:
		st.verdict = enrolFirst
	case f.reaches(amr, d.want):
		st.verdict = stepUp
	default:
		st.verdict = strongEnough // voluntary, and out of the user's reach
	}
	return st, nil
}

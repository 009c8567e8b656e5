package observe

import (
	"context"
	"io"
	"log/slog"
	"strings"
)

// LevelAudit is the fixed level of audit events: above every level an
// operator can configure, so log.level never hides a security event.
const LevelAudit = slog.Level(12)

// NewLogger builds the process logger: format is "text" or "json", level one
// of debug, info, warn, error (config validates both; anything else means
// text and info). Audit events print with level AUDIT.
func NewLogger(w io.Writer, format, level string) *slog.Logger {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		lv = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{
		Level: lv,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.LevelKey {
				if l, ok := a.Value.Any().(slog.Level); ok && l == LevelAudit {
					a.Value = slog.StringValue("AUDIT")
				}
			}
			return a
		},
	}
	var h slog.Handler
	if strings.EqualFold(format, "json") {
		h = slog.NewJSONHandler(w, opts)
	} else {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(contextHandler{h})
}

// WithRequestContext returns log with the request id added to every line
// logged with a request's context (the ...Context methods, LogAttrs). The
// server wraps whatever logger it is given, so a handler never has to add
// the id itself. Wrapping twice is harmless.
func WithRequestContext(log *slog.Logger) *slog.Logger {
	if _, ok := log.Handler().(contextHandler); ok {
		return log
	}
	return slog.New(contextHandler{log.Handler()})
}

// contextHandler adds request_id from the context to each record. It must
// stay a thin wrapper: Enabled and the level are the inner handler's.
type contextHandler struct{ slog.Handler }

func (h contextHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h contextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return contextHandler{h.Handler.WithAttrs(attrs)}
}

func (h contextHandler) WithGroup(name string) slog.Handler {
	return contextHandler{h.Handler.WithGroup(name)}
}

// Audit records one security event. event must be one of the Event*
// constants; attrs are typed attributes and must never carry a secret
// (password, token, code, client secret).
//
// The client IP of the request in ctx is added to every event, so that no
// call site can forget it.
func Audit(ctx context.Context, log *slog.Logger, event string, attrs ...slog.Attr) {
	all := make([]slog.Attr, 0, len(attrs)+2)
	all = append(all, slog.String("event", event))
	all = append(all, attrs...)
	if ip := ClientIP(ctx); ip.IsValid() {
		all = append(all, slog.String("client_ip", ip.String()))
	}
	log.LogAttrs(ctx, LevelAudit, event, all...)
}

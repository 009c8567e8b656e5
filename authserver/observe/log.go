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
	return slog.New(h)
}

// Audit records one security event. event must be one of the Event*
// constants; attrs are typed attributes and must never carry a secret
// (password, token, code, client secret).
func Audit(ctx context.Context, log *slog.Logger, event string, attrs ...slog.Attr) {
	log.LogAttrs(ctx, LevelAudit, event, append([]slog.Attr{slog.String("event", event)}, attrs...)...)
}

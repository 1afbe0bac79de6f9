package app

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/workflow-backend/workflow-backend/internal/config"
)

// codecOrigins are the origins allowed to call the codec endpoints from a
// browser: CODEC_CORS_ORIGINS, else the origin of TEMPORAL_UI_URL; dev
// mode adds both loopback spellings of its own UI.
func codecOrigins(cfg config.Config, dev bool) []string {
	origins := append([]string(nil), cfg.CodecCORSOrigins...)
	if len(origins) == 0 && cfg.TemporalUIURL != "" {
		if u, err := url.Parse(cfg.TemporalUIURL); err == nil && u.Scheme != "" && u.Host != "" {
			origins = append(origins, u.Scheme+"://"+u.Host)
		}
	}
	if dev {
		for _, host := range []string{"127.0.0.1", "localhost"} {
			o := fmt.Sprintf("http://%s:%d", host, cfg.TemporalUIPort)
			if !slices.Contains(origins, o) {
				origins = append(origins, o)
			}
		}
	}
	for i, o := range origins {
		origins[i] = strings.TrimRight(o, "/")
	}
	return origins
}

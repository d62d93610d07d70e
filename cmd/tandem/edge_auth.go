package main

import (
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/auth"
)

// adminTokenCheck returns the controller's check of an operator's token. The
// controller keeps no users: it accepts an admin's access or ID token signed
// by a key in some region's JWKS, fetched from the regions the snapshot
// names, cached, and fetched again for a key ID it does not know.
func adminTokenCheck(snapshot func() tandem.Snapshot, logger *slog.Logger) func(token string) error {
	keys := &auth.RemoteKeySet{
		URLs: func() []string {
			var urls []string
			for _, r := range snapshot().Regions {
				urls = append(urls, strings.TrimRight(r.URL, "/")+auth.JWKSPath)
			}
			return urls
		},
		Client: &http.Client{Timeout: 2 * time.Second},
		Logger: logger,
	}
	v := &auth.Verifier{Keys: keys.Lookup, Issuer: auth.DefaultIssuer, Audience: auth.DefaultAudience, Leeway: auth.DefaultLeeway}
	return func(token string) error {
		c, err := v.Verify(token)
		if err != nil {
			return err
		}
		if !c.IsAPIToken() {
			return tandem.Errorf(tandem.EUNAUTHORIZED, "invalid token")
		}
		return auth.RequireRole(c, auth.RoleAdmin)
	}
}
